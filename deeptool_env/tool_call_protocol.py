"""The native tool-call protocol (`protocol="tools"`): Hermes-style JSON tool calls.

A turn is free thinking in `<think>...</think>` followed by exactly one tool call in the
form Qwen2.5 and SmolLM2-family chat templates render:

    <tool_call>
    {"name": "python", "arguments": {"code": "print(2 + 2)"}}
    </tool_call>

`python` runs its `code` in the episode's sandbox session; `answer` submits its `answer`
(the final answer ends the episode, like `<answer>` in the tag protocol). The system
prompt is the instructions followed by the tool schema exactly as Qwen2.5's template
renders `tools=TOOLS`, so a conversation rendered without `tools=` is the same text as
the instructions rendered with it. Everything else (tool output, sandbox, perturbations,
rewards, grader) is the tag protocol's. Parse failures are values, never exceptions.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .protocol import ParsedAction, dedent_code, invalid, split_thinking, tag_blocks

#: Stop sequences that end a turn right after its tool call.
STOP_SEQUENCES: tuple[str, ...] = ("</tool_call>",)

#: The tools as JSON schemas (OpenAI function format: `apply_chat_template(tools=...)` and
#: a server's `tools=` take this list as it is).
TOOLS: tuple[dict[str, Any], ...] = (
    {"type": "function", "function": {
        "name": "python",
        "description": "Run Python in a persistent session (variables and imports stay "
                       "across turns; math, numpy and sympy are available). Returns the "
                       "printed text and the value of a final bare expression. Tool "
                       "output may be cut or wrong: check surprising results.",
        "parameters": {"type": "object", "properties": {
            "code": {"type": "string", "description": "The Python source to run."}},
            "required": ["code"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "answer",
        "description": "Give the final answer; it ends the episode.",
        "parameters": {"type": "object", "properties": {
            "answer": {"type": "string",
                       "description": "The final answer, e.g. \\boxed{42}."}},
            "required": ["answer"], "additionalProperties": False}}},
)
#: The one argument each tool takes.
ARGUMENT = {"python": "code", "answer": "answer"}

INSTRUCTIONS = """\
You are solving a math problem and you have a Python interpreter, reached through tools.
Each of your turns is: optional reasoning inside <think>...</think>, then exactly ONE tool \
call. Call `python` to run code (you get its output back in the tool response) or \
`answer` with the final answer (e.g. \\boxed{42}). Give the final answer only when you \
are sure; it ends the episode. You have at most {max_turns} turns."""

_CALL_EXAMPLE = ('<tool_call>\n{"name": "python", "arguments": {"code": "print(1 + 1)"}}\n'
                 '</tool_call>')
_SIGNATURES = ('"python" takes {"code": "<python source>"} and "answer" takes '
               '{"answer": "<final answer>"}')
ERROR_HINTS = {
    "no_action": "Your turn had no tool call. End every turn with exactly one, e.g. "
                 f"{_CALL_EXAMPLE}, or the answer tool: "
                 '{"name": "answer", "arguments": {"answer": "\\\\boxed{2}"}}.',
    "unclosed_tag": "A tag in your turn was opened but never closed ({detail}). Close it.",
    "multiple_actions": "Your turn had {detail} tool calls and none was run. Make exactly "
                        "one tool call per turn.",
    "empty_code": 'The python call\'s "code" was empty. Put the Python to run in it.',
    "too_long": "Your turn was longer than {detail} characters and was not run. "
                "Write shorter turns.",
    "bad_json": "The text inside <tool_call>...</tool_call> is not valid JSON ({detail}). "
                'Write one JSON object such as {"name": "python", "arguments": {"code": '
                '"x = 1\\nprint(x)"}}: newlines and quotes inside strings are escaped.',
    "bad_call": 'A tool call is one JSON object with exactly the keys "name" and '
                '"arguments" ({detail}).',
    "unknown_tool": "There is no tool named {detail}. " + _SIGNATURES + ".",
    "bad_arguments": "Bad arguments ({detail}). " + _SIGNATURES + ", nothing else.",
    "call_in_thinking": "Your tool call was inside <think>...</think>, where nothing runs. "
                        "Close </think> first, then write the <tool_call>.",
}
_RESPONSE = re.compile(r"<tool_response>.*?(?:</tool_response>|$)", re.S | re.I)
_SHOWN = 60  # characters of a model-written name quoted back in an error


def tools_block(tools: tuple[dict[str, Any], ...] = TOOLS) -> str:
    """The tool schema as Qwen2.5's chat template appends it to the system message."""
    lines = "".join("\n" + json.dumps(tool, ensure_ascii=False) for tool in tools)
    return ("\n\n# Tools\n\nYou may call one or more functions to assist with the user "
            "query.\n\nYou are provided with function signatures within <tools></tools> "
            f"XML tags:\n<tools>{lines}\n</tools>\n\nFor each function call, return a json "
            "object with function name and arguments within <tool_call></tool_call> XML "
            'tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
            "\n</tool_call>")


