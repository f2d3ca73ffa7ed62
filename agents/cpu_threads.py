"""torch's CPU threads chosen for the machine, and one warning when its cores are shared.

Why: torch's CPU wheels run intra-op work on GNU OpenMP (libgomp) threads that, by
default, spin-wait for each other after every parallel region. When other processes take
the cores, a spinning thread burns the time slice its peer needs and decoding collapses
(SmolLM2-135M, 2 cores shared with other work and two busy loops: 0.16-0.22 tokens/s with
torch's defaults, 0.83-1.06 with this policy; see tests/benchmarks/
test_generation_under_load.py). So, unless the user chose:

- the wait policy is made passive (`OMP_WAIT_POLICY=PASSIVE`). libgomp reads it once, when
  torch is imported, so `prepare_wait_policy` must run before `import torch`; after that it
  is too late and fewer threads are the only remedy. (`KMP_BLOCKTIME` is Intel OpenMP's and
  ignored by these wheels; `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY` set by the user win.)
- the intra-op thread count is the cores this process may really use: its CPU affinity and
  its cgroup CPU quota, not `os.cpu_count()`. With torch's spinning default already
  loaded, threads that would share a core with other runnable tasks are dropped.
- `OMP_NUM_THREADS`, `MKL_NUM_THREADS` and an earlier `torch.set_num_threads` are kept.

Oversubscription (other runnable tasks, sampled from /proc/loadavg, at least the usable
cores) is warned about once per process, with what to do.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

WAIT_ENV = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_state: dict[str, object] = {"warned": False, "applied": None}


class OversubscribedWarning(RuntimeWarning):
    """Other processes keep the cores busy: local generation will be slow."""


@dataclass(frozen=True)
class ThreadPlan:
    """What `configure` decided and why (also what the warning is based on)."""

    threads: int  # intra-op threads torch uses now
    source: str  # "auto", "setting", "OMP_NUM_THREADS", "torch.set_num_threads", ...
    cores: int  # usable cores: affinity and cgroup quota
    others_running: int  # runnable tasks of other processes, sampled
    wait_policy: str  # "passive" (set here), "user" (set by the user), "active" (torch's)
    measured_at: float = 0.0  # time.monotonic() of the measurement

    @property
    def oversubscribed(self) -> bool:
        return self.others_running >= self.cores


def affinity_cores() -> int:
    """CPUs this process may run on (`sched_getaffinity`), else `os.cpu_count()`."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cgroup_quota(root: Path = Path("/sys/fs/cgroup"),
                 cgroups: Path = Path("/proc/self/cgroup")) -> float | None:
    """The cgroup CPU quota in CPUs (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`), or None."""
    try:
        lines = cgroups.read_text().splitlines()
    except OSError:
        lines = []
    v2, v1 = "/", "/"
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    candidates = [(root / v2.lstrip("/") / "cpu.max", None), (root / "cpu.max", None),
                  (root / "cpu" / v1.lstrip("/") / "cpu.cfs_quota_us", "v1"),
                  (root / "cpu" / "cpu.cfs_quota_us", "v1")]
    for path, kind in candidates:
        try:
            text = path.read_text().split()
            if kind == "v1":
                period = (path.parent / "cpu.cfs_period_us").read_text().split()
                text = text + period
        except OSError:
            continue
        if len(text) < 2 or text[0] in ("max", "-1") or int(text[1]) <= 0:
            return None
        return int(text[0]) / int(text[1])
    return None


def usable_cores(quota: float | None = None, affinity: int | None = None) -> int:
    """Cores this process can keep busy: its affinity, capped by its cgroup quota."""
    affinity = affinity_cores() if affinity is None else affinity
    quota = cgroup_quota() if quota is None else quota
    if quota is None:
        return affinity
    return max(1, min(affinity, math.floor(quota + 0.01)))


def _own_running() -> int:
    running = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            running += stat.read_text().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return running


