"""Run `deeptool-env serve` as a child process on 127.0.0.1 for the OpenEnv tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import psutil
import requests

START_TIMEOUT_S = 180.0  # importing openenv (gradio, fastmcp) is slow on a loaded machine


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    token: str | None

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Authorization": f"Bearer {self.token}"} if self.token else None

    def sessions(self) -> dict:
        return requests.get(f"{self.url}/sessions", headers=self.headers, timeout=10).json()

    def sandbox_processes(self) -> int:
        """Live descendants of the server (fork-server, interpreters): 0 when idle."""
        return len(psutil.Process(self.process.pid).children(recursive=True))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(*args: str, token: str | None = None) -> Iterator[RunningServer]:
    """`deeptool-env serve ARGS` on a free port, stopped (and its children) on exit."""
    port = free_port()
    env = dict(os.environ)
    env.pop("DEEPTOOL_ENV_TOKEN", None)
    if token:
        env["DEEPTOOL_ENV_TOKEN"] = token
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "deeptool_env.serving.cli", "serve", "--port", str(port),
         *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(f"http://127.0.0.1:{port}", process, token)
    try:
        _wait_healthy(server, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_healthy(server: RunningServer, log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode(errors='replace')}")
        try:
            if requests.get(f"{server.url}/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server at {server.url} not healthy after {START_TIMEOUT_S} s")
