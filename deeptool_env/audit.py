"""What of a step's `info` an agent may see, and what is for the audit trail only.

The env's `info` holds the truth behind every perturbation (the clean observation, the
perturbation's record, the real tool status) and the reward terms, which reveal it too.
Harnesses and trainers keep all of it in their records but hand agents `agent_info(info)`:
an agent that read the audit data could undo every perturbation.
"""

from __future__ import annotations

from typing import Any

AUDIT_KEYS = frozenset({"observation_clean", "perturbation", "perturbed", "reward_terms",
                        "turn_rewards", "turn_reward_terms", "verdict"})


def agent_info(info: dict[str, Any]) -> dict[str, Any]:
    """`info` without the audit-only data; `tool` keeps only the status the agent was
    shown (the real status, exit code, time and truncation can betray a perturbation)."""
    view = {key: value for key, value in info.items() if key not in AUDIT_KEYS}
    tool = info.get("tool")
    if isinstance(tool, dict):
        view["tool"] = {"status": tool.get("shown_status", tool.get("status"))}
    return view
