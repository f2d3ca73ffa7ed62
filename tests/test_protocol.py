"""The turn protocol: every action form and every parse error."""

from __future__ import annotations

import pytest

from deeptool_env.protocol import PARSE_ERRORS, parse_action, render_error, render_output


def parse(text: str):
    return parse_action(text, max_chars=1000)


@pytest.mark.parametrize("text, code", [
    ("<think>plan</think><code>print(1)</code>", "print(1)"),
    ("<code>\nx = 1\nprint(x)\n</code>", "x = 1\nprint(x)"),
    ("no think tags <code>print(2)</code>", "print(2)"),
    ("<think>t</think>\n```python\nprint(3)\n```", "print(3)"),
    ("```py\n    a = 1\n    print(a)\n```", "a = 1\nprint(a)"),
    ("<think>x</think><code>print(1)</code><output>1</output>", "print(1)"),
    ("<think>I might write <code>bad</code> here</think><code>good()</code>", "good()"),
])
def test_code_actions(text, code):
    parsed = parse(text)
    assert (parsed.kind, parsed.code, parsed.error) == ("code", code, None)


@pytest.mark.parametrize("text, answer", [
    ("<think>done</think><answer>42</answer>", "42"),
    ("<answer>\\boxed{\\frac{1}{2}}</answer>", "\\boxed{\\frac{1}{2}}"),
    ("So the result is \\boxed{17}.", "\\boxed{17}"),
    ("<think>maybe \\boxed{3}</think> final: \\boxed{5}", "\\boxed{5}"),
    ("\\boxed{\\{1, 2\\}} and again \\boxed{\\{1, 2\\}}", "\\boxed{\\{1, 2\\}}"),
])
def test_answer_actions(text, answer):
    parsed = parse(text)
    assert (parsed.kind, parsed.answer) == ("answer", answer)


@pytest.mark.parametrize("text, error", [
    ("I think the answer is 4", "no_action"),
    ("<think>still thinking", "unclosed_tag"),
    ("<code>print(1)", "unclosed_tag"),
    ("<answer>4", "unclosed_tag"),
    ("```python\nprint(1)\n", "unclosed_tag"),
    ("<code>print(1)</code><code>print(2)</code>", "multiple_actions"),
    ("<answer>1</answer><answer>2</answer>", "multiple_actions"),
    ("\\boxed{1} or \\boxed{2}", "multiple_actions"),
    ("<code>   \n</code>", "empty_code"),
    ("<code>print(1)</code><answer>1</answer>", "answer_and_code"),
    ("<code>x = 1</code> so \\boxed{1}", "answer_and_code"),
    ("<code>" + "x" * 2000 + "</code>", "too_long"),
])
def test_parse_errors_are_values(text, error):
    parsed = parse(text)
    assert parsed.kind == "invalid" and parsed.error == error
    message = render_error(parsed)
    assert message.startswith("<error>") and len(message) > 40


def test_every_parse_error_is_covered_by_a_hint():
    from deeptool_env.protocol import ERROR_HINTS

    assert set(ERROR_HINTS) == set(PARSE_ERRORS)


def test_hallucinated_output_is_flagged_and_ignored():
    parsed = parse("<code>print(1)</code>\n<output>\n99\n</output>")
    assert parsed.kind == "code" and parsed.hallucinated_output


def test_render_output_truncates_head_and_tail():
    text = render_output("\n".join(str(i) for i in range(1000)), "", "ok", 100)
    assert text.startswith("<output>\n0\n1") and text.endswith("999\n</output>")
    assert "characters omitted" in text
    assert "no output" in render_output("", "", "ok", 100)
    assert "Traceback" in render_output("", "Traceback ...", "error", 100)
