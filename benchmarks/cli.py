"""`deeptool-bench`: evaluate an agent on the math benchmarks, and report the results."""

from __future__ import annotations

import argparse
import sys

EPILOG = """examples:
  deeptool-bench run --agent hf --limit 2 --k 1 --max-new-tokens 256 --out results/demo
      the embedded SmolLM2-135M (no download; weak at maths) on 2 problems of each
      benchmark, or on generated problems when no data directory is set
  deeptool-bench run --agent openai --model Qwen/Qwen2.5-7B-Instruct \\
      --base-url http://127.0.0.1:8000/v1 --k 8 --out results/qwen7b
      any OpenAI-compatible server (vllm serve, SGLang, llama.cpp); the six benchmarks
  deeptool-bench run --agent mypkg.agents:MyAgent --benchmarks aime24 --k 4 --out r/
  deeptool-bench report results/qwen7b [--compare results/qwen7b-perturbed]

A rerun with the same --out resumes: finished samples are kept and never redone.
Benchmark data is read from --data-dir or $DEEPTOOL_DATA_DIR.
"""


def _benchmarks(spec: str, data_dir: str | None) -> tuple[str, ...]:
    """`auto` is the six benchmarks when their data can be found, else generated problems."""
    import os

    from .runner import SIX_BENCHMARKS

    if spec != "auto":
        return tuple(b.strip() for b in spec.split(",") if b.strip())
    if data_dir or os.environ.get("DEEPTOOL_DATA_DIR"):
        return SIX_BENCHMARKS
    return ("procedural",)


def _run(args: argparse.Namespace) -> int:
    from .agent_spec import agent_factory
    from .runner import RunConfig, evaluate

    factory = agent_factory(args.agent, model=args.model, temperature=args.temperature,
                            top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                            seed=args.seed, base_url=args.base_url)
    config = RunConfig(
        out=args.out, benchmarks=_benchmarks(args.benchmarks, args.data_dir),
        k=args.k, max_turns=args.max_turns, perturbation=args.perturbation, limit=args.limit,
        seed=args.seed, concurrency=args.concurrency, data_dir=args.data_dir,
        sandbox=args.sandbox, model=args.model, agent=args.agent,
        temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
        ray_address=args.ray_address, progress=not args.quiet)
    try:
        result = evaluate(factory if args.ray_address else factory(), config)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished samples are in {args.out}; rerun to resume",
              file=sys.stderr)
        return 130
    summary = result.summary()
    for name, bench in summary.benchmarks.items():
        print(f"{name:>16}: avg@{bench.k} = {bench.avg_at_k:.3f}  "
              f"({bench.n_problems} problems)")
    print(f"results in {result.out}; `deeptool-bench report {result.out}` writes a report")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import write_report

    paths = write_report(args.results, args.out, compare_dir=args.compare)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeptool-bench", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Evaluate tool-integrated math reasoning on AIME24, AIME25, HMMT25, "
                    "AMC23, MATH-500 and OlympiadBench (or generated problems).",
        epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="evaluate an agent (resumable)",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    run.add_argument("--agent", default="hf", help="openai, hf, vllm, or module:Class")
    run.add_argument("--model", help="model name/path (hf default: embedded SmolLM2-135M)")
    run.add_argument("--base-url", help="OpenAI-compatible server URL (openai agent)")
    run.add_argument("--benchmarks", default="auto",
                     help="comma-separated names (aime24,aime25,hmmt25,amc23,math500,"
                          "olympiadbench), 'procedural', or 'auto': the six when a data "
                          "directory is given or in $DEEPTOOL_DATA_DIR, else 'procedural'")
    run.add_argument("--k", type=int, default=8, help="samples per problem (avg@k, pass@k)")
    run.add_argument("--limit", type=int, help="only the first N problems of each benchmark")
    run.add_argument("--temperature", type=float, default=0.6)
    run.add_argument("--top-p", type=float, default=0.95)
    run.add_argument("--max-new-tokens", type=int, default=2048, help="per assistant turn")
    run.add_argument("--max-turns", type=int, default=8)
    run.add_argument("--perturbation", default="none",
                     help="none, light, adversarial (robustness runs)")
    run.add_argument("--concurrency", type=int, default=8, help="episodes in flight")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--data-dir", help="benchmark data (default $DEEPTOOL_DATA_DIR)")
    run.add_argument("--sandbox", default="local", help="local, docker or subprocess")
    run.add_argument("--ray-address", help="run on a Ray cluster ('local' starts one)")
    run.add_argument("--out", default="results", help="results directory (resumable)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    report = commands.add_parser("report", help="write report.md and report.html")
    report.add_argument("results", help="results directory of a run")
    report.add_argument("--out", help="where to write (default: the results directory)")
    report.add_argument("--compare", help="a perturbed run of the same agent: robustness")
    report.set_defaults(func=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        parser.exit(2, f"deeptool-bench: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
