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
   b. an "Answer: ..." (also `**Answer:**`, "Final Answer:") or "final answer is ..." phrase
      written after the last box: the rest of that line, up to the end of the sentence; a
      one-sentence answer gives the value it states (`Final Answer: The largest $n$ is 34.`
      -> `34`; see `_sentence_value`);
   c. the last `\\boxed{...}` / `\\fbox{...}` whose braces balance (also `\\boxed 5`, and
      `\\boxed{185\\}` with a trailing backslash); boxes nested inside it are unwrapped
      (`\\boxed{\\boxed{5}}` -> `5`); an unclosed box is skipped; boxes just before it that only
      connectors separate (`\\boxed{1}, \\boxed{2}`, `\\boxed{a} \\text{ and } \\boxed{b}`) are
      one answer split over several boxes, joined with commas (see `boxes.final_boxes`);
   d. else the answer phrase of b. wherever it is.
4. Otherwise there is no answer (reason "no_answer"). There is deliberately no
   "last number in the text" fallback: a number mentioned on the way is not a final answer.
"""

from __future__ import annotations

import re

from .boxes import final_boxes, unwrap_boxes

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
_ANSWER_PHRASE = re.compile(r"\bfinal\s+answer\s+is\b|\banswer\s*\**\s*[:：]", re.IGNORECASE)
_SENTENCE = re.compile(r"[A-Z][a-z]+\s+\S+\s+\S+")
_NEGATION = re.compile(r"\bnot\b|n't\b", re.IGNORECASE)
_COPULA = re.compile(r"\s(?:is|are|equals|was|were)\s+")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])")
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


def _answer_line(text: str) -> tuple[str | None, int]:
    """(answer, phrase position) after the last "Answer:" / "final answer is" in `text`.

    The position is -1 when there is no such phrase.
    """
    phrases = list(_ANSWER_PHRASE.finditer(text))
    if not phrases:
        return None, -1
    last = phrases[-1]
    lines = text[last.end() :].split("\n")
    ans = lines[0]
    if not ans.strip().strip("*$"):  # "Answer:" alone on its line: take the next non-empty line
        ans = next((ln for ln in lines[1:] if ln.strip()), "")
    ans = _SENTENCE_END.split(ans, maxsplit=1)[0]
    return _sentence_value(_clean(ans)), last.start()


def _sentence_value(ans: str | None) -> str | None:
    """The value a one-sentence answer states (`The largest $n$ is 34` -> `34`).

    A sentence (a capitalised word, then at least two more words) gives what follows its last
    `is` / `are` / `equals`; without one, its only number (`Jane started 3 hours ago` -> `3`).
    A negated sentence (`not`, `n't`) states no value. Anything else is returned as it is.
    """
    if ans is None or not _SENTENCE.match(ans):
        return ans
    if _NEGATION.search(ans):
        return None
    verb = list(_COPULA.finditer(ans))
    if verb:
        return _clean(ans[verb[-1].end() :])
    numbers = _NUMBER.findall(ans)
    return numbers[0] if len(numbers) == 1 and "$" not in ans else ans


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
        boxed = final_boxes(tags[-1])
        return boxed[0] if boxed is not None else _clean(unwrap_boxes(tags[-1]))
    boxed = final_boxes(text)
    line, where = _answer_line(text)
    if boxed is not None and where < boxed[1]:
        return boxed[0]
    return line
