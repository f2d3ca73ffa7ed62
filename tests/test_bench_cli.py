"""`deeptool-bench run` is generated from `RunConfig`: every field is an option with the
same default, env options reach `gym.make`, every agent option reaches the agent (the
DEEPTOOL_OPENAI_* variables too), and any object with reset/act plays."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import fields

import pytest

from benchmarks.agent_spec import ProtocolAgent, as_agent, factory_for
from benchmarks.cli import build_parser
from benchmarks.cli import main as bench_main
from benchmarks.records import read_samples
from benchmarks.runner import SIX_BENCHMARKS, RunConfig, _env_factory, evaluate
from deeptool_env.settings import SettingsError
from deeptool_env.settings_cli import from_args
from tests.fake_openai_server import FakeOpenAIServer, Reply, good_solver
from tests.harness_agents import InstantSolver

OPENAI_VARIABLES = ("DEEPTOOL_OPENAI_BASE_URL", "OPENAI_BASE_URL", "DEEPTOOL_OPENAI_MODEL",
                    "DEEPTOOL_OPENAI_TIMEOUT_S", "DEEPTOOL_OPENAI_MAX_RETRIES",
                    "DEEPTOOL_OPENAI_CONCURRENCY", "DEEPTOOL_DATA_DIR")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in OPENAI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def parse(*words: str) -> RunConfig:
    return from_args(RunConfig, build_parser().parse_args(["run", *words]))


def test_every_field_is_an_option_and_the_defaults_agree():
    help_text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    for f in fields(RunConfig):
        assert f"--{f.name.replace('_', '-')}" in help_text
    assert parse() == RunConfig()
    assert RunConfig().benchmarks == ("procedural",)  # `auto` without a data directory


def test_env_options_reach_gym_make(tmp_path):
    config = parse("--max-episode-tokens", "999", "--tool-timeout-s", "2.5", "--env-options",
                   "{max_output_chars: 123, reward: outcome}", "--max-turns", "3")
    env = _env_factory(config, {})("procedural:nth_prime")
    try:
        options = env.unwrapped.config
        assert (options.max_episode_tokens, options.tool_timeout_s) == (999, 2.5)
        assert (options.max_output_chars, options.max_turns) == (123, 3)
    finally:
        env.close()
    with pytest.raises(SettingsError, match="did you mean 'max_turns'"):
        parse("--env-options", "{max_turn: 3}")
    with pytest.raises(SettingsError, match="--max-turns"):
        parse("--env-options", "{max_turns: 3}")
    with pytest.raises(SystemExit):
        bench_main(["run", "--k", "0"])


def test_openai_options_come_from_the_command_line_then_the_variables(monkeypatch):
    monkeypatch.setenv("DEEPTOOL_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("DEEPTOOL_OPENAI_TIMEOUT_S", "7")
    monkeypatch.setenv("DEEPTOOL_OPENAI_MAX_RETRIES", "1")
    monkeypatch.setenv("DEEPTOOL_OPENAI_CONCURRENCY", "12")
    config = parse("--agent", "openai", "--temperature", "0.2")
    agent = factory_for(config)()
    assert (agent.base_url, agent.timeout_s, agent.max_retries) == (
        "http://127.0.0.1:9/v1", 7.0, 1)
    assert config.concurrency == agent.concurrency == 12 and agent.temperature == 0.2
    config = parse("--agent", "openai", "--concurrency", "3", "--request-timeout-s", "2",
                   "--max-retries", "0", "--base-url", "http://127.0.0.1:8/v1",
                   "--agent-options", "{backoff_s: 0.25, extra_body: {top_k: 20}}")
    agent = factory_for(config)()
    assert (agent.concurrency, agent.timeout_s, agent.max_retries) == (3, 2.0, 0)
    assert (agent.base_url, agent.backoff_s, agent.extra_body) == (
        "http://127.0.0.1:8/v1", 0.25, {"top_k": 20})
    with pytest.raises(TypeError, match=r"takes no option\(s\) \['batch_sise'\]"):
        factory_for(parse("--agent", "openai", "--agent-options", "{batch_sise: 2}"))()


def test_concurrency_reaches_the_server(tmp_path):
    """12 episodes at once are 12 requests in flight (the agent was capped at 8)."""
    with FakeOpenAIServer(lambda body: _gated(body, 12)) as server:
        code = bench_main(["run", "--agent", "openai", "--base-url", server.base_url,
                           "--model", "m", "--benchmarks", "procedural:nth_prime",
                           "--limit", "6", "--k", "2", "--max-turns", "3",
                           "--concurrency", "12", "--out", str(tmp_path), "--quiet"])
        assert code == 0
        assert server.max_in_flight == 12
    assert len(read_samples(tmp_path)) == 12
    assert all(record.correct for record in read_samples(tmp_path))


def _gated(body: dict, gate: int) -> Reply:
    """good_solver's reply; first turns wait until `gate` requests are in flight."""
    reply = good_solver(body)
    reply.gate = gate if "<output>" not in body["messages"][-1]["content"] else 0
    return reply


