"""Extrinsic environment failures: the tool misbehaves although the code ran correctly.

Each function takes the clean `ToolOutput`, a seeded `random.Random` and the `Context`, and
returns (what the agent is shown, params) or None when it cannot apply. The sandbox state is
never touched: the code ran exactly once, so re-running or printing again reveals the truth
(re-running non-idempotent code, e.g. `x += 1`, applies it twice, as after a real failure).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..sandbox.cell_result import timeout_message
from ..sandbox.output import truncation_marker
from .base import Context, Family, Kind, ToolOutput

Applied = tuple[ToolOutput, dict[str, Any]] | None
OutputKind = Callable[[ToolOutput, random.Random, Context], Applied]


class OutputKinds:
    """A family's output-stage kinds in the order they are defined: `@kinds.add(effect)`
    makes the function below it the kind of its name, and returns it unchanged."""

    def __init__(self, family: Family) -> None:
        self.family = family
        self.kinds: list[Kind] = []

    def add(self, effect: str) -> Callable[[OutputKind], OutputKind]:
        def register(apply: OutputKind) -> OutputKind:
            self.kinds.append(Kind(apply.__name__, self.family, "output", apply, effect))
            return apply
        return register


_kinds = OutputKinds("extrinsic")


TRANSIENT_ERRORS: tuple[str, ...] = (
    "[sandbox] ConnectionResetError: [Errno 104] Connection reset by peer (the worker "
    "channel was interrupted); retry the call.\n",
    "[sandbox] BrokenPipeError: [Errno 32] Broken pipe while reading the cell's result.\n",
    "[sandbox] 503 Service Unavailable: the execution backend is overloaded; retry shortly.\n",
    "[sandbox] OSError: [Errno 11] Resource temporarily unavailable: could not reach the "
    "worker.\n",
    "[sandbox] 429 Too Many Requests: execution rate limit reached; retry after 2 s.\n",
    "[sandbox] the result channel closed unexpectedly (EOF); the cell's output was lost.\n",
)


def split_lines(text: str) -> tuple[list[str], bool]:
    """The lines of `text` and whether it ended with a newline."""
    return text.splitlines(), text.endswith("\n")


def join_lines(lines: list[str], newline_at_end: bool) -> str:
    return "\n".join(lines) + ("\n" if newline_at_end and lines else "")


@_kinds.add("status 'timeout' with the sandbox message; a prefix of stdout kept")
def tool_timeout(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Show a sandbox timeout (status "timeout"); keep a prefix of the printed lines.

    The fewer lines are kept the higher the severity. Unlike a real timeout the
    interpreter's state survives (variables are still defined next turn).
    """
    if output.status not in ("ok", "error"):
        return None
    lines, _ = split_lines(output.stdout)
    keep = rng.randint(0, int(len(lines) * (1.0 - ctx.severity)))
    message = timeout_message(ctx.timeout_s)
    shown = ToolOutput(join_lines(lines[:keep], True), message, "timeout")
    return shown, {"kept_lines": keep, "total_lines": len(lines), "timeout_s": ctx.timeout_s}


@_kinds.add("status 'sandbox_error' with a plausible transient error; no output")
def transient_error(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Replace the result by a plausible transient sandbox/API error (status "sandbox_error").

    The code did run: its effects on the session state are kept.
    """
    if output.status == "sandbox_error":
        return None
    index = rng.randrange(len(TRANSIENT_ERRORS))
    return (ToolOutput("", TRANSIENT_ERRORS[index], "sandbox_error"),
            {"message_index": index, "message": TRANSIENT_ERRORS[index].strip()})


@_kinds.add("stdout cut short, with or without the omission marker")
def truncated_output(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Cut stdout short (possibly mid-number), with the sandbox's omission marker or silently.

    Higher severity keeps less. Needs at least two characters of stdout.
    """
    text = output.stdout.rstrip("\n")
    total = len(text)
    if len(text.strip()) < 2:
        return None
    low = max(1, int(total * 0.1))
    high = max(low, min(total - 1, int(total * (1.0 - 0.7 * ctx.severity))))
    keep = rng.randint(low, high)
    marker = rng.random() < 0.5
    tail = truncation_marker(total - keep) if marker else "\n"
    shown = replace(output, stdout=text[:keep].rstrip("\n") + tail)
    return shown, {"kept_chars": keep, "total_chars": total, "marker": marker}


@_kinds.add("a successful run shown as printing nothing")
def empty_output(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Show a successful run that printed nothing (only for status "ok" with some output)."""
    if output.status != "ok" or not (output.stdout + output.stderr).strip():
        return None
    dropped = len(output.stdout) + len(output.stderr)
    return ToolOutput("", "", "ok"), {"dropped_chars": dropped}


@_kinds.add("the previous code turn's output shown; this one's delivered next code turn")
def stale_output(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Show what the previous code turn showed instead of this turn's output.

    The `Perturber` withholds this turn's clean output and delivers it, before the next code
    turn's own output, on the next code turn (`deliver_withheld`). Cannot apply on the first
    code turn or when the previous output equals this one.
    """
    if ctx.previous is None or ctx.previous[1] == output:
        return None
    turn, previous = ctx.previous
    return previous, {"stale_from_turn": turn}


def deliver_withheld(withheld: ToolOutput, output: ToolOutput) -> ToolOutput:
    """The late delivery: the withheld output (stdout, then stderr) before this one's stdout.

    Status and stderr are this turn's, so the observation still reports this run's result.
    """
    late = withheld.stdout
    if withheld.stderr:
        late = (late if not late or late.endswith("\n") else late + "\n") + withheld.stderr
    if late and not late.endswith("\n") and output.stdout:
        late += "\n"
    return replace(output, stdout=late + output.stdout)


@_kinds.add("some stdout lines printed twice")
def duplicated_lines(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Print some stdout lines twice in a row (1 to 3 lines, more with severity)."""
    lines, newline = split_lines(output.stdout)
    candidates = [i for i, line in enumerate(lines) if line.strip()]
    if not candidates:
        return None
    count = min(len(candidates), 1 + int(ctx.severity * 2.999))
    chosen = sorted(rng.sample(candidates, count))
    shown_lines: list[str] = []
    for i, line in enumerate(lines):
        shown_lines.extend([line, line] if i in chosen else [line])
    return replace(output, stdout=join_lines(shown_lines, newline)), {"lines": chosen}


@_kinds.add("stdout lines shown in another order")
def reordered_lines(output: ToolOutput, rng: random.Random, ctx: Context) -> Applied:
    """Show the stdout lines in another order (more swaps with severity).

    params["order"][i] is the original index of shown line i. Needs two different lines.
    """
    lines, newline = split_lines(output.stdout)
    if len(set(lines)) < 2:
        return None
    order = list(range(len(lines)))
    for _ in range(1 + int(ctx.severity * (len(lines) - 1))):
        i, j = rng.sample(range(len(lines)), 2)
        order[i], order[j] = order[j], order[i]
    if [lines[k] for k in order] == lines:
        pairs = [(i, j) for i in range(len(lines)) for j in range(i + 1, len(lines))
                 if lines[order[i]] != lines[order[j]]]
        i, j = rng.choice(pairs)
        order[i], order[j] = order[j], order[i]
    shown = replace(output, stdout=join_lines([lines[k] for k in order], newline))
    return shown, {"order": order}


EXTRINSIC: tuple[Kind, ...] = tuple(_kinds.kinds)
