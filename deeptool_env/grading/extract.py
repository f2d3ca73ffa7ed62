"""Find the final answer in the text an agent wrote.

Policy (pinned; the leaderboard grader uses exactly this, with no lenient fallback):

1. Only the agent's own words count. Tool outputs are removed first: `<output>...</output>`,
   `<tool_response>...</tool_response>` / `<tool_result>...</tool_result>` blocks and
   ```` ```output ```` fences (an unclosed block runs to the end of the text). The agent's code
   (other fenced blocks, `<code>` / `<tool_call>` blocks) is not a statement of the answer either,
   so it is removed too: a `print("\\boxed{5}")` in code is not an answer.
2. Reasoning is skipped: only the text after the last `</think>` is searched. A `<think>` that
   is never closed means the agent never finished reasoning, so there is no answer.
3. In that text, by priority:
   a. the last `<answer>...</answer>` block (if it holds a `\\boxed{}`, that box's content);
   b. the last `\\boxed{...}` / `\\fbox{...}` whose braces balance (also `\\boxed 5`); boxes
      nested inside it are unwrapped (`\\boxed{\\boxed{5}}` -> `5`); an unclosed box is skipped;
   c. the last "Answer: ..." (also `**Answer:**`, "Final Answer:") or "final answer is ..."
      phrase: the rest of that line, up to the end of the sentence.
4. Otherwise there is no answer (reason "no_answer"). There is deliberately no
   "last number in the text" fallback: a number mentioned on the way is not a final answer.
"""

from __future__ import annotations

import re

_TOOL_OUTPUT = re.compile(
    r"<(output|tool_response|tool_result)>.*?(?:</\1>|\Z)"
    r"|^[ \t]*```+[ \t]*output\b.*?(?:^[ \t]*```+[ \t]*$|\Z)",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)
_AGENT_CODE = re.compile(
    r"<(code|tool_call)>.*?(?:</\1>|\Z)"
    r"|^[ \t]*```+[^\n`]*\n.*?(?:^[ \t]*```+[ \t]*$|\Z)",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_BOX_START = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_ANSWER_PHRASE = re.compile(r"\bfinal\s+answer\s+is\b|\banswer\s*\**\s*[:：]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s|$)|\s+(?:I hope|which|because|since)\b", re.IGNORECASE)


def strip_tool_outputs(text: str) -> str:
    """Remove tool-output blocks (`<output>`, ```` ```output ````, tool responses) from `text`."""
    return _TOOL_OUTPUT.sub("\n", text)


def agent_prose(text: str) -> str | None:
    """The part of `text` in which a final answer is searched (None: unfinished reasoning).

    Removes tool outputs and the agent's code, then keeps what follows the last `</think>`.
    """
    text = _AGENT_CODE.sub("\n", strip_tool_outputs(text))
    close = text.lower().rfind("</think>")
    if close >= 0:
        return text[close + len("</think>") :]
    if "<think>" in text.lower():
        return None
    return text


def _brace_pairs(text: str) -> dict[int, int]:
    """Map each `{` of `text` to its matching `}` in one pass (escaped braces are skipped)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def _box_span(text: str, start: re.Match[str], pairs: dict[int, int]) -> tuple[int, int] | None:
    """(content start, content end) of the box whose command `start` matched; None if unclosed.

    `\\boxed{X}` gives the span of X; `\\boxed 5` (a space, then one token) the span of `5`.
    """
    i = start.end()
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        return (i + 1, pairs[i]) if i in pairs else None
    if start.end() < i:
        token = re.match(r"[^\s$]+", text[i:])
        return (i, i + token.end()) if token else None
    return None


def unwrap_boxes(content: str) -> str:
    """Replace every `\\boxed{X}` / `\\fbox{X}` inside `content` by `X` (nested boxes), in O(n)."""
    pairs = _brace_pairs(content)
    keep = [True] * len(content)
    for m in _BOX_START.finditer(content):
        span = _box_span(content, m, pairs)
        cut_to = m.end() if span is None else span[0]
        for k in range(m.start(), cut_to):
            keep[k] = False
        if span is not None and span[0] > m.end() and content[span[0] - 1] == "{":
            keep[span[1]] = False
    return "".join(ch for ch, k in zip(content, keep, strict=True) if k)


def last_boxed(text: str) -> str | None:
    """Content of the last balanced `\\boxed{}` / `\\fbox{}` in `text` (inner boxes unwrapped)."""
    pairs = _brace_pairs(text)
    for m in reversed(list(_BOX_START.finditer(text))):
        span = _box_span(text, m, pairs)
        if span is not None and text[span[0] : span[1]].strip():
            return unwrap_boxes(text[span[0] : span[1]]).strip()
    return None


def _answer_line(text: str) -> str | None:
    """The answer stated after the last "Answer:" / "final answer is" phrase in `text`."""
    phrases = list(_ANSWER_PHRASE.finditer(text))
    if not phrases:
        return None
    last = phrases[-1]
    lines = text[last.end() :].split("\n")
    ans = lines[0]
    if not ans.strip().strip("*$"):  # "Answer:" alone on its line: take the next non-empty line
        ans = next((ln for ln in lines[1:] if ln.strip()), "")
    ans = _SENTENCE_END.split(ans, maxsplit=1)[0]
    return _clean(ans)


def _clean(ans: str) -> str | None:
    """Strip math delimiters, bold markers and trailing punctuation around an answer."""
    ans = ans.strip().strip("*").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if ans.startswith(left) and ans.endswith(right) and len(ans) >= len(left) + len(right):
            ans = ans[len(left) : len(ans) - len(right)].strip()
    ans = ans.strip().rstrip(".;,").strip()
    return ans or None


def extract_answer(response: str) -> str | None:
    """The final answer written in `response`, or None when there is none (see module docs)."""
    if not response:
        return None
    text = agent_prose(response)
    if text is None:
        return None
    tags = [t for t in _ANSWER_TAG.findall(text) if t.strip()]
    if tags:
        boxed = last_boxed(tags[-1])
        return boxed if boxed is not None else _clean(unwrap_boxes(tags[-1]))
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    return _answer_line(text)
