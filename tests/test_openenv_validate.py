"""OpenEnv's own `openenv validate --url` passes against `deeptool-env serve`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from tests.openenv_server import running_server


def test_openenv_validate_passes():
    openenv = shutil.which("openenv") or f"{sys.executable} -m openenv.cli"
    with running_server() as server:
        done = subprocess.run([*openenv.split(), "validate", "--url", server.url, "--json"],
                              capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    failed = [c["id"] for c in report["criteria"] if not c["passed"]]
    assert done.returncode == 0 and report["passed"], failed
    assert {c["id"] for c in report["criteria"]} >= {
        "health_endpoint", "metadata_endpoint", "schema_endpoint", "mcp_endpoint"}


def test_serve_help_teaches_the_contract():
    done = subprocess.run([sys.executable, "-m", "deeptool_env.serving.cli", "serve",
                           "--help"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0
    for needle in ("/ws", "fresh env per request", "audit", "DEEPTOOL_ENV_TOKEN",
                   "--max-sessions", "--idle-timeout", "openenv validate"):
        assert needle in done.stdout, needle
