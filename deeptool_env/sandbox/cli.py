"""`deeptool-sandbox`: try the sandbox, run code in it, build the Docker image."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import BACKENDS, create

DEMO_TURNS = (
    ("define a quantity", "n = 2**127 - 1\nn"),
    ("state persists: use it with the preloaded sympy", "import sympy\nsympy.isprime(n)"),
    ("compute something a model cannot do by hand",
     "sum(sympy.totient(k) for k in range(1, 2001))"),
    ("an error keeps the session", "1 / (n - n)"),
    ("a runaway loop is stopped", "while True:\n    pass"),
    ("the next turn runs in a fresh interpreter", "'n' in globals()"),
)

EPILOG = """examples:
  deeptool-sandbox demo                      a short multi-turn episode (the default job)
  deeptool-sandbox run -c "import sympy; sympy.factorint(2**64 - 1)"
  deeptool-sandbox run script.py --backend docker --timeout 5 --json
  deeptool-sandbox check                     which backends work on this machine
  deeptool-sandbox build-image               build the docker backend's image offline
"""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default="local",
                        help="isolation backend (default: local, Linux namespaces)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="wall-clock limit per cell in seconds (default: 10)")
    parser.add_argument("--memory-mb", type=int, default=1024,
                        help="memory a cell may allocate, in MiB (default: 1024)")


def _print_result(title: str, code: str, result) -> None:
    print(f"\n## {title}\n>>> " + code.replace("\n", "\n... "))
    if result.stdout:
        print(result.stdout, end="" if result.stdout.endswith("\n") else "\n")
    if result.stderr:
        print(result.stderr.rstrip())
    print(f"[status={result.status} wall={result.wall_ms:.1f} ms]")


def cmd_demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with create(args.backend, timeout_s=args.timeout, memory_mb=args.memory_mb) as box:
        print(f"sandbox '{args.backend}' ready in {1000 * (time.perf_counter() - started):.0f} ms"
              " (numpy and sympy preloaded)")
        with box.session() as session:
            for title, code in DEMO_TURNS:
                timeout = 1.0 if "while True" in code else None
                _print_result(title, code, session.run(code, timeout_s=timeout))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if args.code is None and args.file is None:
        print("error: give code with -c CODE or a file path", file=sys.stderr)
        return 2
    code = args.code if args.code is not None else open(args.file, encoding="utf-8").read()
    with create(args.backend, timeout_s=args.timeout, memory_mb=args.memory_mb) as box:
        result = box.run(code)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
    return 0 if result.ok else 1


def cmd_check(args: argparse.Namespace) -> int:
    from .local import local_backend_available

    ok, reason = local_backend_available()
    print(f"local:      {'available' if ok else 'unavailable: ' + reason}")
    try:
        from .docker_backend import docker_available

        ok_docker, reason_docker = docker_available()
    except ImportError as exc:
        ok_docker, reason_docker = False, str(exc)
    print(f"docker:     {'available' if ok_docker else 'unavailable: ' + reason_docker}")
    print("subprocess: available (weaker: host files and network visible)")
    from . import cgroups
    from .seccomp_filter import compile_filter

    print(f"cgroups:    {cgroups.detect().describe()}")
    try:
        program = compile_filter()
        print(f"seccomp:    filter of {len(program) // 8} BPF instructions for this machine")
    except RuntimeError as exc:
        print(f"seccomp:    unavailable: {exc}")
    return 0 if ok or ok_docker else 1


def cmd_build_image(args: argparse.Namespace) -> int:
    from .docker_image import build_image

    built = build_image(tag=args.tag)
    print(f"built {built['tag']} ({built['size_mb']:.0f} MB) in {built['seconds']:.0f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeptool-sandbox", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run Python the way DeepTool's environment runs the model's code: "
                    "isolated, stateful across cells, with limits.", epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run a short multi-turn demo episode")
    _add_common(demo)
    demo.set_defaults(func=cmd_demo)
    run = commands.add_parser("run", help="run code (a file or -c CODE) in a fresh session")
    run.add_argument("file", nargs="?", help="Python file to run")
    run.add_argument("-c", "--code", help="code to run instead of a file")
    run.add_argument("--json", action="store_true", help="print the ExecResult as JSON")
    _add_common(run)
    run.set_defaults(func=cmd_run)
    check = commands.add_parser("check", help="report which backends work here")
    check.set_defaults(func=cmd_check)
    image = commands.add_parser("build-image", help="build the docker backend's image offline")
    image.add_argument("--tag", default="deeptool-sandbox:latest", help="image tag")
    image.set_defaults(func=cmd_build_image)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
