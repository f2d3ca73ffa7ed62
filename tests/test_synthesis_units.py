"""Unit tests of the synthesis pieces: parsing teacher replies, settings, injection plans,
recovery thoughts, problem selection, teacher failures (no server, no data dir)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.base import ChatAgent, Generation
from agents.openai_agent import OpenAIHTTPError
from agents.training.synthesis import SynthesisConfig, parse_rewrite, select_tasks, synthesize
from agents.training.synthesis.parse import TeacherTurn
from agents.training.synthesis.perturb import (
    Injection,
    clean_thought,
    plan_injections,
    task_rng,
    template_thought,
)
from agents.training.synthesis.replay import Replayer
from agents.training.synthesis.teacher import public_url
from agents.training.synthesis.trajectory import clean_reference, env_plan, play
from deeptool_env import protocol
from deeptool_env.tasks import load_tasks


def test_parse_tolerates_fences_invented_outputs_and_missing_tags():
    text = ("Let me start. <think>add them</think>```python\nx = 1 + 1\nprint(x)\n```\n"
            "```output\n2\n```\n<think>now double<code>\n    print(2 * x)\n<output>4</output>"
            "<think>done</think> so the answer is \\boxed{4}.")
    parsed = parse_rewrite(text, max_turns=8)
    assert parsed.ok and parsed.dropped_outputs == 2
    assert [t.kind for t in parsed.turns] == ["code", "code", "answer"]
    assert parsed.turns[0] == TeacherTurn("code", "add them", "x = 1 + 1\nprint(x)")
    assert parsed.turns[1].body == "print(2 * x)" and parsed.turns[1].thought == "now double"
    assert parsed.turns[2].body == "\\boxed{4}"
    for turn in parsed.turns:  # the env reads every turn as the same action
        action = protocol.parse_action(turn.action, max_chars=32768)
        assert action.kind == turn.kind and not action.hallucinated_output


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("I would just guess.", "no_action"),
    ("<think>a</think><code>print(1)</code>", "no_answer"),
    ("<think>a</think><answer>3</answer>", "no_code"),
    ("<code>print(1)</code><answer>1</answer><code>print(2)</code>", "answer_not_last"),
    ("<code>  \n</code><answer>1</answer>", "empty_code"),
    ("<code>print(1)</code>" * 8 + "<answer>1</answer>", "too_many_turns"),
    ("<think>x</think><code>print(1)</code><answer>\\boxed{1} \\boxed{2}</answer>", None),
])
def test_parse_rejections_name_the_reason(text, reason):
    parsed = parse_rewrite(text, max_turns=8)
    assert parsed.error == reason
    assert bool(parsed.detail) == (reason is not None)


@pytest.mark.parametrize("options, message", [
    ({"llm": "gpt"}, "llm must be one of"),
    ({"perturb_rate": 1.5}, "perturb_rate must be a number in"),
    ({"extrinsic_kinds": ["stale_output"]}, "unsupported kind 'stale_output'"),
    ({"intrinsic_kinds": ["tool_timeout"]}, "intrinsic_kinds: unknown"),
    ({"intrinsic_kinds": [], "intrinsic_share": 0.5}, "--intrinsic-share 0"),
    ({"out": "x.json"}, "out must be a .jsonl path"),
    ({"min_code_turns": 8}, "must be below max_turns"),
    ({"api_key_env": "NO_SUCH_VARIABLE_SET"}, "export NO_SUCH_VARIABLE_SET"),
    ({"perturb_rat": 0.1}, "did you mean 'perturb_rate'"),
])
def test_settings_errors_say_how_to_fix(options, message):
    with pytest.raises(ValueError, match=message):
        SynthesisConfig.from_dict(options)


def test_settings_from_text_lists():
    config = SynthesisConfig.from_dict({"extrinsic_kinds": "tool_timeout, empty_output",
                                        "temperature": 1})
    assert config.extrinsic_kinds == ("tool_timeout", "empty_output")
    assert isinstance(config.temperature, float)


def _turns(codes: int) -> list[TeacherTurn]:
    code = "n = 12\nfor k in range(3):\n    n += k\nprint(n)"
    return [TeacherTurn("code", "t", code)] * codes + [TeacherTurn("answer", "a", "\\boxed{15}")]


def test_injection_plans_are_seeded_and_capped():
    config = SynthesisConfig(perturb_rate=1.0, max_perturbations=2, intrinsic_share=0.5)
    plans = [plan_injections(_turns(4), config, task_rng(0, f"task-{i}", "plan"))
             for i in range(30)]
    again = [plan_injections(_turns(4), config, task_rng(0, f"task-{i}", "plan"))
             for i in range(30)]
    assert plans == again
    assert all(len(plan) == 2 for plan in plans)
    families = {injection.family for plan in plans for injection in plan}
    assert families == {"extrinsic", "intrinsic"}
    for injection in (i for plan in plans for i in plan if i.family == "intrinsic"):
        assert injection.code != _turns(1)[0].body and injection.kinds[0] in (
            "syntax_error", "wrong_constant")
    # recovery turns must fit in max_turns: 7 teacher turns leave room for one
    assert len(plan_injections(_turns(6), config, task_rng(0, "x", "plan"))) == 1
    assert plan_injections(_turns(7), config, task_rng(0, "x", "plan")) == []
    assert plan_injections(_turns(3), SynthesisConfig(perturb_rate=0.0), task_rng(0, "x", "p")) \
        == []


def test_recovery_thoughts():
    thought = template_thought("syntax_error", {"line": 2, "original_line": "x"})
    assert "Line 2 should read `x`" in thought
    assert "7" in template_thought("wrong_constant", {"line": 1, "old": "7", "new": "8"})
    assert template_thought("no_such_kind", {})
    assert clean_thought("<think>It timed out; run it again.</think>") == \
        "It timed out; run it again."
    for bad in ("", "<code>print(1)</code>", "so \\boxed{3}", "x" * 5000):
        assert clean_thought(bad) is None


def test_public_url_drops_credentials():
    assert public_url("https://user:pw@api.example.com:8443/v1?key=abc#x") == \
        "https://api.example.com:8443/v1"


def _write_tasks(path: Path) -> None:
    rows = [{"id": f"t{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i),
             "solution": f"It is {2 * i}." if i % 2 else None} for i in range(6)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_selection_policy(tmp_path):
    source = tmp_path / "toy.jsonl"
    _write_tasks(source)
    tasks = load_tasks(str(source))
    chosen, skipped = select_tasks(tasks, SynthesisConfig(train_data=str(source)))
    assert [t.id for t in chosen] == ["t1", "t3", "t5"] and skipped == 3
    everything = SynthesisConfig(train_data=str(source), require_solution=False, offset=1,
                                 limit=3, shuffle=True, seed=3)
    chosen, skipped = select_tasks(tasks, everything)
    assert len(chosen) == 3 and skipped == 0
    assert chosen == select_tasks(tasks, everything)[0]  # seeded order


class _Refusing(ChatAgent):
    """Refuses the problem about 3 + 3 for good (HTTP 400), answers the others badly."""

    def generate_batch(self, conversations):
        if any("3 + 3" in c[-1]["content"] for c in conversations):
            raise OpenAIHTTPError("HTTP 400: prompt too long", status=400)
        return [Generation("no idea") for _ in conversations]


def test_a_refused_request_rejects_only_its_problem(tmp_path):
    source = tmp_path / "toy.jsonl"
    _write_tasks(source)
    summary = synthesize(SynthesisConfig(train_data=str(source), out=str(tmp_path / "o.jsonl"),
                                         progress=False), llm=_Refusing())
    assert summary.rejected == {"llm_error": 1, "parse:no_action": 2}
    rejects = [json.loads(line) for line in open(summary.rejects, encoding="utf-8")]
    assert {r["task_id"]: r["reason"] for r in rejects}["t3"] == "llm_error"


def test_tool_side_injections_are_planned_on_their_env_turns():
    """Each injection before a turn adds a recovery turn; code-side ones are not env
    perturbations (the corrupted code is the action), so they are not in the env's plan."""
    plan = [Injection(3, "extrinsic", ("tool_timeout", "empty_output")),
            Injection(1, "intrinsic", ("syntax_error",), "x = (", {"line": 1}),
            Injection(0, "extrinsic", ("transient_error",))]
    assert env_plan(plan).to_dict() == {1: ["transient_error"],
                                        3 + 1 + 2: ["tool_timeout", "empty_output"]}