AGENT_MODULE = '''
class Echo:
    """Implements the protocol without subclassing agents.Agent."""

    def reset(self, observation, info):
        self.turns = 0

    def act(self, observation, info):
        self.turns += 1
        return "<answer>\\\\boxed{1}</answer>"


class Silent:
    def reset(self, observation, info):
        pass
'''


def test_an_object_with_reset_and_act_plays(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_echo_agents.py").write_text(AGENT_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        code = bench_main(["run", "--agent", "my_echo_agents:Echo", "--benchmarks",
                           "procedural:nth_prime", "--limit", "2", "--k", "1", "--out",
                           str(tmp_path / "r"), "--quiet"])
        assert code == 0 and len(read_samples(tmp_path / "r")) == 2
        with pytest.raises(SystemExit):
            bench_main(["run", "--agent", "my_echo_agents:Silent", "--out", str(tmp_path)])
        assert "lacks act()" in capsys.readouterr().err
        echo = sys.modules["my_echo_agents"].Echo()
        assert isinstance(as_agent(echo), ProtocolAgent) and as_agent(echo).name == "Echo"
        with pytest.raises(TypeError, match=r"Silent is not an agent: it lacks act\(\)"):
            as_agent(sys.modules["my_echo_agents"].Silent())
    finally:
        sys.modules.pop("my_echo_agents", None)


def _run_words(base_url: str, out) -> list[str]:
    return ["run", "--agent", "openai", "--base-url", base_url, "--model", "m",
            "--benchmarks", "procedural:nth_prime", "--limit", "6", "--k", "1",
            "--max-turns", "3", "--concurrency", "1", "--max-retries", "1",
            "--agent-options", "{backoff_s: 0.01}", "--out", str(out), "--quiet"]


def test_a_dead_server_is_one_line_and_the_rerun_resumes(tmp_path, capsys):
    """The server stops after 2 episodes (4 requests): one line says so, with the samples
    saved, and the same command against a live server plays only the rest."""
    with FakeOpenAIServer(good_solver) as server:
        answered = []

        def dies_after_two_episodes(body: dict) -> Reply:
            answered.append(body)
            if len(answered) == 4:
                threading.Thread(target=server._httpd.shutdown).start()
                server._httpd.socket.close()
            return good_solver(body)

        server.responder = dies_after_two_episodes
        assert bench_main(_run_words(server.base_url, tmp_path)) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("deeptool-bench: the server is unreachable (POST ")
    assert "after 2 attempts" in line
    assert line.endswith(f"{len(read_samples(tmp_path))} samples are saved in {tmp_path}; "
                         "rerun the same command to resume")
    saved = {r.key for r in read_samples(tmp_path)}
    assert len(saved) == 2
    with FakeOpenAIServer(good_solver) as server:
        assert bench_main(_run_words(server.base_url, tmp_path)) == 0
        assert len([r for r in server.requests if "body" in r]) == 2 * (6 - len(saved))
    assert len(read_samples(tmp_path)) == 6
    with FakeOpenAIServer(good_solver) as server:
        assert bench_main(_run_words(server.base_url, tmp_path)) == 0
        assert not server.requests
    assert "already complete: nothing to do (6 samples in" in capsys.readouterr().err


def test_run_json_keeps_the_first_start_and_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPTOOL_DATA_DIR", str(tmp_path / "data"))
    assert parse().data_dir == str(tmp_path / "data")
    assert parse().benchmarks == SIX_BENCHMARKS
    monkeypatch.delenv("DEEPTOOL_DATA_DIR")
    assert parse("--benchmarks", "hf:AIME24,procedural").benchmarks == ("hf:aime24",
                                                                         "procedural")
    out = tmp_path / "r"
    first = evaluate(InstantSolver(), out=str(out), limit=2, k=1, progress=False)
    samples = out / "samples.jsonl"
    samples.write_text(samples.read_text().splitlines(keepends=True)[0])  # as if stopped
    again = evaluate(InstantSolver(), out=str(out), limit=2, k=1, progress=False)
    stored = json.loads((out / "run.json").read_text())
    assert stored["started"] == first.settings["started"] == again.settings["started"]
    assert stored["started"] <= first.settings["finished"] < stored["finished"]
    assert (first.played, again.played) == (2, 1)


def test_export_model_writes_a_directory_a_server_loads(tmp_path, capsys):
    from transformers import AutoConfig, AutoTokenizer

    assert bench_main(["export-model", str(tmp_path / "smol")]) == 0
    assert "python -m vllm.entrypoints.openai.api_server --model" in capsys.readouterr().out
    config = AutoConfig.from_pretrained(tmp_path / "smol")
    assert config.architectures == ["LlamaForCausalLM"]
    assert list((tmp_path / "smol").glob("*.safetensors"))
    assert AutoTokenizer.from_pretrained(tmp_path / "smol").chat_template
