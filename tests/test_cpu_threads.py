"""agents.cpu_threads: usable cores from affinity and cgroup quota, the user's settings
kept, the passive OpenMP wait set only before torch loads, one oversubscription warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest

from agents import cpu_threads
from agents.cpu_threads import (
    OversubscribedWarning,
    ThreadPlan,
    cgroup_quota,
    choose_threads,
    others_running,
    prepare_wait_policy,
    usable_cores,
    warn_oversubscribed,
)
from deeptool_env.settings import SettingsError

from .tiny_model import shared_tiny_model


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_cgroup_v2_quota_is_read_from_the_process_cgroup(tmp_path):
    cgroups = write(tmp_path / "cgroup", "0::/jobs/a\n")
    write(tmp_path / "fs" / "jobs" / "a" / "cpu.max", "150000 100000\n")
    write(tmp_path / "fs" / "cpu.max", "max 100000\n")
    assert cgroup_quota(tmp_path / "fs", cgroups) == 1.5


def test_cgroup_v2_without_a_limit_and_missing_files(tmp_path):
    cgroups = write(tmp_path / "cgroup", "0::/\n")
    write(tmp_path / "fs" / "cpu.max", "max 100000\n")
    assert cgroup_quota(tmp_path / "fs", cgroups) is None
    assert cgroup_quota(tmp_path / "nothing", tmp_path / "no-cgroup-file") is None


def test_cgroup_v1_quota_and_unlimited(tmp_path):
    cgroups = write(tmp_path / "cgroup", "4:memory:/m\n1:cpu,cpuacct:/job\n")
    write(tmp_path / "fs" / "cpu" / "job" / "cpu.cfs_quota_us", "200000\n")
    write(tmp_path / "fs" / "cpu" / "job" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_quota(tmp_path / "fs", cgroups) == 2.0
    write(tmp_path / "fs" / "cpu" / "job" / "cpu.cfs_quota_us", "-1\n")
    assert cgroup_quota(tmp_path / "fs", cgroups) is None


def test_usable_cores_are_affinity_capped_by_quota():
    assert usable_cores(quota=1.5, affinity=4) == 1
    assert usable_cores(quota=8.0, affinity=2) == 2
    assert usable_cores(quota=0.5, affinity=2) == 1
    assert usable_cores(quota=3.0, affinity=4) == 3
    assert usable_cores() == min(len(os.sched_getaffinity(0)),
                                 int(cgroup_quota() or len(os.sched_getaffinity(0))))


def test_others_running_is_the_median_minus_this_process(tmp_path):
    loadavg = write(tmp_path / "loadavg", "0.50 0.40 0.30 5/300 1234\n")
    assert others_running(samples=3, interval_s=0, loadavg=loadavg, own=2) == 3
    assert others_running(samples=1, loadavg=loadavg, own=0) == 4  # the reader counts
    assert others_running(loadavg=tmp_path / "missing") == 0
    assert others_running(samples=2, interval_s=0) >= 0  # the real /proc/loadavg


def test_wait_policy_is_passive_only_before_torch_and_never_over_the_user():
    environ: dict[str, str] = {}
    assert prepare_wait_policy(environ, {}) == "passive"
    assert environ == {"OMP_WAIT_POLICY": "PASSIVE"}
    environ = {"GOMP_SPINCOUNT": "1000"}
    assert prepare_wait_policy(environ, {}) == "user"
    assert environ == {"GOMP_SPINCOUNT": "1000"}
    environ = {}
    assert prepare_wait_policy(environ, {"torch": object()}) == "active"
    assert environ == {}


def test_choose_threads_keeps_what_the_user_set():
    cores = len(os.sched_getaffinity(0))
    common = {"cores": cores, "others": 0, "wait_policy": "passive"}
    assert choose_threads(3, current=cores, environ={}, **common) == (3, "setting")
    assert choose_threads(None, current=cores, environ={"OMP_NUM_THREADS": "1"},
                          **common) == (None, "OMP_NUM_THREADS")
    assert choose_threads(None, current=cores + 5, environ={},
                          **common) == (None, "torch.set_num_threads")
    assert choose_threads(None, current=cores, environ={}, **common) == (cores, "auto")
    # after our own choice, a different count is the user's
    assert choose_threads(None, current=1, environ={}, applied=cores,
                          **common) == (None, "torch.set_num_threads")
    with pytest.raises(SettingsError, match="threads must be positive"):
        choose_threads(0, current=cores, environ={}, **common)


def test_choose_threads_drops_shared_cores_only_with_a_spinning_wait():
    args = {"current": len(os.sched_getaffinity(0)), "environ": {}}
    assert choose_threads(None, cores=4, others=1, wait_policy="active",
                          **args)[0] == 3
    assert choose_threads(None, cores=2, others=5, wait_policy="active", **args)[0] == 1
    assert choose_threads(None, cores=2, others=5, wait_policy="passive", **args)[0] == 2


def test_oversubscription_warns_once_with_what_to_do():
    cpu_threads.reset_for_tests()
    plan = ThreadPlan(threads=2, source="auto", cores=2, others_running=3,
                      wait_policy="passive")
    assert plan.oversubscribed
    assert not ThreadPlan(2, "auto", 2, 1, "passive").oversubscribed
    try:
        with pytest.warns(OversubscribedWarning, match=r"3 runnable .* 2 usable core"
                          r".*threads: 1"):
            assert warn_oversubscribed(plan)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not warn_oversubscribed(plan)
    finally:
        cpu_threads.reset_for_tests()


CONFIGURE = """
import json, os, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as seen:
    from agents.cpu_threads import configure
    plan = configure(THREADS)
    again = configure(THREADS)
