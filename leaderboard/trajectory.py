"""Every trajectory against the declared settings, and the costs the server recounts.

Checked per sample, against the metadata: at most `max_turns` turns (exactly that many when
the episode ended on "max_turns"); with `max_episode_tokens` declared, the episode was
still under its token budget before its last turn (the env would have ended it earlier);
with `decoding.max_new_tokens` declared and the model's tokenizer known, no turn is longer;
with perturbation "none" no turn carries a perturbation event, otherwise every event is a
kind of the declared preset and there are at most its `max_per_episode`.

Recounted (`Cost`): turns, characters (actions and observations) and tokens (the prompt the
env showed, actions and observations, with `tokens.counter_for`); these replace the
record's own counters in everything ranked. The harness's own counters are self-reported:
`episode_tokens` (the env's count) must lie within what the trajectory allows, and the
agent's `prompt_tokens`/`completion_tokens` (0: not reported) within byte bounds that hold
for any tokenizer (a generated token is at least one byte of text, bar a few special ones).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deeptool_env.perturbations import KINDS, resolve_perturbation
from deeptool_env.protocol import USER_TEMPLATE, system_prompt
from deeptool_env.spaces import unicode_text

from .issues import Budget
from .regrade import Entry
from .schema import RunSettings, ValidationIssue
from .tokens import APPROX, TokenCounter

SPECIAL_PER_TURN = 16  # tokens a turn may have beyond its text (end-of-turn, template)
TEMPLATE_PER_MESSAGE = 64  # chat-template tokens a prompt may add per message
NEW_TOKENS_SLACK = 1.05, 8  # re-encoding decoded text may give a few more tokens
BUDGET_EVERY = 256  # samples between two checks of the time budget
SELF_REPORTED = ("prompt_tokens", "completion_tokens", "episode_tokens")


@dataclass(frozen=True)
class Cost:
    """What the server recounted of one trajectory."""

    turns: int
    chars: int
    tokens: int


def _allowed_kinds(preset: str) -> tuple[set[str], int | None]:
    """Perturbation kinds a preset may apply, and its cap per episode."""
    config = resolve_perturbation(preset)
    if config.rate <= 0:
        return set(), 0
    families = set(config.families or ("extrinsic", "corrupted"))
    kinds = set(config.kinds) if config.kinds else {k for k, f in KINDS.items()
                                                    if f in families}
    return kinds, config.max_per_episode


class TrajectoryChecker:
    """Checks and recounts the samples of one submission (prompts counted once per task)."""

    def __init__(self, meta: RunSettings, counter: TokenCounter = APPROX) -> None:
        self.meta, self.counter = meta, counter
        self.kinds, self.cap = _allowed_kinds(meta.perturbation)
        self.system = system_prompt(meta.max_turns)
        self.system_approx = APPROX.count(self.system)
        self._prompts: dict[tuple[str, str], tuple[str, int, int]] = {}

    def _prompt(self, entry: Entry) -> tuple[str, int, int]:
        """(the env's first observation, its server count, the approx count of the user
        message alone: the part no package version changes)."""
        key = (entry.task.benchmark, entry.task.id)
        if key not in self._prompts:
            user = USER_TEMPLATE.format(problem=unicode_text(entry.task.problem))
            text = f"{self.system}\n\n{user}"
            self._prompts[key] = (text, self.counter.count(text), APPROX.count(user))
        return self._prompts[key]

    def check(self, entry: Entry) -> tuple[Cost, list[ValidationIssue]]:
        """The recounted cost of `entry` and its settings and counter issues."""
        record, meta = entry.record, self.meta
        where = (f"samples.jsonl line {entry.line} ({record.benchmark} {record.problem_id} "
                 f"sample {record.sample})")
        issues: list[ValidationIssue] = []

        def add(code: str, field: str, text: str) -> None:
            issues.append(ValidationIssue(code, f"{where}: {text}", entry.line, field))

        turns = record.turns
        n = len(turns)
        if n == 0:
            add("turns_inconsistent", "turns", "has no turn (every episode has at least one)")
        if n > meta.max_turns:
            add("max_turns_exceeded", "turns", f"has {n} turns but metadata.max_turns is "
                f"{meta.max_turns}")
        elif record.termination == "max_turns" and n != meta.max_turns:
            add("turns_inconsistent", "termination", f"ended on max_turns after {n} turns, "
                f"but metadata.max_turns is {meta.max_turns}")
        prompt, prompt_tokens, user_approx = self._prompt(entry)
        texts = [(t["action"], t["observation"]) for t in turns]
        approx = [(APPROX.count(a), APPROX.count(o)) for a, o in texts]
        counted = approx if self.counter is APPROX else [
            (self.counter.count(a), self.counter.count(o)) for a, o in texts]
        before_last = user_approx + sum(a + o for a, o in approx[:-1])
        if meta.max_episode_tokens is not None and n > 1 \
                and before_last >= meta.max_episode_tokens:
            add("max_episode_tokens_exceeded", "turns", f"had at least "
                f"{before_last} tokens before its last turn, but "
                f"metadata.max_episode_tokens is {meta.max_episode_tokens} (the env ends an "
                "episode once it reaches the budget)")
        actions = [a for a, _ in counted]
        limit = meta.decoding.max_new_tokens if meta.decoding else None
        if limit is not None and self.counter.exact:
            bound = limit * NEW_TOKENS_SLACK[0] + NEW_TOKENS_SLACK[1]
            long = [i for i, count in enumerate(actions) if count > bound]
            if long:
                add("max_new_tokens_exceeded", f"turns[{long[0]}].action", f"turn "
                    f"{long[0] + 1} has {actions[long[0]]} tokens ({self.counter.name}) but "
                    f"metadata.decoding.max_new_tokens is {limit}")
        self._perturbations(turns, add)
        cost = Cost(n, sum(len(a) + len(o) for a, o in texts),
                    prompt_tokens + sum(a + o for a, o in counted))
        bounds = self._bounds(record, prompt, user_approx + sum(a + o for a, o in approx))
        wrong = [f"{name}={getattr(record, name)} (allowed {low}..{high})"
                 for name, (low, high) in bounds.items()
                 if not low <= getattr(record, name) <= high]
        if wrong:
            add("counter_out_of_bounds", "episode_tokens", "self-reported "
                + ", ".join(wrong) + " does not fit the trajectory")
        return cost, issues

    def _perturbations(self, turns: Sequence[dict[str, Any]],
                       add: Callable[[str, str, str], None]) -> None:
        """Report events the declared preset cannot have produced."""
        events = [(i, t["perturbation"]) for i, t in enumerate(turns) if t.get("perturbation")]
        preset = self.meta.perturbation
        bad = [i for i, event in events
               if not isinstance(event, dict) or event.get("kind") not in self.kinds]
        if bad:
            add("perturbation_mismatch", f"turns[{bad[0]}].perturbation", f"turn {bad[0] + 1} "
                f"records a perturbation the declared preset {preset!r} does not apply")
        elif self.cap is not None and len(events) > self.cap:
            add("perturbation_mismatch", "turns", f"{len(events)} perturbed turns, but the "
                f"preset {preset!r} perturbs at most {self.cap} per episode")

    def _bounds(self, record: Any, prompt: str, approx_total: int) -> dict[str, tuple[int, int]]:
        """Allowed ranges of the self-reported counters (0 means not reported for the
        agent's two)."""
        turns = record.turns
        n = len(turns)
        action_bytes = sum(len(t["action"].encode("utf-8")) for t in turns)
        context = len(prompt.encode("utf-8")) + action_bytes + sum(
            len(t["observation"].encode("utf-8")) for t in turns)
        bounds = {"episode_tokens": (approx_total, approx_total + 2 * self.system_approx + 64)}
        if record.completion_tokens:
            bounds["completion_tokens"] = (n, action_bytes + SPECIAL_PER_TURN * n)
        if record.prompt_tokens:
            bounds["prompt_tokens"] = (1, n * (context + TEMPLATE_PER_MESSAGE * (2 * n + 2)))
        return bounds


def check_trajectories(entries: Sequence[Entry], meta: RunSettings,
                       counter: TokenCounter, budget: Budget
                       ) -> tuple[list[Cost], list[ValidationIssue]]:
    """Costs of `entries` (in order) and every settings or counter issue; raises
    `BudgetExceeded` when the budget runs out."""
    checker = TrajectoryChecker(meta, counter)
    costs, issues = [], []
    for i, entry in enumerate(entries):
        if i % BUDGET_EVERY == 0:
            budget.check("checking trajectories against the settings")
        cost, found = checker.check(entry)
        costs.append(cost)
        issues += found
    return costs, issues


def cost_summary(entries: Sequence[Entry], costs: Sequence[Cost], counter: TokenCounter
                 ) -> dict[str, Any]:
    """Per benchmark: the recounted means per sample, and the self-reported ones apart
    (None when no sample reported the counter)."""
    groups: dict[str, list[tuple[Entry, Cost]]] = defaultdict(list)
    for entry, cost in zip(entries, costs, strict=True):
        groups[entry.record.benchmark].append((entry, cost))
    out: dict[str, Any] = {}
    for name, pairs in sorted(groups.items()):
        size = len(pairs)
        reported = {}
        for key in SELF_REPORTED:
            values = [getattr(e.record, key) for e, _ in pairs if getattr(e.record, key)]
            reported[key] = sum(values) / len(values) if values else None
        out[name] = {"samples": size, "tokens_per_sample": sum(c.tokens for _, c in pairs) / size,
                     "chars_per_sample": sum(c.chars for _, c in pairs) / size,
                     "turns_per_sample": sum(c.turns for _, c in pairs) / size,
                     "counter": counter.name, "self_reported": reported}
    return out
