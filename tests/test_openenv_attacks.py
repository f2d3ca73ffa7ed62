"""Hostile clients of `deeptool-env serve`: huge frames and bodies, sessions opened and
dropped without a close, more sessions than the cap. The server stays up, answers with
clear errors, and no session or sandbox process outlives its client."""

from __future__ import annotations

import json
from contextlib import ExitStack

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from deeptool_env.serving import DeepToolAction, DeepToolEnvClient
from tests.openenv_server import RunningServer, running_server
from tests.polling import wait_until

MAX_SESSIONS = 4
MAX_BYTES = 65536


@pytest.fixture(scope="module")
def server() -> RunningServer:
    with running_server("--max-sessions", str(MAX_SESSIONS), "--idle-timeout", "60",
                        "--max-message-bytes", str(MAX_BYTES)) as running:
        yield running


def ws_url(server: RunningServer) -> str:
    return f"{server.url.replace('http', 'ws')}/ws"


def wait_idle(server: RunningServer) -> None:
    wait_until(lambda: server.sessions()["active"] == 0 and server.sandbox_processes() == 0,
               timeout_s=30)


def assert_alive_and_idle(server: RunningServer) -> None:
    """The server is up, holds no session or sandbox process, and still plays."""
    assert server.process.poll() is None, "the server died"
    wait_idle(server)
    with DeepToolEnvClient(base_url=server.url, message_timeout_s=120).sync() as env:
        env.reset(seed=0)
        text = env.step(DeepToolAction(content="<code>\nprint(2 + 2)\n</code>"))
        assert text.observation.text == "<output>\n4\n</output>"
    wait_idle(server)


def test_a_huge_frame_closes_only_that_connection(server):
    with ws_connect(ws_url(server), max_size=None) as socket:
        socket.send(json.dumps({"type": "reset", "data": {"seed": 0}}))
        socket.recv(timeout=120)
        socket.send(json.dumps({"type": "step", "data": {"content": "x" * (4 * MAX_BYTES)}}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # too big
    assert_alive_and_idle(server)


def test_a_huge_http_body_is_refused(server):
    body = json.dumps({"action": {"content": "x" * (4 * MAX_BYTES)}})
    reply = requests.post(f"{server.url}/step", data=body, timeout=30,
                          headers={"content-type": "application/json"})
    assert reply.status_code == 413 and "bytes" in reply.json()["detail"]
    assert server.process.poll() is None


def test_sessions_opened_and_dropped_without_close_are_freed(server):
    wait_idle(server)
    with ExitStack() as stack:
        sockets = [stack.enter_context(ws_connect(ws_url(server)))
                   for _ in range(MAX_SESSIONS)]
        for socket in sockets:
            socket.send(json.dumps({"type": "reset", "data": {"seed": 0}}))
            assert json.loads(socket.recv(timeout=120))["type"] == "observation"
        with ws_connect(ws_url(server)) as extra:  # one over the cap: refused at once
            refused = json.loads(extra.recv(timeout=30))
        assert refused["data"]["code"] == "CAPACITY_REACHED"
        assert server.sessions()["active"] == MAX_SESSIONS
        for socket in sockets:  # drop the TCP connection: no close frame, no goodbye
            socket.socket.close()
    assert_alive_and_idle(server)


def test_garbage_and_early_actions_never_crash_the_server(server):
    frames = ["", "null", "[]", "42", '{"type": null}', '{"type": "step"}',
              '{"type": "step", "data": null}', '{"type": "step", "data": {"content": "x"}}',
              '{"type": "state"}', '{"type": "mcp", "data": {"method": 7}}',
              '{"type": "reset", "data": {"seed": -1}}', "\udcff".encode(errors="surrogatepass")
              .decode(errors="replace"), "[" * 30000 + "]" * 30000]
    with ws_connect(ws_url(server)) as socket:
        for frame in frames:
            socket.send(frame)
            reply = json.loads(socket.recv(timeout=60))
            assert reply["type"] in ("error", "state", "mcp", "observation"), frame
            if reply["type"] == "error":
                assert reply["data"]["message"], frame
        socket.send(b"\x00\xff binary")
        assert json.loads(socket.recv(timeout=30))["data"]["code"] == "UNKNOWN_TYPE"
        socket.send(json.dumps({"type": "reset", "data": {"seed": 0}}))
        assert json.loads(socket.recv(timeout=120))["type"] == "observation"
    assert_alive_and_idle(server)
