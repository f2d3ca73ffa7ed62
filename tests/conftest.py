"""Shared fixtures: sandboxes per backend, the data directory, torch kept to one thread."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deeptool_env import sandbox

from .headless_chromium import browser  # noqa: F401  (the browser tests' fixture)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark/train data directory (DEEPTOOL_DATA_DIR or ../shared/data)."""
    path = Path(os.environ.get("DEEPTOOL_DATA_DIR", DEFAULT_DATA_DIR))
    if not (path / "benchmarks").is_dir():
        pytest.skip(f"benchmark data not found at {path}; set DEEPTOOL_DATA_DIR")
    return path


def backend_unavailable(backend: str) -> str | None:
    """Why `backend` cannot run here, or None."""
    if backend == "local":
        from deeptool_env.sandbox.local import local_backend_available

        ok, reason = local_backend_available()
        return None if ok else reason
    if backend == "docker":
        try:
            from deeptool_env.sandbox.docker_backend import docker_available
        except ImportError as exc:
            return f"docker backend not importable: {exc}"
        ok, reason = docker_available()
        return None if ok else reason
    return None


def make_sandbox(backend: str, **options) -> sandbox.Sandbox:
    reason = backend_unavailable(backend)
    if reason:
        pytest.skip(reason)
    return sandbox.create(backend, **options)


@pytest.fixture(scope="module", params=["local", "docker"])
def isolated_sandbox(request) -> Iterator[sandbox.Sandbox]:
    """A strongly isolated sandbox (local namespaces, docker), shared by a test module."""
    box = make_sandbox(request.param, timeout_s=10.0)
    yield box
    box.close()


@pytest.fixture(scope="session")
def tiny() -> str:
    """Directory of the random tiny Qwen2 chat model (tests/tiny_model.py), built once.
    (test_hf_agent.py overrides it with the loaded model and tokenizer.)"""
    pytest.importorskip("transformers")
    from tests.tiny_model import shared_tiny_model

    return str(shared_tiny_model())
