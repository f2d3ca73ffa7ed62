"""Sandbox latency against the usual TIR design: a fresh `python -I -c` per call.

Run with `python -m pytest tests/benchmarks/test_sandbox_speed.py --benchmark-only`.
Targets (local backend): a trivial call at least 100x faster than a fresh subprocess, a
new session (fork, namespaces, cgroups, seccomp, first cell) within 10 ms at the median.
The `cgroups="off"` rows measure, in the same run, what the per-session cgroups and the
freezer between cells cost. Memory per idle session is recorded in `extra_info`.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest

from deeptool_env import sandbox
from deeptool_env.sandbox.local import SANDBOX_ENV, LocalSandbox

TRIVIAL = "print(sum(range(100)))"
SYMPY = "import sympy\nx = sympy.Symbol('x')\nprint(sympy.factor(x**4 - 1))"
EPISODE = ["import math\ntotal = 0"] + [f"total += {i} ** 2\nprint(total)" for i in range(1, 10)]


def _limits() -> None:
    mb = 2**20
    resource.setrlimit(resource.RLIMIT_AS, (2048 * mb, 2048 * mb))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * mb, 64 * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def fresh_subprocess(code: str) -> str:
    """The baseline: a new interpreter per call, with rlimits (as most TIR repos do)."""
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=60, env=SANDBOX_ENV, preexec_fn=_limits)
    return done.stdout


@pytest.fixture(scope="module")
def local_box():
    box = sandbox.create("local")
    yield box
    box.close()


@pytest.fixture(scope="module")
def warm_session(local_box):
    session = local_box.session()
    session.run("1")
    yield session
    session.close()


@pytest.fixture(scope="module")
def uncgrouped_session():
    box = sandbox.create("local", cgroups="off")
    session = box.session()
    session.run("1")
    yield session
    box.close()


@pytest.mark.benchmark(group="trivial call")
def test_trivial_fresh_subprocess(benchmark):
    assert benchmark(fresh_subprocess, TRIVIAL) == "4950\n"


@pytest.mark.benchmark(group="trivial call")
def test_trivial_local_session(benchmark, warm_session):
    assert benchmark(warm_session.run, TRIVIAL).stdout == "4950\n"


@pytest.mark.benchmark(group="trivial call")
def test_trivial_local_session_without_cgroups(benchmark, uncgrouped_session):
    assert benchmark(uncgrouped_session.run, TRIVIAL).stdout == "4950\n"


@pytest.mark.benchmark(group="sympy call")
def test_sympy_fresh_subprocess(benchmark):
    assert "x + 1" in benchmark(fresh_subprocess, SYMPY)


@pytest.mark.benchmark(group="sympy call")
def test_sympy_local_session(benchmark, warm_session):
    assert "x + 1" in benchmark(warm_session.run, SYMPY).stdout


def _episode_fresh() -> list[str]:
    # A fresh process has no state: each call must replay the episode so far.
    return [fresh_subprocess("\n".join(EPISODE[: i + 1])) for i in range(len(EPISODE))]


def _episode_local(box) -> list[str]:
    with box.session() as session:
        return [session.run(code).stdout for code in EPISODE]


@pytest.mark.benchmark(group="10-turn episode")
def test_episode_fresh_subprocess_replay(benchmark):
    outputs = benchmark.pedantic(_episode_fresh, rounds=3)
    assert outputs[-1].splitlines()[-1] == "285"


@pytest.mark.benchmark(group="10-turn episode")
def test_episode_local_new_session(benchmark, local_box):
    outputs = benchmark.pedantic(_episode_local, args=(local_box,), rounds=10)
    assert outputs[-1] == "285\n"


def _private_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        fields = dict(line.split(":", 1) for line in handle if ":" in line)
    return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty"))


def _starts(box, benchmark, pause_s: float) -> list[sandbox.Session]:
    """Time `session()` + a first cell, `pause_s` (untimed: the episode) before each."""
    sessions = []

    def start() -> None:
        session = box.session()
        session.run("0")
        sessions.append(session)

    benchmark.pedantic(start, setup=lambda: time.sleep(pause_s), rounds=20)
    return sessions


@pytest.mark.benchmark(group="session start")
def test_session_start_from_the_warm_spare_and_idle_memory(benchmark, local_box):
    """As in an RL loop: the spare interpreter is ready when the next episode starts."""
    sessions = _starts(local_box, benchmark, pause_s=0.1)
    last = sessions[-1]
    pid = last._keeper.session_pid
    private = _private_kib(pid) if os.path.exists(f"/proc/{pid}") else 0
    benchmark.extra_info["idle_session_private_kib"] = private
    if last._cgroup is not None:  # what the session's memory cgroup is charged, idle
        usage = last._cgroup.dirs["memory"] / "memory.usage_in_bytes"
        if usage.exists():
            benchmark.extra_info["idle_session_cgroup_kib"] = int(usage.read_text()) // 1024
    for session in sessions:
        session.close()
    assert private > 0


@pytest.mark.benchmark(group="session start")
def test_session_start_cold(benchmark):
    """No spare: fork, namespaces, cgroups, seccomp and the first cell, every time."""
    box = LocalSandbox(sandbox.SandboxConfig(), warm=0)
    try:
        for session in _starts(box, benchmark, pause_s=0.02):
            session.close()
    finally:
        box.close()
