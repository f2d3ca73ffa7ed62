"""Trajectory synthesis end to end, through a real OpenAI-compatible server on 127.0.0.1.

The teacher is `FakeOpenAIServer` with hand-written rewrites of the first five AIME 1983
train problems (`aime_1983_2023`, read from the shared data dir): 01-03 compute the right
answer with sympy in two code turns, 04 computes a wrong answer, 05 is malformed
(reasoning that never reaches an action). Recovery requests get a short thought.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agents.rollout import tokenize_conversation
from agents.training.synthesis import SettingsMismatchError, SynthesisConfig, synthesize
from agents.training.synthesis import cli as synth_cli
from deeptool_env import protocol, sandbox
from tests.fake_openai_server import FakeOpenAIServer, Reply

SECRET = "sk-synthesis-test-secret-0123456789"
CORRECT = {"aime_hist-1983-01", "aime_hist-1983-02", "aime_hist-1983-03"}

REWRITES: dict[str, str] = {
    # aime_hist-1983-01 (answer 60)
    "log_{xyz} w = 12": """\
<think>Write everything in units of ln w: ln x = 1/24, ln y = 1/40, and ln(xyz) = 1/12. \
I can solve for ln z with sympy.</think>
```python
import sympy as sp
lz = sp.symbols('lz', positive=True)
sol = sp.solve(sp.Eq(1/(sp.Rational(1, 24) + sp.Rational(1, 40) + lz), 12), lz)
print(sol)
```
```output
[1/60]
```
<think>So ln z is a fraction of ln w; log_z w is its reciprocal.</think>
<code>
print(1/sol[0])
</code>
<think>The tool printed the reciprocal.</think>
<answer>\\boxed{60}</answer>""",
    # aime_hist-1983-02 (answer 15)
    "|x-p|+|x-15|+|x-p-15|": """\
<think>On p <= x <= 15 each absolute value has a fixed sign. Let me simplify.</think>
<code>
import sympy as sp
x, p = sp.symbols('x p', real=True)
f = (x - p) + (15 - x) + (p + 15 - x)
print(sp.simplify(f))
</code>
<think>f = 30 - x decreases in x, so the minimum is at x = 15.</think>
<code>
print(f.subs(x, 15))
</code>
<think>The minimum value is what the tool printed.</think>
<answer>\\boxed{15}</answer>""",
    # aime_hist-1983-03 (answer 20)
    "2 \\sqrt{x^2 + 18x + 45}": """\
<think>Solve the equation with sympy and keep the real roots.
<code>
import sympy as sp
x = sp.symbols('x', real=True)
roots = sp.solve(sp.Eq(x**2 + 18*x + 30, 2*sp.sqrt(x**2 + 18*x + 45)), x)
print(roots)
</code>
<think>Two real roots; their product:</think>
<code>
print(sp.simplify(sp.prod(roots)))
</code>
<think>The product is the printed value.</think>
<answer>\\boxed{20}</answer>""",
    # aime_hist-1983-04 (answer 26): a wrong rewrite
    "notched circle": """\
<think>I guess the square of the distance is the radius squared minus one.</think>
<code>
r2 = 50
print(r2 - 25)
</code>
<think>That gives 25.</think>
<answer>\\boxed{25}</answer>""",
    # aime_hist-1983-05 (answer 4): malformed, never reaches an action
    "sum of the cubes is $10$": "<think>Let s = x + y and p = xy. Then s^2 - 2p = 7 and "
                                "s^3 - 3sp = 10, so",
}

RECOVERY = "Wait, that result does not look right. I will run the same cell again."


def teacher(body: dict[str, Any]) -> Reply:
    """The server's responder: a rewrite or a recovery thought."""
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if system.startswith("You write one short"):
        return Reply(RECOVERY)
    for phrase, text in REWRITES.items():
        if phrase in user:
            return Reply(text)
    return Reply("I do not know this problem.")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def make_config(data_dir: Path, out: Path, base_url: str, **overrides: Any) -> SynthesisConfig:
    """Five problems, every code turn perturbed (one tool-side, one code-side kind)."""
    options: dict[str, Any] = dict(
        train_data="aime_1983_2023", data_dir=str(data_dir), out=str(out), limit=5,
        base_url=base_url, batch_size=4, perturb_rate=1.0, max_perturbations=2,
        extrinsic_kinds=("transient_error",), intrinsic_kinds=("syntax_error",),
        intrinsic_share=0.5, progress=False)
    return SynthesisConfig(**{**options, **overrides})


