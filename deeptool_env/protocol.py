"""The turn protocol: the system prompt, parsing one assistant turn, rendering observations.

A turn is free thinking in `<think>...</think>` followed by exactly one action:
a Python tool call in `<code>...</code>` (or a fenced ```python block), or the final
answer in `<answer>...</answer>` (or `\\boxed{...}`). Lenient on the thinking (it may be
missing), strict on the action. Parse failures are values, never exceptions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .sandbox.output import head_tail, truncation_marker

ParseError = Literal["no_action", "unclosed_tag", "multiple_actions", "empty_code",
                     "answer_and_code", "too_long"]
#: The errors only the tool-call protocol (`tool_call_protocol`) reports.
ToolCallError = Literal["bad_json", "bad_call", "unknown_tool", "bad_arguments",
                        "call_in_thinking"]
PARSE_ERRORS: tuple[str, ...] = ("no_action", "unclosed_tag", "multiple_actions",
                                 "empty_code", "answer_and_code", "too_long")

#: The observation of a code turn when the env's `tool` option is False (nothing runs).
TOOL_OFF_MESSAGE = ("<error>\nThe Python tool is switched off in this episode: your code was "
                    "not run. Reason without it and give the final answer.\n</error>")

# Stop sequences that end a turn right after its action (for samplers that support them).
STOP_SEQUENCES: tuple[str, ...] = ("</code>", "</answer>")

SYSTEM_PROMPT = """\
You are solving a math problem and you have a Python interpreter.
Each of your turns is: optional reasoning inside <think>...</think>, then exactly ONE action:
- run Python: <code>
...python...
</code>
  The code runs in a persistent session (variables and imports stay across turns; math, \
numpy and sympy are available). Print what you need: you will get the printed text \
(and the value of a final bare expression) back in <output>...</output>. Tool output may \
be cut or wrong: check surprising results.
- or give the final answer: <answer>\\boxed{your final answer}</answer>
Give the final answer only when you are sure; it ends the episode. You have at most \
{max_turns} turns."""

USER_TEMPLATE = "Problem:\n{problem}"

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_TAG = {name: (re.compile(f"<{name}>", re.I), re.compile(f"</{name}>", re.I))
        for name in ("code", "answer", "output", "tool_call")}
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)[ \t]*\n(.*?)```", re.S | re.I)
_FENCE_OPEN = re.compile(r"```[ \t]*(python|py|python3)[ \t]*\n", re.I)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")

ERROR_HINTS = {
    "no_action": "Your turn had no action. End every turn with one <code>...</code> block "
                 "or with <answer>...</answer>.",
    "unclosed_tag": "A tag in your turn was opened but never closed ({detail}). Close it.",
    "multiple_actions": "Your turn had more than one action. Use exactly one <code> block "
                        "or one <answer> per turn.",
    "empty_code": "Your <code> block was empty. Put the Python to run inside it.",
    "answer_and_code": "Your turn had both code and a final answer. Either run code "
                       "(and see its output next turn) or answer, not both.",
    "too_long": "Your turn was longer than {detail} characters and was not run. "
                "Write shorter turns.",
}


@dataclass(frozen=True)
class ParsedAction:
    """What one assistant turn asked for."""

    kind: Literal["code", "answer", "invalid"]
    code: str | None = None
    answer: str | None = None
    error: ParseError | ToolCallError | None = None
    detail: str = ""
    thinking: str = ""
    hallucinated_output: bool = False

    @property
    def valid(self) -> bool:
        return self.kind != "invalid"


def invalid(error: ParseError | ToolCallError, detail: str = "",
            thinking: str = "") -> ParsedAction:
    return ParsedAction("invalid", error=error, detail=detail, thinking=thinking)


def split_thinking(text: str) -> tuple[str, str, bool]:
    """(thinking, action region, think tag unclosed): the thinking is free text, only the
    region after `</think>` holds the action (in both protocols)."""
    close = text.rfind(_THINK_CLOSE)
    if close >= 0:
        start = text.find(_THINK_OPEN)
        start = start + len(_THINK_OPEN) if 0 <= start < close else 0
        return text[start:close], text[close + len(_THINK_CLOSE):], False
    if _THINK_OPEN in text:
        return text, "", True
    return "", text, False


def tag_blocks(region: str, name: str) -> tuple[list[str], bool]:
    """Contents of `<name>...</name>` blocks in order, and whether one is unclosed."""
    opener, closer = _TAG[name]
    blocks, pos = [], 0
    while (match := opener.search(region, pos)) is not None:
        end = closer.search(region, match.end())
        if end is None:
            return blocks, True
        blocks.append(region[match.end():end.start()])
        pos = end.end()
    return blocks, False


def _boxed_contents(region: str) -> tuple[list[str], bool]:
    """Contents of `\\boxed{...}` with balanced braces, and whether one is unbalanced."""
    found = []
    for match in _BOXED.finditer(region):
        depth, i = 1, match.end()
        while i < len(region) and depth:
            depth += {"{": 1, "}": -1}.get(region[i], 0)
            i += 1
        if depth:
            return found, True
        found.append(region[match.end():i - 1].strip())
    return found, False


def parse_action(text: str, *, max_chars: int) -> ParsedAction:
    """Parse one assistant turn (see the module docstring for the protocol)."""
    if len(text) > max_chars:
        return invalid("too_long", str(max_chars))
    thinking, region, think_unclosed = split_thinking(text)
    if think_unclosed:
        return invalid("unclosed_tag", "<think>", thinking)
    outputs, _ = tag_blocks(region, "output")
    hallucinated = bool(outputs)
    region = re.sub(r"<output>.*?(</output>|$)", "", region, flags=re.S | re.I)
    codes, code_unclosed = tag_blocks(region, "code")
    answers, answer_unclosed = tag_blocks(region, "answer")
    if code_unclosed or answer_unclosed:
        return invalid("unclosed_tag", "<code>" if code_unclosed else "<answer>", thinking)
    outside = _TAG["code"][0].sub("", region)
    fences = [m.group(1) for m in _FENCE.finditer(outside)]
    if not fences and _FENCE_OPEN.search(outside):
        return invalid("unclosed_tag", "```python", thinking)
    codes = codes + fences
    no_code = re.sub(r"<code>.*?</code>|```.*?```", "", region, flags=re.S | re.I)
    boxed, _ = _boxed_contents(no_code)
    has_answer = bool(answers) or bool(boxed)
    if codes and has_answer:
        return invalid("answer_and_code", thinking=thinking)
    if len(codes) > 1 or len(answers) > 1 or (not answers and len(set(boxed)) > 1):
        return invalid("multiple_actions", thinking=thinking)
    if codes:
        if not codes[0].strip():
            return invalid("empty_code", thinking=thinking)
        return ParsedAction("code", code=dedent_code(codes[0]), thinking=thinking,
                            hallucinated_output=hallucinated)
    if answers:
        return ParsedAction("answer", answer=answers[0].strip(), thinking=thinking,
                            hallucinated_output=hallucinated)
    if boxed:
        return ParsedAction("answer", answer=f"\\boxed{{{boxed[-1]}}}", thinking=thinking,
                            hallucinated_output=hallucinated)
    return invalid("no_action", thinking=thinking)


def dedent_code(code: str) -> str:
    """The code of an action without surrounding blank lines and common indentation."""
    import textwrap

    return textwrap.dedent(code.strip("\n"))


def render_error(parsed: ParsedAction) -> str:
    """The observation that tells the model what was wrong with its turn."""
    assert parsed.error is not None
    return f"<error>\n{ERROR_HINTS[parsed.error].format(detail=parsed.detail)}\n</error>"


# What `render_output` adds to the `max_chars` characters it keeps: the tags and at most one
# truncation marker (whose count of omitted characters has fewer than 20 digits).
_OUTPUT_OVERHEAD = len("<output>\n\n</output>") + len(truncation_marker(10**20))


def max_rendered_output_chars(max_chars: int) -> int:
    """The longest observation `render_output(..., max_chars)` can return."""
    return max_chars + _OUTPUT_OVERHEAD


def render_output(stdout: str, stderr: str, status: str, max_chars: int) -> str:
    """The tool observation: stdout then stderr, head+tail cut to `max_chars` (at most
    `max_rendered_output_chars(max_chars)` characters in all)."""
    text = stdout
    if stderr:
        text = f"{text}\n{stderr}" if text and not text.endswith("\n") else text + stderr
    if not text.strip():
        text = "(no output: print() the values you need)" if status == "ok" else f"[{status}]"
    return f"<output>\n{head_tail(text.rstrip(), max_chars)}\n</output>"


def system_prompt(max_turns: int) -> str:
    return SYSTEM_PROMPT.replace("{max_turns}", str(max_turns))
