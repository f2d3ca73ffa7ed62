"""`OpenAIToolCallAgent`: a server's native tool calls against `protocol="tools"`, on the
fake OpenAI server (tool-calls replies) and, in the slow tests, a real vLLM server."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import gymnasium as gym
import pytest

import deeptool_env  # noqa: F401  (registers the ids)
from agents.openai_agent import OpenAIProtocolError
from agents.openai_tools import OpenAIToolCallAgent
from deeptool_env.tool_call_protocol import TOOLS, instructions
from tests.fake_openai_server import FakeOpenAIServer, Reply


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": arguments}}


def tool_solver(body: dict[str, Any]) -> Reply:
    """A scripted nth-prime solver that answers with tool calls, as vLLM's hermes parser
    returns them (content empty, arguments a JSON string)."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        value = re.findall(r"-?\d+", last["content"])[-1]
        return Reply("", tool_calls=[tool_call("call_2", "answer", json.dumps(
            {"answer": f"\\boxed{{{value}}}"}))])
    n = re.search(r"p_\{(\d+)\}", last["content"]).group(1)
    code = f"import sympy\nprint(sympy.prime({n}))"
    return Reply("", tool_calls=[tool_call("call_1", "python", json.dumps({"code": code}))])


def play(agent: OpenAIToolCallAgent, env: gym.Env, seed: int) -> list[tuple[str, dict]]:
    observation, info = env.reset(seed=seed)
    agent.reset(observation, info)
    steps, done = [], False
    while not done:
        action = agent.act(observation, info)
        observation, _, terminated, truncated, info = env.step(action)
        steps.append((action, info))
        done = terminated or truncated
    return steps


def make_agent(base_url: str, **options: Any) -> OpenAIToolCallAgent:
    options = {"timeout_s": 5.0, "backoff_s": 0.01, "max_backoff_s": 0.05, **options}
    return OpenAIToolCallAgent("m", base_url=base_url, **options)


def test_episode_through_native_tool_calls() -> None:
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", protocol="tools")
    with FakeOpenAIServer(tool_solver) as server:
        steps = play(make_agent(server.base_url), env, seed=5)
    env.close()
    assert [info["action_kind"] for _, info in steps] == ["code", "answer"]
    assert steps[-1][1]["verdict"]["correct"]
    first, second = (r["body"] for r in server.requests)
    assert first["tools"] == [dict(t) for t in TOOLS] and "stop" not in first
    assert first["messages"][0]["content"] == instructions(8)  # the schema goes as tools=
    assistant, response = second["messages"][-2:]
    assert assistant["tool_calls"][0]["id"] == "call_1" and not assistant["content"]
    assert response["role"] == "tool" and response["tool_call_id"] == "call_1"
    assert response["content"].startswith("<output>")


def test_bad_calls_reach_the_env_as_parse_errors() -> None:
    """Arguments that are not JSON, two calls in one turn and a turn with no call are the
    env's parse errors; each call id gets the observation, a call-less turn a user one."""
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", protocol="tools",
                   max_invalid_turns=4)
    with FakeOpenAIServer() as server:
        server.queue(
            Reply("", tool_calls=[tool_call("a", "python", '{"code": "print(1)')]),
            Reply("", tool_calls=[tool_call("b", "python", '{"code": "1"}'),
                                  tool_call("c", "python", '{"code": "2"}')]),
            Reply("I will just say 4."), Reply("still no call"))
        steps = play(make_agent(server.base_url), env, seed=1)
    env.close()
    assert [info["parse_error"] for _, info in steps] == ["bad_json", "multiple_actions",
                                                          "no_action", "no_action"]
    last = server.requests[-1]["body"]["messages"]
    assert [m.get("tool_call_id") for m in last if m["role"] == "tool"] == ["a", "b", "c"]
    assert "not valid JSON" in last[3]["content"]
    assert last[-2] == {"role": "assistant", "content": "I will just say 4."}
    assert last[-1]["role"] == "user" and "no tool call" in last[-1]["content"]


def test_malformed_tool_calls_are_protocol_errors() -> None:
    with FakeOpenAIServer() as server:
        server.queue(*[Reply("", tool_calls=[{"id": "x", "function": {"name": "python"}}])] * 2)
        agent = make_agent(server.base_url, max_retries=3)
        with pytest.raises(OpenAIProtocolError, match="function.name/arguments"):
            agent.generate_batch([[{"role": "user", "content": "q"}]])
    assert len(server.requests) == 2  # one protocol retry, then the error


def test_tag_protocol_envs_are_refused() -> None:
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime")
    observation, info = env.reset(seed=0)
    env.close()
    with pytest.raises(ValueError, match="protocol='tools'"):
        make_agent("http://127.0.0.1:9/v1").reset(observation, info)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # vLLM's CPU worker alone can take minutes to start on a busy box
def test_vllm_server_tool_calls_reach_the_env(tmp_path) -> None:
    """vLLM's OpenAI server with the hermes tool parser: whatever SmolLM2-135M writes, the
    request carries the schema as tools=, each turn is one the env can read, and tool
    calls the parser finds come back as tools-protocol calls."""
    pytest.importorskip("vllm")
    from agents.models import default_hf_dir

    port = free_port()
    log = (tmp_path / "vllm.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
         str(default_hf_dir()), "--host", "127.0.0.1", "--port", str(port),
         "--served-model-name", "smollm2", "--max-model-len", "4096",
         "--gpu-memory-utilization", "0.25",  # of host RAM on CPU; the default fails
         "--enable-auto-tool-choice", "--tool-call-parser", "hermes"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        agent = make_agent(f"http://127.0.0.1:{port}/v1", max_retries=0, temperature=0.0,
                           max_new_tokens=128, timeout_s=600.0)
        agent.model = "smollm2"
        deadline = time.monotonic() + 600
        while True:
            try:
                agent._request("GET", "/models", None)
                break
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "vllm.log").read_text()[-3000:]) from None
                time.sleep(2)
        env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", protocol="tools",
                       max_turns=2)
        steps = play(agent, env, seed=0)
        env.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()
    assert steps and all(info["turn"] == i + 1 for i, (_, info) in enumerate(steps))
    for action, info in steps:
        assert info["action_kind"] != "invalid" or info["parse_error"]
        if "<tool_call>" in action:  # a call the parser found is in the protocol's form
            assert action.rstrip().endswith("</tool_call>")