import torch
print(json.dumps({"env": os.environ.get("OMP_WAIT_POLICY"), "threads": torch.get_num_threads(),
                  "source": plan.source, "wait": plan.wait_policy, "cores": plan.cores,
                  "warnings": [str(w.message) for w in seen]}))
"""


def run_configure(threads: str = "None", **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", *cpu_threads.THREAD_ENV)}
    out = subprocess.run([sys.executable, "-c", CONFIGURE.replace("THREADS", threads)],
                         env={**clean, **env}, capture_output=True, text=True, check=True,
                         timeout=120)
    return json.loads(out.stdout.splitlines()[-1])


def test_configure_in_a_fresh_process_sets_passive_wait_and_usable_cores():
    result = run_configure()
    assert result["env"] == "PASSIVE" and result["wait"] == "passive"
    assert result["threads"] == result["cores"] == usable_cores()
    assert result["source"] == "auto"


def test_configure_respects_omp_num_threads_and_the_user_wait_policy():
    result = run_configure(OMP_NUM_THREADS="1", OMP_WAIT_POLICY="ACTIVE")
    assert result["threads"] == 1 and result["source"] == "OMP_NUM_THREADS"
    assert result["env"] == "ACTIVE" and result["wait"] == "user"


def test_configure_warns_once_when_other_processes_hold_every_core():
    cores = usable_cores()
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(cores + 1)]
    try:
        result = run_configure()
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    oversubscribed = [w for w in result["warnings"] if "oversubscribed" in w]
    assert len(oversubscribed) == 1, result["warnings"]


def test_hf_agent_threads_setting_sets_torch_threads():
    import torch

    from agents.hf_agent import HFAgent

    before = torch.get_num_threads()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OversubscribedWarning)
            agent = HFAgent(str(shared_tiny_model()), threads=1, max_new_tokens=4)
        assert torch.get_num_threads() == 1
        assert agent.cpu_threads.threads == 1 and agent.cpu_threads.source == "setting"
        with pytest.raises(SettingsError):
            HFAgent(str(shared_tiny_model()), threads=0)
    finally:
        torch.set_num_threads(before)
        cpu_threads.reset_for_tests()


def test_recheck_keeps_a_recent_plan_and_remeasures_an_old_one():
    import time

    import torch

    cpu_threads.reset_for_tests()
    current = torch.get_num_threads()
    recent = ThreadPlan(current, "setting", 2, 0, "passive", time.monotonic())
    assert cpu_threads.recheck(recent) is recent
    old = ThreadPlan(current, "setting", 2, 0, "passive", measured_at=0.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OversubscribedWarning)
            again = cpu_threads.recheck(old)
        assert again is not old and again.measured_at > 0
        assert (again.threads, again.source) == (current, "setting")
        assert torch.get_num_threads() == current
    finally:
        cpu_threads.reset_for_tests()