def others_running(samples: int = 5, interval_s: float = 0.02,
                   loadavg: Path = Path("/proc/loadavg"), own: int | None = None) -> int:
    """Runnable tasks of other processes now: the median of a few cheap samples (0 where
    /proc is missing). Instantaneous, unlike the 1-minute load average. `own`: this
    process's runnable threads (default: counted from /proc/self/task)."""
    counts = []
    for i in range(samples):
        try:
            running = int(loadavg.read_text().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return 0
        mine = _own_running() if own is None else own
        counts.append(max(0, running - max(1, mine)))
        if i + 1 < samples:
            time.sleep(interval_s)
    return sorted(counts)[len(counts) // 2]


def prepare_wait_policy(environ: dict[str, str] | None = None,
                        modules: dict[str, object] | None = None) -> str:
    """Before torch loads OpenMP: a passive wait unless the user chose one. Returns
    "user", "passive", or "active" (torch was already imported with its default)."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if any(name in environ for name in WAIT_ENV):
        return "user"
    if "torch" in modules:
        return "active"
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return "passive"


def choose_threads(setting: int | None, *, cores: int, others: int, wait_policy: str,
                   current: int, environ: dict[str, str] | None = None,
                   applied: int | None = None) -> tuple[int | None, str]:
    """(threads to set or None to keep torch's, why). Pure: the tests call it directly."""
    environ = os.environ if environ is None else environ
    if setting is not None:
        if setting <= 0:
            from deeptool_env.settings import SettingsError

            raise SettingsError(f"threads must be positive or None (auto), not {setting}")
        return setting, "setting"
    for name in THREAD_ENV:
        if environ.get(name):
            return None, name
    if applied is None and current != affinity_cores():
        return None, "torch.set_num_threads"
    if applied is not None and current != applied:
        return None, "torch.set_num_threads"
    if wait_policy == "active" and others > 0:
        return max(1, cores - others), "auto"
    return cores, "auto"


def configure(threads: int | None = None, *, measure: bool = True) -> ThreadPlan:
    """Set the wait policy (if still possible) and torch's intra-op threads; warn once
    when the machine is oversubscribed. Call it before anything imports torch."""
    wait_policy = prepare_wait_policy()
    return _apply(threads, wait_policy, others_running() if measure else 0)


def recheck(plan: ThreadPlan, *, every_s: float = 30.0) -> ThreadPlan:
    """`plan` again if it is recent, else re-measured (about 20 ms): other work that starts
    later is warned about, and with torch's spinning wait the thread count follows it."""
    if time.monotonic() - plan.measured_at < every_s:
        return plan
    setting = plan.threads if plan.source == "setting" else None
    return _apply(setting, plan.wait_policy, others_running(samples=3, interval_s=0.01))


def _apply(setting: int | None, wait_policy: str, others: int) -> ThreadPlan:
    import torch

    cores = usable_cores()
    chosen, source = choose_threads(
        setting, cores=cores, others=others, wait_policy=wait_policy,
        current=torch.get_num_threads(), applied=_state["applied"])  # type: ignore[arg-type]
    if chosen is not None and chosen != torch.get_num_threads():
        torch.set_num_threads(chosen)
    if chosen is not None:
        _state["applied"] = chosen
    plan = ThreadPlan(torch.get_num_threads(), source, cores, others, wait_policy,
                      time.monotonic())
    if plan.oversubscribed:
        warn_oversubscribed(plan)
    return plan


def warn_oversubscribed(plan: ThreadPlan) -> bool:
    """Warn (once per process) that other work holds the cores; True if it warned now."""
    if _state["warned"]:
        return False
    _state["warned"] = True
    wait = {"active": "torch's spinning OpenMP wait (torch was imported before the agent: "
                      "set OMP_WAIT_POLICY=PASSIVE before starting)",
            "user": f"your OpenMP wait setting ({', '.join(WAIT_ENV)})",
            "passive": "a passive OpenMP wait"}[plan.wait_policy]
    if plan.threads == 1:
        wait = "no OpenMP wait (one thread)"
    warnings.warn(
        f"the CPU is oversubscribed: {plan.others_running} runnable task(s) of other "
        f"processes on {plan.cores} usable core(s), so local generation will be several "
        f"times slower than on an idle machine. Running with {plan.threads} torch "
        f"thread(s) ({plan.source}) and {wait}. To speed it up, stop the other CPU work "
        "or give this process its own cores (taskset, a cgroup), or use a served model "
        "(--agent openai); `threads` (e.g. --agent-options '{threads: 1}') or "
        "OMP_NUM_THREADS overrides the thread count.",
        OversubscribedWarning, stacklevel=4)
    return True


def reset_for_tests() -> None:
    """Forget the warning and the applied thread count (tests only)."""
    _state.update(warned=False, applied=None)