@pytest.fixture(scope="module")
def server():
    with pytest.MonkeyPatch.context() as patch, FakeOpenAIServer(teacher) as fake:
        patch.setenv("DEEPTOOL_OPENAI_API_KEY", SECRET)
        for name in ("OPENAI_API_KEY", "DEEPTOOL_OPENAI_MODEL", "DEEPTOOL_OPENAI_BASE_URL"):
            patch.delenv(name, raising=False)
        yield fake


@pytest.fixture(scope="module")
def run(server, data_dir, tmp_path_factory):
    """One synthesis run that the read-only tests below inspect."""
    out = tmp_path_factory.mktemp("synth") / "aime.jsonl"
    config = make_config(data_dir, out, server.base_url)
    summary = synthesize(config)
    return SimpleNamespace(config=config, summary=summary, out=out,
                           kept=read_jsonl(out), rejects=read_jsonl(summary.rejects),
                           requests=len(server.requests))


def test_keeps_correct_rewrites_and_rejects_the_rest_with_reasons(run):
    assert {r["task_id"] for r in run.kept} == CORRECT
    reasons = {r["task_id"]: r for r in run.rejects}
    assert set(reasons) == {"aime_hist-1983-04", "aime_hist-1983-05"}
    wrong = reasons["aime_hist-1983-04"]
    assert wrong["reason"] == "wrong_answer" and "'25'" in wrong["detail"]
    assert reasons["aime_hist-1983-05"]["reason"].startswith("parse:")
    assert run.summary.kept == 3 and sum(run.summary.rejected.values()) == 2
    for record in run.kept:
        assert record["verdict"]["correct"] is True
        assert record["messages"][-1]["role"] == "assistant"
        assert "<output>" not in "".join(m["content"] for m in record["messages"]
                                         if m["role"] == "assistant")
    assert "kept 3, rejected 2" in run.summary.render()


def test_observations_are_what_the_sandbox_really_prints(run):
    """Re-run every assistant code turn in a fresh session of our own: each observation
    the trajectory shows is that output, except the tool-side anomalies (which then
    differ) whose next (recovery) turn shows the real one."""
    with sandbox.create("local", timeout_s=10.0) as box:
        for record in run.kept:
            with box.session() as session:
                messages = record["messages"]
                for turn in record["turns"]:
                    index = 2 * turn["turn"]  # messages: system, user, then pairs
                    parsed = protocol.parse_action(messages[index]["content"], max_chars=32768)
                    if parsed.kind != "code":
                        continue
                    result = session.run(parsed.code, timeout_s=10.0)
                    real = protocol.render_output(result.stdout, result.stderr, result.status,
                                                  2048)
                    shown = messages[index + 1]["content"]
                    injection = next((i for i in record["injections"]
                                      if i["turn"] == turn["turn"]), None)
                    if injection and injection["family"] == "extrinsic":
                        assert shown != real and "[sandbox]" in shown
                    else:
                        assert shown == real, (record["task_id"], turn)


def test_every_code_turn_gets_an_anomaly_and_a_recovery(run):
    families = set()
    for record in run.kept:
        turns, messages = record["turns"], record["messages"]
        assert len(record["injections"]) == 2  # both teacher code turns
        for injection in record["injections"]:
            families.add(injection["family"])
            bad, fix = turns[injection["turn"] - 1], turns[injection["recovery_turn"] - 1]
            assert bad["role"] == "perturbed" and fix["role"] == "recovery"
            assert injection["recovery_turn"] == injection["turn"] + 1
            shown = messages[2 * injection["turn"] + 1]["content"]
            fixed_code = protocol.parse_action(messages[2 * fix["turn"]]["content"],
                                               max_chars=32768).code
            if injection["family"] == "intrinsic":
                assert injection["kind"] == "syntax_error" and bad["status"] == "error"
                assert re.search(r"(Syntax|Indentation)Error", shown)  # the real traceback
                assert "<cell-" in shown
                assert injection["params"]["original_line"] in fixed_code
            else:
                assert injection["kind"] == "transient_error" and bad["status"] == "ok"
                assert bad["shown_status"] == "sandbox_error"
            assert "run the same cell again" in messages[2 * fix["turn"]]["content"]
            assert injection["recovery_writer"] == "llm"
    assert families == {"extrinsic", "intrinsic"}
    assert run.summary.perturbations == {"transient_error": sum(
        i["family"] == "extrinsic" for r in run.kept for i in r["injections"]),
        "syntax_error": sum(i["family"] == "intrinsic" for r in run.kept
                            for i in r["injections"])}