def instructions(max_turns: int) -> str:
    """The system message without the tool schema (for `apply_chat_template(tools=...)`)."""
    return INSTRUCTIONS.replace("{max_turns}", str(max_turns))


def system_prompt(max_turns: int) -> str:
    """The system message: the instructions, then the tool schema."""
    return instructions(max_turns) + tools_block()


def format_call(name: str, arguments: dict[str, Any] | str) -> str:
    """One tool call as the template writes it; `arguments` is a dict, or JSON text that is
    put in as it is (a server's raw, possibly malformed, arguments string)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments,
                                                                   ensure_ascii=False)
    return (f'<tool_call>\n{{"name": {json.dumps(name, ensure_ascii=False)}, '
            f'"arguments": {text}}}\n</tool_call>')


def parse_tool_call(text: str, *, max_chars: int) -> ParsedAction:
    """Parse one assistant turn (see the module docstring for the protocol)."""
    if len(text) > max_chars:
        return invalid("too_long", str(max_chars))
    thinking, region, think_unclosed = split_thinking(text)
    call_in_thinking = "<tool_call>" in thinking.lower()
    if think_unclosed:
        return invalid("call_in_thinking" if call_in_thinking else "unclosed_tag",
                       "<think>", thinking)
    hallucinated = bool(_RESPONSE.search(region))
    blocks, unclosed = tag_blocks(_RESPONSE.sub("", region), "tool_call")
    if unclosed:
        return invalid("unclosed_tag", "<tool_call>", thinking)
    if not blocks:
        return invalid("call_in_thinking" if call_in_thinking else "no_action",
                       thinking=thinking)
    if len(blocks) > 1:
        return invalid("multiple_actions", str(len(blocks)), thinking)
    return _read_call(blocks[0], thinking, hallucinated)


def _read_call(block: str, thinking: str, hallucinated: bool) -> ParsedAction:
    """The action one `<tool_call>` block asks for, or why it asks for none."""
    try:
        call = json.loads(block)
    except RecursionError:
        return invalid("bad_json", "nested too deeply", thinking)
    except json.JSONDecodeError as error:
        return invalid("bad_json", f"{error.msg} at character {error.pos}", thinking)
    except ValueError as error:  # e.g. an integer longer than Python converts
        return invalid("bad_json", str(error)[:200], thinking)
    if not isinstance(call, dict) or set(call) != {"name", "arguments"}:
        found = sorted(call)[:5] if isinstance(call, dict) else type(call).__name__
        return invalid("bad_call", f"got {found}"[:_SHOWN], thinking)
    name, arguments = call["name"], call["arguments"]
    if not isinstance(name, str) or name not in ARGUMENT:
        return invalid("unknown_tool", repr(name)[:_SHOWN], thinking)
    key = ARGUMENT[name]
    if not isinstance(arguments, dict) or set(arguments) != {key}:
        given = sorted(arguments)[:5] if isinstance(arguments, dict) else "not an object"
        return invalid("bad_arguments", f"{name} got {str(given)[:_SHOWN]}", thinking)
    value = arguments[key]
    if name == "answer" and type(value) is int:
        value = str(value)
    if not isinstance(value, str):
        return invalid("bad_arguments", f"{name}'s {key!r} must be a string", thinking)
    if name == "answer":
        if "answer>" in value.lower():
            return invalid("bad_arguments", "the answer holds <answer> tags", thinking)
        return ParsedAction("answer", answer=value.strip(), thinking=thinking,
                            hallucinated_output=hallucinated)
    if not value.strip():
        return invalid("empty_code", thinking=thinking)
    return ParsedAction("code", code=dedent_code(value), thinking=thinking,
                        hallucinated_output=hallucinated)


def graded_text(parsed: ParsedAction) -> str:
    """What the grader reads for an answer call: the tag protocol's `<answer>` form."""
    return f"<answer>{parsed.answer}</answer>"


def render_error(parsed: ParsedAction) -> str:
    """The tool response that tells the model what was wrong with its turn."""
    assert parsed.error is not None
    hint = ERROR_HINTS[parsed.error].replace("{detail}", parsed.detail)
    return f"<error>\n{hint}\n</error>"
