"""`deeptool-env serve` through the real OpenEnv client over 127.0.0.1: whole episodes with
state kept across turns, the typed fields that replace `info`, 32 concurrent sessions and
their clean-up, the bearer token, MCP tools and clear errors for malformed actions."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests
from websockets.sync.client import connect as ws_connect

from deeptool_env.serving import DeepToolAction, DeepToolEnvClient
from tests.openenv_server import RunningServer, running_server
from tests.polling import wait_until

TOKEN = "test-token-7f3a"
IDLE_S = 3.0


@pytest.fixture(scope="module")
def server() -> RunningServer:
    with running_server("--idle-timeout", str(IDLE_S), "--option", "max_turns=4",
                        "--max-message-bytes", "262144", token=TOKEN) as running:
        yield running


def client(server: RunningServer) -> DeepToolEnvClient:
    return DeepToolEnvClient(base_url=server.url, headers=server.headers,
                             message_timeout_s=120)


def code(text: str) -> DeepToolAction:
    return DeepToolAction(content=f"<code>\n{text}\n</code>")


def wait_idle(server: RunningServer, timeout_s: float = 30.0) -> None:
    """No OpenEnv session and no sandbox process left (the fork-server goes with the last)."""
    wait_until(lambda: server.sessions()["active"] == 0 and server.sandbox_processes() == 0,
               timeout_s=timeout_s)


def test_whole_episode_keeps_state_and_types_the_info_fields(server):
    with client(server).sync() as env:
        first = env.reset(seed=3)
        assert "Problem:" in first.observation.text and first.observation.task_id
        assert not first.done and first.observation.action_kind == "prompt"
        env.step(code("x = 41"))
        second = env.step(code("print(x + 1)"))
        obs = second.observation
        assert obs.text.strip() == "<output>\n42\n</output>"
        assert obs.action_kind == "code" and obs.tool_status == "ok" and obs.turn == 2
        assert second.reward == pytest.approx(obs.reward_terms["process"]
                                              + obs.reward_terms["outcome"])
        assert obs.audit is not None and obs.audit.perturbed is False
        assert obs.audit.observation_clean == obs.text and obs.audit.real_status == "ok"
        bad = env.step(DeepToolAction(content="no action here")).observation
        assert bad.action_kind == "invalid" and bad.parse_error == "no_action"
        assert bad.audit is None and not bad.done
        last = env.step(DeepToolAction(content="<answer>\\boxed{7}</answer>"))
        assert last.done and last.observation.terminated and not last.observation.truncated
        assert last.observation.termination == "answer"
        assert isinstance(last.observation.correct, bool)
        assert len(last.observation.turn_rewards) == 4
        state = env.state()
        assert state.step_count == 4 and state.done and state.env_id == "DeepTool-Math-v0"
        with pytest.raises(RuntimeError, match="send reset first"):
            env.step(code("1"))
        assert env.reset(seed=4).observation.text  # the same session plays on


def test_truncated_at_max_turns_is_a_field(server):
    with client(server).sync() as env:
        env.reset(seed=0)
        results = [env.step(code(f"y = {i}")) for i in range(4)]
    assert [r.done for r in results] == [False, False, False, True]
    assert results[-1].observation.truncated and not results[-1].observation.terminated
    assert results[-1].observation.termination == "max_turns"


def test_32_concurrent_sessions_are_isolated_and_cleaned_up(server):
    async def play(i: int, barrier: asyncio.Barrier) -> str:
        env = client(server)
        async with env:
            await env.reset(seed=i)
            await env.step(code(f"x = {i}"))
            await barrier.wait()  # all 32 sessions are live at once here
            if i == 0:
                live.append((server.sessions()["active"], server.sandbox_processes()))
            await barrier.wait()
            return (await env.step(code("print(x)"))).observation.text

    async def main() -> list[str]:
        barrier = asyncio.Barrier(32)
        return await asyncio.gather(*(play(i, barrier) for i in range(32)))

    live: list[tuple[int, int]] = []
    texts = asyncio.run(main())
    assert texts == [f"<output>\n{i}\n</output>" for i in range(32)]
    assert live[0][0] == 32 and live[0][1] >= 32
    wait_idle(server)


def test_a_client_that_vanishes_or_idles_leaves_no_sandbox_session(server):
    with ws_connect(f"{server.url.replace('http', 'ws')}/ws",
                    additional_headers=server.headers) as socket:
        socket.send(json.dumps({"type": "reset", "data": {"seed": 1}}))
        assert json.loads(socket.recv(timeout=120))["type"] == "observation"
        assert server.sessions()["active"] == 1 and server.sandbox_processes() > 0
        wait_idle(server, timeout_s=IDLE_S + 20)  # the reaper ran; the socket is still open
        socket.send(json.dumps({"type": "step", "data": {"content": "<code>1</code>"}}))
        reply = json.loads(socket.recv(timeout=30))
        assert reply["type"] == "error" and "session is closed" in reply["data"]["message"]
    with client(server).sync() as env:
        env.reset(seed=2)
    wait_idle(server)


def test_bearer_token_is_required_except_for_descriptions(server):
    bare = DeepToolEnvClient(base_url=server.url).sync()
    with pytest.raises(ConnectionError, match="403"):
        bare.reset()
    assert requests.get(f"{server.url}/state", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert requests.post(f"{server.url}/mcp", json={}, headers=wrong,
                         timeout=10).status_code == 401
    for public in ("/health", "/metadata", "/schema"):
        assert requests.get(f"{server.url}{public}", timeout=10).ok


def test_schema_declares_the_typed_fields(server):
    schema = requests.get(f"{server.url}/schema", timeout=10).json()
    fields = schema["observation"]["properties"]
    for name in ("text", "truncated", "terminated", "parse_error", "reward_terms",
                 "tool_status", "audit"):
        assert name in fields
    assert schema["action"]["required"] == ["content"]


def test_malformed_messages_get_clear_errors_and_the_session_survives(server):
    with ws_connect(f"{server.url.replace('http', 'ws')}/ws",
                    additional_headers=server.headers) as socket:
        def ask(raw: str) -> dict:
            socket.send(raw)
            return json.loads(socket.recv(timeout=120))

        assert ask("{not json")["data"]["code"] == "INVALID_JSON"
        assert ask(json.dumps({"type": "dance"}))["data"]["code"] == "UNKNOWN_TYPE"
        early = ask(json.dumps({"type": "step", "data": {"content": "<code>1</code>"}}))
        assert "send reset first" in early["data"]["message"]
        wrong = ask(json.dumps({"type": "step", "data": {"text": "hi"}}))
        assert wrong["data"]["code"] == "VALIDATION_ERROR"
        typed = ask(json.dumps({"type": "step", "data": {"content": 5}}))
        assert typed["data"]["code"] == "VALIDATION_ERROR"
        option = ask(json.dumps({"type": "reset", "data": {"bogus_option": 1}}))
        assert "unknown reset option" in option["data"]["message"]
        assert ask(json.dumps({"type": "reset", "data": {"seed": 0}}))["type"] == "observation"
        step = ask(json.dumps({"type": "step", "data": {"content": "<code>\nprint(5)\n</code>"}}))
        assert step["data"].get("observation", {}).get("text") == "<output>\n5\n</output>", step
    wait_idle(server)


def test_mcp_tools_list_and_call_over_the_session(server):
    with ws_connect(f"{server.url.replace('http', 'ws')}/ws",
                    additional_headers=server.headers) as socket:
        def rpc(method: str, **params) -> dict:
            socket.send(json.dumps({"type": "mcp", "data": {
                "jsonrpc": "2.0", "id": 1, "method": method, "params": params}}))
            return json.loads(socket.recv(timeout=120))["data"]

        tools = rpc("tools/list")["result"]["tools"]
        assert sorted(t["name"] for t in tools) == ["answer", "python"]
        socket.send(json.dumps({"type": "reset", "data": {"seed": 0}}))
        socket.recv(timeout=120)
        rpc("tools/call", name="python", arguments={"code": "z = 6 * 7"})
        result = rpc("tools/call", name="python", arguments={"code": "print(z)"})["result"]
        assert result["text"] == "<output>\n42\n</output>" and "audit" not in result
        bad = rpc("tools/call", name="python", arguments={"code": 3})
        assert "must be a string" in bad["error"]["message"]
        done = rpc("tools/call", name="answer", arguments={"text": "1"})["result"]
        assert done["done"] and done["termination"] == "answer"


def test_plain_http_step_says_it_is_stateless(server):
    reply = requests.post(f"{server.url}/step", headers=server.headers, timeout=60,
                          json={"action": {"content": "<code>1</code>"}})
    assert reply.status_code == 409 and "WebSocket" in reply.json()["detail"]
