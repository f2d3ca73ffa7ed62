"""One code turn: perturb the code (intrinsic anomalies), run it, perturb what is shown.

Kept apart from the env so the order of these steps, which the reward and the audit trail
depend on, is in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import protocol
from .perturbations import Perturber, ToolOutput, injected_values
from .rewards import Turn, canonical_values
from .sandbox import Session


@dataclass(frozen=True)
class ToolTurnResult:
    observation: str  # what the agent is shown
    observation_clean: str  # the same without any perturbation
    turn: Turn  # the reward's view of the turn
    info: dict[str, Any]


def run_tool_turn(session: Session, perturber: Perturber, code: str, turn_index: int, *,
                  timeout_s: float, max_output_chars: int) -> ToolTurnResult:
    """Run `code` for the agent and build what it sees and what the reward sees."""
    code_to_run, code_event = perturber.before_run(code, turn_index)
    result = session.run(code_to_run, timeout_s=timeout_s)
    clean = ToolOutput(result.stdout, result.stderr, result.status)
    shown, output_event = perturber.after_run(clean, turn_index)
    event = output_event or code_event
    observation = protocol.render_output(shown.stdout, shown.stderr, shown.status,
                                         max_output_chars)
    observation_clean = protocol.render_output(clean.stdout, clean.stderr, clean.status,
                                               max_output_chars)
    injected = frozenset()
    if event is not None:
        injected = frozenset(canonical_values(" ".join(sorted(injected_values(event)))))
    turn = Turn(kind="code", code=code, status=None if code_event else result.status,
                stdout=result.stdout, perturbed=event is not None, injected=injected)
    # Keys that do not apply are left out, never None (see `DeepToolMathEnv.step`).
    tool = {"status": result.status, "shown_status": shown.status,
            "wall_ms": result.wall_ms, "truncated": result.truncated}
    if result.exit_code is not None:
        tool["exit_code"] = result.exit_code
    info = {
        "tool": tool,
        "perturbed": event is not None,
        "observation_clean": observation_clean,
    }
    if event is not None:
        info["perturbation"] = event.to_dict()
    return ToolTurnResult(observation, observation_clean, turn, info)
