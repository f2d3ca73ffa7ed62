"""Split a teacher's rewrite into protocol turns, or say why it cannot be used.

Lenient where a teacher's slips are harmless: ```python fences become `<code>` blocks, a
missing `</think>` / `</code>` / `</answer>` closes at the next tag or at the end, a reply
that ends in a `\\boxed{}` without `<answer>` gets one, and outputs the teacher invented
(`<output>` blocks, ```output fences) are dropped, since the real ones come from running
the code. Strict where the data would be wrong: no code, no final answer, an action after
the answer, too many turns, or a turn the env's own parser reads differently.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Literal

from deeptool_env import protocol
from deeptool_env.env_config import EnvConfig
from deeptool_env.grading import extract_answer

_INVENTED_OUTPUT = re.compile(
    r"<output>.*?(?:</output>|(?=<think>|<code>|<answer>)|\Z)"
    r"|```[ \t]*output\b.*?(?:```|\Z)", re.S | re.I)
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)
_ACTION = re.compile(r"<(code|answer)>(.*?)(?:</\1>|(?=<think>|<code>|<answer>)|\Z)",
                     re.S | re.I)
_TAGS = re.compile(r"</?(?:think|code|answer|output)>", re.I)

REJECT_REASONS = ("empty", "no_action", "no_code", "no_answer", "empty_code", "answer_not_last",
                  "too_many_turns", "protocol")


@dataclass(frozen=True)
class TeacherTurn:
    """One turn of the rewrite: a thought and exactly one action (code or answer)."""

    kind: Literal["code", "answer"]
    thought: str
    body: str  # the code, or the answer (`\\boxed{...}`)

    @property
    def action(self) -> str:
        """The turn as the policy writes it (what the env is stepped with)."""
        if self.kind == "code":
            return f"<think>{self.thought}</think><code>\n{self.body}\n</code>"
        return f"<think>{self.thought}</think><answer>{self.body}</answer>"


@dataclass
class ParsedRewrite:
    """The turns of a usable rewrite, or the reason (one of REJECT_REASONS) it is not."""

    turns: list[TeacherTurn] = field(default_factory=list)
    error: str | None = None
    detail: str = ""
    dropped_outputs: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def _thought(text: str) -> str:
    """The reasoning before an action: the last `<think>` block, else the plain text."""
    opened = text.rfind("<think>")
    if opened >= 0:
        text = text[opened + len("<think>"):]
        text = text.split("</think>")[0]
    return _TAGS.sub("", text).strip()


def _fences_to_code(text: str) -> str:
    """```python fences outside `<code>` blocks become `<code>` blocks."""
    parts = re.split(r"(<code>.*?(?:</code>|\Z))", text, flags=re.S | re.I)
    return "".join(part if part.lower().startswith("<code>")
                   else _FENCE.sub(lambda m: f"<code>\n{m.group(1)}</code>", part)
                   for part in parts)


def _code_body(raw: str) -> str:
    """Code without fences inside the block, dedented and stripped of blank edges."""
    fenced = _FENCE.search(raw)
    body = fenced.group(1) if fenced else raw
    return textwrap.dedent(body.strip("\n")).strip("\n")


def _answer_body(raw: str) -> str:
    raw = raw.strip()
    return raw if "\\boxed" in raw or "\\fbox" in raw else f"\\boxed{{{raw}}}"


def parse_rewrite(text: str, *, max_turns: int, min_code_turns: int = 1) -> ParsedRewrite:
    """The turns of a teacher's reply (see the module docstring for the rules)."""
    if not text or not text.strip():
        return ParsedRewrite(error="empty", detail="the teacher returned no text")
    cleaned, dropped = _INVENTED_OUTPUT.subn("", text)
    cleaned = _fences_to_code(cleaned)
    turns: list[TeacherTurn] = []
    position = 0
    for match in _ACTION.finditer(cleaned):
        if turns and turns[-1].kind == "answer":
            return ParsedRewrite(error="answer_not_last", dropped_outputs=dropped,
                                 detail=f"a <{match.group(1)}> follows the final answer")
        thought = _thought(cleaned[position:match.start()])
        kind = match.group(1).lower()
        if kind == "code":
            body = _code_body(match.group(2))
            if not body.strip():
                return ParsedRewrite(error="empty_code", dropped_outputs=dropped,
                                     detail=f"turn {len(turns) + 1} has an empty <code>")
        else:
            body = _answer_body(match.group(2))
        turns.append(TeacherTurn(kind, thought, body))  # type: ignore[arg-type]
        position = match.end()
    if not turns or turns[-1].kind != "answer":
        tail = cleaned[position:]
        boxed = extract_answer(tail) if "\\boxed" in tail or "\\fbox" in tail else None
        if boxed is None and not turns:
            return ParsedRewrite(error="no_action", dropped_outputs=dropped,
                                 detail="no <code>, <answer> or \\boxed{} anywhere")
        if boxed is None:
            return ParsedRewrite(error="no_answer", dropped_outputs=dropped,
                                 detail="no <answer> or \\boxed{} after the last code turn")
        turns.append(TeacherTurn("answer", _thought(tail.split("\\boxed")[0]),
                                 f"\\boxed{{{boxed}}}"))
    result = ParsedRewrite(turns, dropped_outputs=dropped)
    codes = sum(turn.kind == "code" for turn in turns)
    if codes < min_code_turns:
        result.error, result.detail = "no_code", f"{codes} code turns, need {min_code_turns}"
    elif len(turns) > max_turns:
        result.error, result.detail = "too_many_turns", f"{len(turns)} turns > {max_turns}"
    else:
        for index, turn in enumerate(turns, 1):
            parsed = protocol.parse_action(turn.action, max_chars=EnvConfig.max_action_chars)
            if parsed.kind != turn.kind:
                result.error = "protocol"
                result.detail = f"turn {index}: the env reads it as {parsed.error or parsed.kind}"
                break
    return result
