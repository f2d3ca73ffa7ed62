"""`deeptool-env serve`: `DeepTool-*-v0` as an OpenEnv environment (needs `[openenv]`).

`create_app` builds the server on OpenEnv's `HTTPEnvServer`; `DeepToolEnvClient` is its
typed `EnvClient`; the wire models are in `models`. Never imported by `deeptool_env`
itself: OpenEnv (and FastMCP) are heavy, optional imports.
"""

from .app import ServedApp, ServerOptions, create_app
from .client import DeepToolEnvClient
from .environment import DeepToolOpenEnv, EpisodeError
from .models import DeepToolAction, DeepToolObservation, DeepToolState, TurnAudit

__all__ = ["DeepToolAction", "DeepToolEnvClient", "DeepToolObservation", "DeepToolOpenEnv",
           "DeepToolState", "EpisodeError", "ServedApp", "ServerOptions", "TurnAudit",
           "create_app"]
