"""`OpenAIChatAgent` against a real HTTP server on 127.0.0.1 (`fake_openai_server`).

Covers the request payload, retries (5xx, 429 with Retry-After, timeouts, bad JSON),
errors that must not be retried (400), bounded concurrency, and one full env episode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import gymnasium as gym
import pytest

import deeptool_env  # noqa: F401  (registers the ids)
from agents.openai_agent import (
    OpenAIChatAgent,
    OpenAIConnectionError,
    OpenAIHTTPError,
    OpenAIProtocolError,
)
from tests.fake_openai_server import FakeOpenAIServer, Reply, good_solver

CONVERSATION = [{"role": "system", "content": "sys"}, {"role": "user", "content": "Problem"}]
KEY = "sk-test-secret-123"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def make_agent(server: FakeOpenAIServer, **options) -> OpenAIChatAgent:
    options = {"model": "m", "api_key": KEY, "timeout_s": 5.0, "max_retries": 3,
               "backoff_s": 0.01, "max_backoff_s": 0.05, **options}
    return OpenAIChatAgent(base_url=server.base_url, **options)


def test_reply_is_cut_at_stop_and_completed(server: FakeOpenAIServer) -> None:
    agent = make_agent(server, temperature=0.2, top_p=0.9, max_new_tokens=64, seed=7,
                       extra_body={"top_k": 20})
    agent.reset("Problem", {"messages": CONVERSATION})
    assert agent.act("Problem", {}) == "<code>print(1)</code>"
    body = server.requests[0]["body"]
    assert body["messages"] == CONVERSATION
    assert body["stop"] == ["</code>", "</answer>"]
    assert (body["model"], body["temperature"], body["top_p"]) == ("m", 0.2, 0.9)
    assert (body["max_tokens"], body["seed"], body["top_k"]) == (64, 7, 20)
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    usage = agent.usage({})
    assert (usage.prompt_tokens, usage.completion_tokens, usage.generations) == (11, 7, 1)


def test_no_key_no_usage_and_model_from_server(server: FakeOpenAIServer) -> None:
    server.queue(Reply("<answer>\\boxed{3}</answer>", usage=None))
    agent = OpenAIChatAgent(base_url=server.base_url, api_key="")
    [generation] = agent.generate_batch([CONVERSATION])
    assert generation.text == "<answer>\\boxed{3}"
    assert generation.prompt_tokens is None and generation.completion_tokens is None
    assert agent.model == "fake-model"
    assert "Authorization" not in server.requests[-1]["headers"]


def test_from_env(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere:1/v1")
    monkeypatch.setenv("DEEPTOOL_OPENAI_BASE_URL", server.base_url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("DEEPTOOL_OPENAI_MODEL", "env-model")
    monkeypatch.setenv("DEEPTOOL_OPENAI_CONCURRENCY", "3")
    agent = OpenAIChatAgent.from_env(timeout_s=2.0)
    assert (agent.base_url, agent.model, agent.concurrency) == (server.base_url, "env-model", 3)
    assert agent.timeout_s == 2.0 and KEY not in repr(agent)
    agent.generate_batch([CONVERSATION])
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_local_server_bypasses_env_proxy(monkeypatch: pytest.MonkeyPatch,
                                         server: FakeOpenAIServer) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    agent = make_agent(server, max_retries=0, extra_body={"seed": None, "top_p": None})
    agent.generate_batch([CONVERSATION])
    assert "seed" not in server.requests[0]["body"]
    assert "top_p" not in server.requests[0]["body"]


def test_500_then_success_is_retried(server: FakeOpenAIServer,
                                     caplog: pytest.LogCaptureFixture) -> None:
    server.queue(Reply("overloaded", status=500), Reply("engine dead", status=503))
    with caplog.at_level(logging.WARNING, logger="agents.openai_agent"):
        [generation] = make_agent(server).generate_batch([CONVERSATION])
    assert generation.text == "<code>print(1)" and len(server.requests) == 3
    assert "HTTP 500" in caplog.text and KEY not in caplog.text


def test_429_honours_retry_after(server: FakeOpenAIServer) -> None:
    server.queue(Reply("slow down", status=429, headers={"Retry-After": "1"}))
    agent = make_agent(server, max_backoff_s=5.0)
    start = time.monotonic()
    agent.generate_batch([CONVERSATION])
    assert len(server.requests) == 2 and time.monotonic() - start >= 0.9


def test_timeout_then_success(server: FakeOpenAIServer) -> None:
    server.queue(Reply(delay_s=2.0))
    [generation] = make_agent(server, timeout_s=0.3).generate_batch([CONVERSATION])
    assert generation.text == "<code>print(1)" and len(server.requests) == 2


def test_timeouts_exhaust_retries(server: FakeOpenAIServer) -> None:
    server.responder = lambda body: Reply(delay_s=2.0)
    with pytest.raises(OpenAIConnectionError, match=r"timed out.*after 3 attempts"):
        make_agent(server, timeout_s=0.2, max_retries=2).generate_batch([CONVERSATION])
    assert len(server.requests) == 3


def test_connection_refused_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAIServer() as gone:
        url = gone.base_url
    agent = OpenAIChatAgent("m", base_url=url, max_retries=2, backoff_s=0.01)
    with caplog.at_level(logging.WARNING, logger="agents.openai_agent"), \
            pytest.raises(OpenAIConnectionError, match="failed.*after 3 attempts"):
        agent.generate_batch([CONVERSATION])
    retries = [r.getMessage() for r in caplog.records]
    assert [m.split(": POST")[0] for m in retries] == [
        "OpenAI request failed on attempt 1 of 3", "OpenAI request failed on attempt 2 of 3"]
    assert all("attempts" not in m and "))" not in m and "retrying in" in m for m in retries)


def test_400_is_not_retried_and_shows_the_server_message(server: FakeOpenAIServer) -> None:
    server.queue(Reply(f"max_tokens is too large; key {KEY}", status=400))
    with pytest.raises(OpenAIHTTPError) as caught:
        make_agent(server).generate_batch([CONVERSATION])
    message = str(caught.value)
    assert "HTTP 400" in message and "max_tokens is too large" in message
    assert KEY not in message and caught.value.status == 400
    assert len(server.requests) == 1


@pytest.mark.parametrize("raw", [b"<html>bad gateway</html>", b'{"choices": []}',
                                 b'{"choices": [{"message": {}}]}', b'{"id": 1'])
def test_malformed_reply_is_retried_once_then_raised(server: FakeOpenAIServer,
                                                     raw: bytes) -> None:
    server.responder = lambda body: Reply(raw=raw)
    with pytest.raises(OpenAIProtocolError, match="after 2 attempts"):
        make_agent(server).generate_batch([CONVERSATION])
    assert len(server.requests) == 2


def test_malformed_once_then_success(server: FakeOpenAIServer) -> None:
    server.queue(Reply(raw=b"{truncated"))
    [generation] = make_agent(server).generate_batch([CONVERSATION])
    assert generation.text == "<code>print(1)"


def test_reasoning_field_becomes_think(server: FakeOpenAIServer) -> None:
    body = (b'{"choices": [{"message": {"content": "<answer>7", '
            b'"reasoning_content": "3 + 4"}}]}')
    server.queue(Reply(raw=body))
    [generation] = make_agent(server).generate_batch([CONVERSATION])
    assert generation.text == "<think>3 + 4</think><answer>7"


def test_batch_runs_in_parallel_and_keeps_order(server: FakeOpenAIServer) -> None:
    server.responder = lambda body: Reply(f"<answer>{body['messages'][-1]['content']}",
                                          gate=8)
    conversations = [[{"role": "user", "content": str(i)}] for i in range(8)]
    generations = make_agent(server, concurrency=8).generate_batch(conversations)
    assert [g.text for g in generations] == [f"<answer>{i}" for i in range(8)]
    assert server.max_in_flight == 8


def test_concurrency_bounds_requests_in_flight(server: FakeOpenAIServer) -> None:
    server.responder = lambda body: Reply(gate=3)
    conversations = [[{"role": "user", "content": str(i)}] for i in range(9)]
    make_agent(server, concurrency=3).generate_batch(conversations)
    assert server.max_in_flight == 3 and len(server.requests) == 9


def test_failure_in_batch_names_the_conversation(server: FakeOpenAIServer) -> None:
    server.responder = lambda body: (Reply("bad prompt", status=400)
                                     if body["messages"][-1]["content"] == "2" else Reply())
    conversations = [[{"role": "user", "content": str(i)}] for i in range(4)]
    with pytest.raises(OpenAIHTTPError) as caught:
        make_agent(server, concurrency=2).generate_batch(conversations)
    assert "conversation 2 of 4" in caught.value.__notes__


def test_episode_end_to_end() -> None:
    """A full DeepTool-Math episode: the server plays a good solver through the agent."""
    env = gym.make("DeepTool-Math-v0", tasks="procedural:nth_prime", reward="outcome")
    with FakeOpenAIServer(good_solver) as server:
        agent = make_agent(server)
        observation, info = env.reset(seed=5)
        agent.reset(observation, info)
        terminated = truncated = False
        steps = []
        while not (terminated or truncated):
            action = agent.act(observation, info)
            observation, reward, terminated, truncated, info = env.step(action)
            steps.append((action, info))
        env.close()
    assert [s[1]["action_kind"] for s in steps] == ["code", "answer"]
    assert steps[0][0].endswith("</code>") and not steps[0][1]["hallucinated_output"]
    assert info["verdict"]["correct"] and reward == 1.0
    second = server.requests[1]["body"]["messages"]
    assert second[-2] == {"role": "assistant", "content": steps[0][0]}
    assert second[-1]["content"].startswith("<output>")
