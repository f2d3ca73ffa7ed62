"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scriptable replies, for tests.

`FakeOpenAIServer` serves `POST /v1/chat/completions` and `GET /v1/models` from a
`ThreadingHTTPServer` in a background thread. Each request takes the next queued `Reply`
(`server.queue(...)`), else asks `server.responder(body)`. Like real servers, it cuts
the model text at the first of the request's `stop` strings and leaves the stop string
out. It records every request (with its `start` and `end` times) and the most requests
it had in flight at once. `token_delay_s` makes every reply take that long per
completion token (`usage["completion_tokens"]`), as a server decoding at a fixed speed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server does with one request.

    `text` is the model's raw generation (cut at the stop strings); `status` != 200 sends
    `{"error": {"message": text}}`; `raw` sends these bytes as the body instead;
    `delay_s` waits before answering; `gate` holds the reply until that many requests have
    been in flight at once (or 5 s pass): concurrency shows without timing guesses.
    `tool_calls` (a list of OpenAI `tool_calls` entries) are sent beside `text`.
    """

    text: str = "<code>print(1)</code>"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay_s: float = 0.0
    gate: int = 0
    usage: dict[str, int] | None = field(
        default_factory=lambda: {"prompt_tokens": 11, "completion_tokens": 7})
    tool_calls: list[dict[str, Any]] | None = None


def cut_at_stop(text: str, stop: list[str] | None) -> str:
    """`text` up to (not including) the earliest stop string, as servers return it."""
    cuts = [text.find(s) for s in stop or [] if s in text]
    return text[:min(cuts)] if cuts else text


def good_solver(body: dict[str, Any]) -> Reply:
    """A scripted nth-prime solver: compute with sympy, then answer what was printed."""
    last = body["messages"][-1]["content"]
    if "<output>" in last:
        value = re.findall(r"-?\d+", last.split("<output>")[-1])[-1]
        return Reply(f"<think>the tool printed it</think><answer>\\boxed{{{value}}}</answer>")
    n = re.search(r"p_\{(\d+)\}", last).group(1)
    return Reply(f"<think>sympy knows primes</think><code>import sympy\n"
                 f"print(sympy.prime({n}))</code>\n<output>hallucinated</output>")


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 delays bursts of connections by 1 s


class FakeOpenAIServer:
    """The server; use `with FakeOpenAIServer() as server:` and `server.base_url`."""

    def __init__(self, responder: Callable[[dict[str, Any]], Reply] | None = None, *,
                 token_delay_s: float = 0.0) -> None:
        self.responder = responder or (lambda body: Reply())
        self.token_delay_s = token_delay_s
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler_class(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def queue(self, *replies: Reply) -> None:
        """Replies for the next requests, in order (then the responder takes over)."""
        with self._lock:
            self._queue.extend(replies)

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def reply_for(self, record: dict[str, Any]) -> Reply:
        """Record the request and choose its reply, waiting as the reply asks."""
        with self._lock:
            self.requests.append(record)
            reply = self._queue.popleft() if self._queue else None
        reply = reply or self.responder(record["body"])
        if reply.gate:
            with self._lock:
                self._lock.wait_for(lambda: self.max_in_flight >= reply.gate
                                    or self._stopping.is_set(), timeout=5)
        tokens = (reply.usage or {}).get("completion_tokens", 0)
        self._stopping.wait(reply.delay_s + self.token_delay_s * tokens)
        return reply


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    text = cut_at_stop(reply.text, body.get("stop"))
    data: dict[str, Any] = {
        "id": "chatcmpl-fake", "object": "chat.completion", "model": body.get("model"),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}]}
    if reply.tool_calls is not None:
        data["choices"][0]["message"]["tool_calls"] = reply.tool_calls
        data["choices"][0]["finish_reason"] = "tool_calls"
    if reply.usage is not None:
        data["usage"] = reply.usage
    return data


def _handler_class(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest output stays readable."""

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout): nothing to answer

        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/v1/models":
                self._send(404, b'{"error": {"message": "no such route"}}', {})
                return
            with server._lock:
                server.requests.append({"path": self.path, "headers": dict(self.headers)})
            self._send(200, json.dumps({"object": "list", "data": [
                {"id": "fake-model", "object": "model"}]}).encode(), {})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            if self.path != "/v1/chat/completions":
                self._send(404, b'{"error": {"message": "no such route"}}', {})
                return
            with server._tracked():
                record = {"path": self.path, "headers": dict(self.headers), "body": body,
                          "start": time.monotonic()}
                reply = server.reply_for(record)
                record["end"] = time.monotonic()
                if reply.raw is not None:
                    payload = reply.raw
                elif reply.status != 200:
                    payload = json.dumps({"error": {"message": reply.text,
                                                    "type": "invalid_request_error"}}).encode()
                else:
                    payload = json.dumps(_completion(reply, body)).encode()
                self._send(reply.status, payload, reply.headers)

    return Handler
