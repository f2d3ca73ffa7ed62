"""How the end of a cell becomes its `ExecResult`, and the sandbox's own words for it.

`WorkerChannel` knows how a cell ended (the worker's result frame, or why the host stopped
it, or that the worker died); this module turns that into the result every backend returns,
appending the sandbox's message to stderr. `TIMEOUT_MESSAGE` is the one definition of a
timeout's text: the `tool_timeout` perturbation shows exactly it, so a perturbed timeout
cannot be told from a real one by its words.
"""

from __future__ import annotations

import signal

from .config import SandboxConfig
from .output import CappedBuffer, head_tail
from .result import ExecResult

TIMEOUT_MESSAGE = ("[sandbox] TimeoutError: the cell did not finish within {timeout_s:g} s "
                   "(threads it starts must finish too); the interpreter was stopped.\n")


def timeout_message(timeout_s: float) -> str:
    """What a cell stopped at its wall-clock limit of `timeout_s` adds to its stderr."""
    return TIMEOUT_MESSAGE.format(timeout_s=timeout_s)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def death_detail(exit_status: int | None) -> str:
    """" (killed by SIGKILL)" or " (exit code 3)" for a dead worker; "" when unknown."""
    if exit_status is None:
        return ""
    if exit_status < 0:
        return f" (killed by {_signal_name(-exit_status)})"
    return f" (exit code {exit_status})"


def build_result(frame: dict | None, stop_reason: str | None, timeout_s: float,
                 out: CappedBuffer, err: CappedBuffer, config: SandboxConfig,
                 exit_status: int | None) -> ExecResult:
    """The cell's result: from the worker's (validated) `frame`, or from the host's
    `stop_reason` ("timeout", "output_limit", "protocol: ..."), or, with neither, from the
    death of the worker (`exit_status`, from the backend, once it was killed)."""
    stdout, out_cut = out.text()
    stderr, err_cut = err.text()
    if frame is not None:
        stderr += frame["traceback"]
    cap = config.max_output_chars
    if len(stderr) > cap:
        stderr, err_cut = head_tail(stderr, cap), True
    truncated = out_cut or err_cut
    if stop_reason == "timeout":
        return ExecResult("timeout", stdout, stderr + timeout_message(timeout_s), None, 0.0,
                          truncated)
    if stop_reason == "output_limit":
        message = (f"[sandbox] the cell printed more than {config.hard_output_factor}x "
                   f"the {config.max_output_chars}-character output cap; it was stopped.\n")
        return ExecResult("output_limit", stdout, stderr + message, None, 0.0, True)
    if stop_reason is not None:
        message = ("[sandbox] the session broke the sandbox's protocol "
                   f"({stop_reason.removeprefix('protocol: ')}); it was stopped.\n")
        return ExecResult("sandbox_error", stdout, stderr + message, None, 0.0, truncated)
    if frame is None:
        return _death_result(stdout, stderr, truncated, exit_status)
    return ExecResult(frame["status"], stdout, stderr, frame.get("exit_code"), 0.0, truncated)


def _death_result(stdout: str, stderr: str, truncated: bool,
                  exit_status: int | None) -> ExecResult:
    """The worker vanished mid-cell: say why, as precisely as the exit status allows."""
    detail = death_detail(exit_status)
    status = "killed"
    if exit_status == -signal.SIGXCPU:
        status = "timeout"
        detail += ": the session used up its CPU-time budget"
    message = f"[sandbox] the interpreter died{detail}; its state is lost.\n"
    return ExecResult(status, stdout, stderr + message, exit_status, 0.0, truncated)