def test_a_code_side_anomaly_ending_in_memory_error_is_kept():
    """A corrupted cell that raises MemoryError leaves the interpreter's state in place
    (like any error), so its anomaly and recovery are kept; only the statuses that lose the
    state (`STATE_LOST_STATUSES`: timeout, killed, ...) drop an injection."""
    task = load_tasks("procedural")[0]
    turns = [TeacherTurn("code", "Store it.", "x = 41\nprint(x)"),
             TeacherTurn("answer", "Done.", f"\\boxed{{{task.answer}}}")]
    corrupted = "x = 41\nbig = bytearray(2**40)\nprint(x)"
    plan = [Injection(0, "intrinsic", ("wrong_constant",), corrupted,
                      {"line": 2, "old": "1", "new": "2**40"})]
    replayer = Replayer(SynthesisConfig(train_data="procedural", max_turns=4))
    try:
        clean = play(replayer, task.id, 0, turns, [], None)
        played = play(replayer, task.id, 0, turns, plan, clean_reference(clean, turns))
    finally:
        replayer.close()
    bad, recovery = played.episode.steps[0], played.episode.steps[1]
    assert bad.status == "memory" and bad.corrupted == "wrong_constant"
    assert recovery.role == "recovery" and recovery.observation == "<output>\n41\n</output>"
    assert played.ok and [i["kind"] for i in played.injections] == ["wrong_constant"]