def test_kept_messages_tokenize_with_observations_masked(run):
    pytest.importorskip("transformers")
    import torch
    from transformers import AutoTokenizer

    from tests.tiny_model import shared_tiny_model

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(str(shared_tiny_model()))
    for record in run.kept:
        trajectory = tokenize_conversation(tokenizer, record["messages"])
        assistant = [m["content"] for m in record["messages"] if m["role"] == "assistant"]
        generated = [i for i, m in zip(trajectory.ids, trajectory.loss_mask, strict=True) if m]
        context = [i for i, m in zip(trajectory.ids, trajectory.loss_mask, strict=True) if not m]
        assert tokenizer.decode(generated) == "".join(assistant)
        observations = [m["content"] for m in record["messages"][2:] if m["role"] == "user"]
        assert observations and all(o in tokenizer.decode(context) for o in observations)
        assert trajectory.actions == assistant


def test_provenance_is_complete_and_holds_no_secret(run, server):
    assert any(r.get("headers", {}).get("Authorization") == f"Bearer {SECRET}"
               for r in server.requests)  # the key was used ...
    for path in (run.out, run.summary.rejects, run.out.with_name("aime.manifest.json")):
        assert SECRET not in Path(path).read_text()  # ... and stored nowhere
    provenance = run.kept[0]["provenance"]
    assert provenance["source"]["name"] == "aime_1983_2023"
    assert len(provenance["source"]["sha256"]) == 64
    teacher = provenance["teacher"]
    assert teacher["model"] == "fake-model" and teacher["endpoint"] == run.config.base_url
    assert teacher["sampling"]["temperature"] == run.config.temperature
    assert provenance["prompt_version"] and provenance["seed"] == 0
    assert provenance["deeptool_version"] and provenance["sandbox"]["backend"] == "local"
    assert provenance["created"]


def test_resume_skips_done_problems_repairs_a_torn_line_refuses_other_settings(
        run, server, tmp_path):
    out = tmp_path / "aime.jsonl"
    for name in ("aime.jsonl", "aime.rejects.jsonl", "aime.manifest.json"):
        shutil.copy(run.out.with_name(name), tmp_path / name)
    config = make_config(run.config.data_dir, out, server.base_url)
    before = len(server.requests)
    again = synthesize(config)
    assert len(server.requests) == before  # nothing asked again
    assert again.already_done == 5 and again.processed == 0

    lines = out.read_text().splitlines(keepends=True)
    torn = lines[-1][: len(lines[-1]) // 2]  # killed while writing the last record
    out.write_text("".join(lines[:-1]) + torn)
    resumed = synthesize(config)
    assert resumed.kept == 1 and resumed.already_done == 4
    kept = read_jsonl(out)
    assert sorted(r["task_id"] for r in kept) == sorted(CORRECT)

    with pytest.raises(SettingsMismatchError, match="perturb_rate: 1.0 -> 0.5"):
        synthesize(make_config(run.config.data_dir, out, server.base_url, perturb_rate=0.5))


def test_cli_synth_command(server, data_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="deeptool-train")
    synth_cli.register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "cli.jsonl"
    args = parser.parse_args([
        "synth", "--train-data", "aime_1983_2023", "--data-dir", str(data_dir),
        "--base-url", server.base_url, "--out", str(out), "--limit", "5",
        "--perturb-rate", "0.5", "--recovery", "template", "--extrinsic-kinds",
        "[tool_timeout, empty_output]", "--progress", "false"])
    assert args.run(parser, args) == 0
    assert sorted(r["task_id"] for r in read_jsonl(out)) == sorted(CORRECT)
    assert len(read_jsonl(tmp_path / "cli.rejects.jsonl")) == 2
    assert "kept 3, rejected 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", "--help"])
    text = capsys.readouterr().out
    assert "example:" in text and "--perturb-rate" in text and "recovery turn" in text
