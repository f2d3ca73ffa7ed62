"""`create_app`: the OpenEnv FastAPI app serving one `DeepTool-*-v0` id.

Built on OpenEnv's own `HTTPEnvServer` (its routes: `/ws`, `/reset`,
`/step`, `/state`, `/health`, `/metadata`, `/schema`, `/mcp`), plus `GET /sessions` (live
sessions against the cap, for operators and tests), errors as 4xx with a message, and the
`Guard` (bearer token, body limit) outside it all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from openenv.core.env_server.http_server import HTTPEnvServer
from openenv.core.env_server.types import ConcurrencyConfig

from .environment import DeepToolOpenEnv, EpisodeError
from .guard import Guard
from .models import DeepToolAction, DeepToolObservation, DeepToolState


@dataclass(frozen=True)
class ServerOptions:
    """What `deeptool-env serve` configures (its flags, one for one)."""

    env_id: str = "DeepTool-Math-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    max_sessions: int = 32
    idle_timeout_s: float = 300.0
    token: str | None = None
    max_message_bytes: int = 1 << 20


@dataclass
class ServedApp:
    """The ASGI app to run, the FastAPI app inside it and OpenEnv's server (sessions)."""

    asgi: Guard
    fastapi: FastAPI
    server: HTTPEnvServer

    def live_sessions(self) -> dict[str, Any]:
        """OpenEnv's session table as counts: what `GET /sessions` answers."""
        return {"active": self.server.active_sessions,
                "max": self.server.max_concurrent_envs,
                "idle_timeout_s": self.server.concurrency_config.session_timeout}


def create_app(options: ServerOptions) -> ServedApp:
    """The app for `options` (the env id is checked here, not at the first reset)."""
    from ..registration import register_envs

    register_envs()
    import gymnasium as gym

    if options.env_id not in gym.registry or not options.env_id.startswith("DeepTool-"):
        ids = sorted(i for i in gym.registry if i.startswith("DeepTool-"))
        raise ValueError(f"unknown env id {options.env_id!r}; one of {', '.join(ids)}")
    factory = functools.partial(DeepToolOpenEnv, env_id=options.env_id,
                                env_kwargs=options.env_kwargs)
    config = ConcurrencyConfig(max_concurrent_envs=options.max_sessions,
                               session_timeout=options.idle_timeout_s)
    server = HTTPEnvServer(factory, DeepToolAction, DeepToolObservation,
                           concurrency_config=config, env_name=options.env_id,
                           state_cls=DeepToolState)
    app = FastAPI(title=f"DeepTool Gym OpenEnv server: {options.env_id}", version="1.0.0")
    server.register_routes(app, mode="simulation")
    app.add_exception_handler(EpisodeError, _conflict)
    app.add_exception_handler(ValueError, _bad_request)
    guard = Guard(app, token=options.token, max_body_bytes=options.max_message_bytes)
    served = ServedApp(asgi=guard, fastapi=app, server=server)
    app.add_api_route("/sessions", served.live_sessions, methods=["GET"], tags=["Health"],
                      summary="Live WebSocket sessions and the cap")
    return served


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=409, content={"detail": str(exc)})


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=400, content={"detail": str(exc)})
