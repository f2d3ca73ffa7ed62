"""A script that makes an env (or a sandbox) and exits, closing it or not, leaves nothing:
no traceback at exit, no sandbox process and no session cgroup of its run.

A warm spare is started in the background; when it finished during interpreter teardown,
its clean-up ran after the builtins were gone ("NameError: name 'open' is not defined")
and its cgroups stayed. The exit is racy, so each script runs several times.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deeptool_env.sandbox.cgroup_support import GROUP_PREFIX, ROOT

from .conftest import REPO, backend_unavailable
from .polling import wait_until

pytestmark = [pytest.mark.timeout(300)]

PRELUDE = """
import os, sys
import gymnasium as gym
import deeptool_env  # noqa: F401
from deeptool_env import sandbox
print(os.getpid(), flush=True)
"""
SCRIPTS = {
    "env closed": "env = gym.make('DeepTool-Math-v0', tasks='procedural:modpow', max_turns=3)\n"
                  "env.reset(seed=0)\nenv.close()\n",
    "env left open": "env = gym.make('DeepTool-Math-v0', tasks='procedural:modpow', "
                     "max_turns=3)\nenv.reset(seed=0)\n",
    "env mid-episode": "env = gym.make('DeepTool-Math-v0', tasks='procedural:modpow', "
                       "max_turns=3)\nenv.reset(seed=0)\n"
                       "env.step('<code>\\nprint(1)\\n</code>')\n",
    "sandbox left open": "box = sandbox.create('local')\nsession = box.session()\n"
                         "assert session.run('x = 1').status == 'ok'\n",
}
RUNS = {"env closed": 2, "env left open": 3, "env mid-episode": 2, "sandbox left open": 2}


@pytest.fixture(scope="module")
def cgroup_parents() -> list[str]:
    """The directories session cgroups are made in, on this machine."""
    reason = backend_unavailable("local")
    if reason:
        pytest.skip(reason)
    return glob.glob(f"{ROOT}/**/{GROUP_PREFIX}", recursive=True)


def _run_processes(host: int) -> list[int]:
    """Live (non-zombie) processes of the run of `host`: its session (the fork-server and
    the keepers keep the host's session id), members of its cgroups, and their children."""
    table: dict[int, tuple[int, str]] = {}
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            groups = Path(f"/proc/{entry}/cgroup").read_text()
        except OSError:
            continue
        if fields[0] == "Z":
            continue
        table[int(entry)] = (int(fields[1]), fields[3])
        if int(fields[3]) == host or f"{GROUP_PREFIX}/{host}-" in groups:
            found.add(int(entry))
    grew = True
    while grew:
        children = {pid for pid, (parent, _) in table.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return sorted(found)


def _run(script: str) -> tuple[int, str]:
    completed = subprocess.run([sys.executable, "-c", PRELUDE + script], cwd=REPO,
                               capture_output=True, text=True, timeout=120,
                               start_new_session=True)
    assert completed.returncode == 0, completed.stderr
    return int(completed.stdout.split()[0]), completed.stderr


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_exit_leaves_no_traceback_process_or_cgroup(name, cgroup_parents):
    for _ in range(RUNS[name]):
        host, stderr = _run(SCRIPTS[name])
        assert "Traceback" not in stderr and "Error" not in stderr, stderr
        groups = [path for parent in cgroup_parents for path in glob.glob(f"{parent}/{host}-*")]
        assert groups == [], f"{name}: session cgroups left behind: {groups}"
        assert wait_until(lambda host=host: not _run_processes(host), timeout_s=10.0), (
            f"{name}: processes left behind: {_run_processes(host)}")


POOL_CLOSED_IN_TEARDOWN = """
import time
from deeptool_env.sandbox.spare_pool import SparePool

def start():
    time.sleep(0.3)
    return object()

def discard(spare):
    open("/dev/null").close()  # needs the builtins, as writing a cgroup file does

class Owner:  # closes its pool when collected, as a Sandbox does
    def __init__(self):
        self.closed = False
        self.pool = SparePool(start, alive=lambda s: True, discard=discard,
                              closed=lambda: self.closed, warm=1, start_timeout_s=5,
                              thread_name="test-spare")
        self.pool.refill()

    def __del__(self):
        self.closed = True
        self.pool.close()

owner = Owner()  # collected during interpreter teardown, after its spare started
"""


def test_a_pool_closed_during_teardown_prints_no_traceback():
    """A spare pool whose owner was not closed by `atexit` (a backend without an exit
    hook) is closed by the collector after the builtins are gone: its late discard is
    skipped then, instead of raising in a done-callback."""
    for _ in range(2):
        completed = subprocess.run([sys.executable, "-c", POOL_CLOSED_IN_TEARDOWN], cwd=REPO,
                                   capture_output=True, text=True, timeout=60)
        assert completed.returncode == 0 and completed.stderr == "", completed.stderr
