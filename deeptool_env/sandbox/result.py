"""The one result schema that every sandbox backend returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "error", "timeout", "memory", "killed", "output_limit", "sandbox_error"]

STATUSES: tuple[str, ...] = (
    "ok",  # the cell ran to the end
    "error",  # the cell raised; `stderr` holds the traceback with the cell's own line numbers
    "timeout",  # the cell (or a thread it started) ran past its wall-clock limit; state lost
    "memory",  # the cell ran out of memory (MemoryError or the kernel's OOM kill)
    "killed",  # the interpreter died (signal, crash, `os._exit`, sandbox closed); state lost
    "output_limit",  # the cell printed far past the hard output cap and was stopped; state lost
    "sandbox_error",  # the sandbox itself failed (could not start, protocol broke)
)

# Statuses after which the session's interpreter no longer exists; the next `run` starts a
# fresh interpreter and says so at the top of its `stderr`.
STATE_LOST_STATUSES: frozenset[str] = frozenset(
    {"timeout", "killed", "output_limit", "sandbox_error"}
)


@dataclass(frozen=True)
class ExecResult:
    """What one `Session.run(code)` produced.

    Attributes:
        status: one of `STATUSES` (see the comments there).
        stdout: what the cell printed, plus the repr of a final bare expression (notebook
            style). Capped at the sandbox's `max_output_chars` while it is produced: head and
            tail are kept, with a marker in between.
        stderr: what the cell wrote to stderr, then the traceback for errors (only the cell's
            frames, with its own line numbers) or a sandbox message for timeouts and kills.
        exit_code: 0 for `ok`, 1 for a Python exception, the negative signal number when the
            interpreter was killed by a signal, `None` when it does not apply.
        wall_ms: wall-clock time of the call as seen by the caller, in milliseconds.
        truncated: True when stdout or stderr were cut to the output cap.
    """

    status: Status
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    wall_ms: float = 0.0
    truncated: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        """True when the cell ran to the end without an exception."""
        return self.status == "ok"

    @property
    def state_lost(self) -> bool:
        """True when the session's variables did not survive this call."""
        return self.status in STATE_LOST_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy, for trajectories and logs."""
        return asdict(self)
