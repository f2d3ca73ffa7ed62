"""`deeptool-env serve`: run one `DeepTool-*-v0` id as an OpenEnv server (uvicorn)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

TOKEN_VARIABLE = "DEEPTOOL_ENV_TOKEN"

DESCRIPTION = """\
Serve a DeepTool Gymnasium env as an OpenEnv environment (the protocol TRL, SkyRL, NeMo Gym
and verifiers consume).

Play episodes over the WebSocket /ws (OpenEnv's EnvClient, or
deeptool_env.serving.DeepToolEnvClient): one connection is one session with its own
sandbox session, so variables persist across steps. OpenEnv's plain HTTP /reset and /step
make a fresh env per request: fine for a look, useless for an episode. Also served:
/health, /metadata, /schema, /state, /mcp (tools python(code) and answer(text)) and
/sessions (live sessions against --max-sessions).

Each step's observation carries text (what the policy sees), reward, done, terminated,
truncated, parse_error, reward_terms, tool_status and audit (the perturbation record and
the clean tool output: for your logger, never for the policy's context).
"""

EPILOG = f"""\
examples:
  deeptool-env serve                                   # DeepTool-Math-v0 on 127.0.0.1:8000
  deeptool-env serve --env DeepTool-AIME24-v0 --option max_turns=4 --option sandbox=docker
  {TOKEN_VARIABLE}=s3cret deeptool-env serve --host 0.0.0.0  # clients send
                                                       # 'Authorization: Bearer s3cret'
  openenv validate --url http://127.0.0.1:8000         # OpenEnv's own checks
"""


def _option(text: str) -> tuple[str, Any]:
    """`key=value`, the value read as JSON when it parses (4, true, {...}), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deeptool-env")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="serve a DeepTool env as an OpenEnv environment",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--env", default="DeepTool-Math-v0",
                       help="Gymnasium id to serve (default %(default)s)")
    serve.add_argument("--option", type=_option, action="append", default=[],
                       metavar="KEY=VALUE", help="an env option for gym.make (repeatable), "
                       "e.g. max_turns=4, perturbation=light, sandbox=docker")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default "
                       "%(default)s; use 0.0.0.0 with a token)")
    serve.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    serve.add_argument("--max-sessions", type=int, default=32, help="concurrent WebSocket "
                       "sessions; more are refused with CAPACITY_REACHED (default "
                       "%(default)s)")
    serve.add_argument("--idle-timeout", type=float, default=300.0, metavar="SECONDS",
                       help="a session idle this long is closed and its sandbox session "
                       "freed (default %(default)s)")
    serve.add_argument("--max-message-bytes", type=int, default=1 << 20, help="largest "
                       "WebSocket frame or HTTP body (default %(default)s)")
    serve.add_argument("--log-level", default="warning", help="uvicorn log level")
    parser.epilog = f"bearer token: set ${TOKEN_VARIABLE} (kept off the command line)"
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import uvicorn

        from .app import ServerOptions, create_app
    except ImportError as error:
        print(f"deeptool-env serve needs the openenv extra: pip install "
              f"'deeptool-gym[openenv]' ({error})", file=sys.stderr)
        return 2
    options = ServerOptions(env_id=args.env, env_kwargs=dict(args.option),
                            max_sessions=args.max_sessions, idle_timeout_s=args.idle_timeout,
                            token=os.environ.get(TOKEN_VARIABLE) or None,
                            max_message_bytes=args.max_message_bytes)
    try:
        served = create_app(options)
    except ValueError as error:
        print(f"deeptool-env serve: {error}", file=sys.stderr)
        return 2
    uvicorn.run(served.asgi, host=args.host, port=args.port, log_level=args.log_level,
                ws_max_size=args.max_message_bytes, ws_ping_interval=20.0,
                ws_ping_timeout=20.0, limit_concurrency=2 * args.max_sessions + 32)
    return 0


if __name__ == "__main__":
    sys.exit(main())
