"""An ASGI guard in front of the OpenEnv app: an optional bearer token and a body limit.

With a token, every route but the public descriptions (`/health`, `/metadata`, `/schema`,
the OpenAPI docs) needs `Authorization: Bearer <token>`; a WebSocket without it is refused
at the handshake (HTTP 403), an HTTP request gets 401. HTTP bodies over `max_body_bytes`
get 413 (WebSocket frames are bounded by uvicorn's `ws_max_size`). A WebSocket frame that
is JSON but not an object, or binary, would end OpenEnv's session loop; it is turned into a
message of an unknown type, so the client gets an `UNKNOWN_TYPE` error and the session lives.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

NOT_AN_OBJECT = json.dumps({"type": "(a frame must be a JSON object with a 'type' field, as "
                                    "text)"})
PUBLIC_PATHS = frozenset({"/health", "/metadata", "/schema", "/openapi.json", "/docs",
                          "/redoc"})


class BodyTooLarge(Exception):
    """The client sent more than the limit."""


class Guard:
    """Wraps an ASGI app; `token=None` turns the token check off."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_body_bytes: int) -> None:
        self.app, self.token, self.max_body_bytes = app, token, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        if not self._authorized(scope):
            if kind == "websocket":
                await receive()  # the websocket.connect event
                return await send({"type": "websocket.close", "code": 1008})
            return await _reply(send, 401, "missing or wrong bearer token: send "
                                "'Authorization: Bearer <token>'")
        if kind == "http":
            return await self._limited(scope, receive, send)
        return await self.app(scope, _objects_only(receive), send)

    def _authorized(self, scope: Scope) -> bool:
        if self.token is None or scope.get("path") in PUBLIC_PATHS:
            return True
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        too_big = (f"request body over {self.max_body_bytes} bytes; actions are single "
                   "assistant turns")
        if not declared.isdigit() or int(declared) > self.max_body_bytes:
            return await _reply(send, 413, too_big)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await _reply(send, 413, too_big)


def _objects_only(receive: Receive) -> Receive:
    """`receive` with every data frame a text JSON object (else `NOT_AN_OBJECT`)."""

    async def checked() -> Message:
        message = await receive()
        if message.get("type") != "websocket.receive":
            return message
        text = message.get("text")
        if text is None:
            return {"type": "websocket.receive", "text": NOT_AN_OBJECT}
        try:
            parsed = json.loads(text)
        except ValueError:
            return message  # OpenEnv answers INVALID_JSON itself
        except RecursionError:  # nested too deep: OpenEnv's loop would end on it
            parsed = None
        if not isinstance(parsed, dict):
            return {"type": "websocket.receive", "text": NOT_AN_OBJECT}
        return message

    return checked


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
