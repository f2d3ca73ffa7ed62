"""A grading worker process: `python -m deeptool_env.grading.worker [--memory-mb N]`.

Reads one JSON request per line on stdin, answers one JSON line on its protocol pipe (the
original stdout; stray prints from libraries are sent to stderr instead). It announces
`{"ready": pid}` once imports are done. math-verify runs on this process's main thread, so its
`signal.alarm` timeouts work; the parent pool kills the process if an item overruns anyway.

Request: {"id", "gold", "pred", "opts": GradeOptions fields, "mv_timeout": int | null}, both
answers already normalized. Reply: {"id", "correct", "reason", "explanation"}.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
from functools import partial
from typing import Any, BinaryIO


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the thread that started it goes away."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _limit_memory(megabytes: int) -> None:
    """Cap the address space so a runaway expression raises MemoryError instead of OOM."""
    try:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _protocol_pipe() -> BinaryIO:
    """Keep the real stdout for replies and point fd 1 at stderr for everything else."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def _handle(request: dict[str, Any]) -> dict[str, Any]:
    from math_verify.errors import TimeoutException

    from .compare import compare
    from .options import GradeOptions
    from .symbolic import deep_compare

    opts = GradeOptions(**request.get("opts", {}))
    deep = partial(deep_compare, mv_timeout=request.get("mv_timeout", 3))
    try:
        out = compare(request["gold"], request["pred"], opts, deep)
    except TimeoutException:  # a BaseException; math-verify normally catches it itself
        return {"correct": False, "reason": "timeout", "explanation": "math-verify timeout"}
    except MemoryError:
        return {"correct": False, "reason": "parse_error", "explanation": "out of memory"}
    except RecursionError:
        return {"correct": False, "reason": "parse_error", "explanation": "expression too deep"}
    except Exception as exc:  # a grader bug must not take the worker down
        msg = f"grader error: {type(exc).__name__}: {exc}"[:300]
        return {"correct": False, "reason": "parse_error", "explanation": msg}
    if out is None:  # cannot happen with `deep` given; kept as a safe answer
        return {"correct": False, "reason": "parse_error", "explanation": "undecided"}
    return {"correct": out.correct, "reason": out.reason, "explanation": out.explanation}


def main(argv: list[str] | None = None) -> None:
    """Serve grading requests until stdin closes."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--memory-mb", type=int, default=0)
    opts = args.parse_args(argv)
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    sys.set_int_max_str_digits(0)
    if opts.memory_mb > 0:
        _limit_memory(opts.memory_mb)
    out = _protocol_pipe()
    from .symbolic import install_timeout_probe

    install_timeout_probe()
    out.write(json.dumps({"ready": os.getpid()}).encode() + b"\n")
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        reply = _handle(request)
        reply["id"] = request["id"]
        out.write(json.dumps(reply).encode() + b"\n")


if __name__ == "__main__":
    main()
