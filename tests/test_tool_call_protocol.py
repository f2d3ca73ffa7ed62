"""The native tool-call protocol (`protocol="tools"`): every call form, every parse error,
hostile calls, and the same rewards as the tag protocol for the same turns."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from deeptool_env.env_config import EnvConfigError
from deeptool_env.tool_call_protocol import (
    ERROR_HINTS,
    TOOLS,
    format_call,
    parse_tool_call,
    render_error,
    system_prompt,
)

MAX_CHARS = 32768


def parse(text: str):
    return parse_tool_call(text, max_chars=MAX_CHARS)


def call(name: str, arguments: object) -> str:
    return format_call(name, arguments)


@pytest.mark.parametrize("text, kind, value", [
    (call("python", {"code": "print(1)"}), "code", "print(1)"),
    ("<think>plan</think>\n" + call("python", {"code": "\n    x = 1\n    print(x)\n"}),
     "code", "x = 1\nprint(x)"),
    ('<tool_call>{"name":"python","arguments":{"code":"print(2)"}}</tool_call>', "code",
     "print(2)"),
    (call("answer", {"answer": "\\boxed{17}"}), "answer", "\\boxed{17}"),
    (call("answer", {"answer": 17}), "answer", "17"),
    ("<think>maybe " + call("python", {"code": "bad()"}) + "</think>"
     + call("python", {"code": "good()"}), "code", "good()"),
])
def test_calls(text, kind, value):
    parsed = parse(text)
    assert parsed.kind == kind and parsed.error is None
    assert (parsed.code if kind == "code" else parsed.answer) == value


def test_a_tool_response_the_model_writes_is_ignored_and_flagged():
    parsed = parse(call("python", {"code": "print(1)"}) + "\n<tool_response>\n"
                   + call("python", {"code": "print(2)"}) + "\n</tool_response>")
    assert (parsed.kind, parsed.code, parsed.hallucinated_output) == ("code", "print(1)", True)


@pytest.mark.parametrize("text, error, hint", [
    ("The answer is 4.", "no_action", "<tool_call>"),
    ("<code>print(1)</code>", "no_action", '"name": "python"'),
    ("<answer>\\boxed{4}</answer>", "no_action", '"name": "answer"'),
    ("<think>still thinking", "unclosed_tag", "<think>"),
    ('<tool_call>{"name": "python", "arguments": {"code": "1"}}', "unclosed_tag",
     "<tool_call>"),
    (call("python", {"code": "1"}) + call("python", {"code": "2"}), "multiple_actions",
     "one tool call"),
    ('<tool_call>{"name": "python", "arguments": {"code": "print(1)\n"}}</tool_call>',
     "bad_json", "escaped"),
    ("<tool_call>{'name': 'python'}</tool_call>", "bad_json", "JSON"),
    ("<tool_call>[1, 2]</tool_call>", "bad_call", '"arguments"'),
    ('<tool_call>{"name": "python"}</tool_call>', "bad_call", '"arguments"'),
    ('<tool_call>{"name": "python", "arguments": {"code": "1"}, "id": 1}</tool_call>',
     "bad_call", '"name"'),
    (call("shell", {"cmd": "ls"}), "unknown_tool", "'shell'"),
    ('<tool_call>{"name": 3, "arguments": {}}</tool_call>', "unknown_tool", '"python"'),
    (call("python", {}), "bad_arguments", '{"code"'),
    (call("python", {"code": "1", "timeout": 99}), "bad_arguments", "nothing else"),
    (call("python", {"code": ["print(1)"]}), "bad_arguments", "must be a string"),
    (call("python", '"print(1)"'), "bad_arguments", "not an object"),
    (call("answer", {"answer": None}), "bad_arguments", "must be a string"),
    (call("answer", {"answer": "1</answer><answer>2"}), "bad_arguments", "<answer>"),
    (call("python", {"code": "  \n"}), "empty_code", '"code"'),
    ("<think>" + call("python", {"code": "1"}) + "</think>", "call_in_thinking", "</think>"),
    ("<think>" + call("python", {"code": "1"}), "call_in_thinking", "</think>"),
    (call("python", {"code": "x" * MAX_CHARS}), "too_long", str(MAX_CHARS)),
])
def test_parse_errors_are_values_that_say_how_to_fix(text, error, hint):
    parsed = parse(text)
    assert parsed.kind == "invalid" and parsed.error == error
    message = render_error(parsed)
    assert message.startswith("<error>") and hint in message and len(message) < 1000


def test_every_error_has_a_hint():
    from deeptool_env.protocol import PARSE_ERRORS, ToolCallError

    assert set(ERROR_HINTS) <= set(PARSE_ERRORS) | set(ToolCallError.__args__)


@pytest.mark.parametrize("bomb", [
    "[" * 16000 + "]" * 16000,
    '{"name": "python", "arguments": ' + '{"a": ' * 4000 + "{}" + "}" * 4001,
    '{"name": "python", "arguments": {"code": ' + "9" * 20000 + "}}",
    '{"name": "python", "arguments": {"code": [' + "[]," * 10000 + "[]]}}",
    '{"name": "' + "p" * 30000 + '", "arguments": {}}',
], ids=["deep-list", "deep-arguments", "huge-int", "wide-list", "huge-name"])
def test_json_bombs_are_bounded_parse_errors(bomb):
    parsed = parse(f"<tool_call>{bomb}</tool_call>")
    assert parsed.kind == "invalid" and parsed.error in {"bad_json", "bad_call",
                                                          "unknown_tool", "bad_arguments"}
    assert len(render_error(parsed)) < 1000


def make(protocol: str, **options):
    return gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", protocol=protocol,
                    max_turns=4, **options)


def test_reset_gives_the_tool_schema():
    env = make("tools")
    _, info = env.reset(seed=0)
    env.close()
    assert info["protocol"] == "tools" and info["tools"] == [dict(t) for t in TOOLS]
    assert info["messages"][0] == {"role": "system", "content": system_prompt(4)}
    assert json.dumps(TOOLS[0], ensure_ascii=False) in info["messages"][0]["content"]
    with pytest.raises(EnvConfigError, match="tags"):
        make("json")


def nth_prime_answer(info) -> str:
    import sympy

    n = int(info["messages"][1]["content"].split("p_{")[1].split("}")[0])
    return str(sympy.prime(n))


@pytest.mark.parametrize("perturbation", ["none", "adversarial"])
def test_equivalent_tag_and_tool_turns_get_equal_terms(perturbation):
    """The same code and the same answer, written in each protocol, give the same
    observations, reward terms, perturbations and verdict."""
    played = {}
    for protocol in ("tags", "tools"):
        env = make(protocol, perturbation=perturbation)
        _, info = env.reset(seed=3)
        answer = nth_prime_answer(info)
        codes = ["import sympy\nprint(sympy.prime(3))", "print(1/0)", "x = 2\nx * 21"]
        turns = [f"<think>t</think><code>{c}</code>" if protocol == "tags"
                 else "<think>t</think>" + call("python", {"code": c}) for c in codes]
        turns.append(f"<answer>\\boxed{{{answer}}}</answer>" if protocol == "tags"
                     else call("answer", {"answer": f"\\boxed{{{answer}}}"}))
        steps = [env.step(turn) for turn in turns]
        env.close()
        played[protocol] = [(obs, reward, info["reward_terms"], info.get("perturbation"),
                             info.get("verdict", {}).get("correct")) for obs, reward, _, _,
                            info in steps]
    assert played["tags"] == played["tools"]
    assert played["tools"][-1][-1] is True
    perturbed = [step[3] for step in played["tools"] if step[3] is not None]
    assert len(perturbed) == (0 if perturbation == "none" else 3)


@pytest.mark.parametrize("turn", [
    call("answer", {"answer": "ANSWER", "confidence": 1}),
    '<tool_call>{"name": "answer", "arguments": {"answer": "ANSWER"}</tool_call>',
    "<answer>\\boxed{ANSWER}</answer>",
    "<think>" + call("answer", {"answer": "ANSWER"}) + "</think>",
    call("answer", {"answer": "ANSWER"}) + call("answer", {"answer": "ANSWER"}),
    call("Answer", {"answer": "ANSWER"}),
    call("python", {"code": "print(ANSWER)", "answer": "ANSWER"}),
])
def test_malformed_calls_earn_nothing(turn):
    """A malformed call holding the right answer (or runnable code) gets no outcome, runs
    nothing, and every reward term is zero or a penalty."""
    env = make("tools")
    _, info = env.reset(seed=2)
    observation, reward, terminated, _, info = env.step(
        turn.replace("ANSWER", nth_prime_answer(info)))
    env.close()
    assert info["action_kind"] == "invalid" and not terminated
    assert info["tool_calls"] == 0 and "tool" not in info and "verdict" not in info
    assert all(value <= 0 for value in info["reward_terms"].values())
    assert reward < 0 and observation.startswith("<error>")
