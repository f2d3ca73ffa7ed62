"""The docker sandbox backend: same semantics as the local one, in locked-down containers.

Skipped, with the reason, when no Docker daemon or no sandbox image is available
(`bash .ci/docker-setup.sh` as root provides both).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deeptool_env.sandbox import SandboxClosedError, create, docker_container, uidpool
from deeptool_env.sandbox.docker_image import LABEL, docker_available, owner_label

from .polling import wait_until

AVAILABLE, REASON = docker_available()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(not AVAILABLE, reason=REASON)]


def _our_containers() -> list[str]:
    import docker

    client = docker.from_env()
    try:
        found = client.api.containers(all=True, filters={"label": f"{LABEL}={owner_label()}"})
        return [info["Names"][0] for info in found]
    finally:
        client.close()


def _container_exists(container_id: str) -> bool:
    import docker

    client = docker.from_env()
    try:
        client.containers.get(container_id)
        return True
    except docker.errors.NotFound:
        return False
    finally:
        client.close()


@pytest.fixture(scope="module", autouse=True)
def no_stray_containers() -> Iterator[None]:
    """Every container this module started is gone once its sandboxes are closed."""
    yield
    assert wait_until(lambda: not _our_containers(), 10.0), _our_containers()


@pytest.fixture(scope="module")
def sandbox() -> Iterator:
    box = create("docker", timeout_s=10.0)
    yield box
    box.close()


@pytest.fixture()
def session(sandbox) -> Iterator:
    with sandbox.session() as sess:
        yield sess


def test_state_persists_and_final_expression_is_printed(session) -> None:
    first = session.run("import math\nx = 20\nprint('set')")
    assert (first.status, first.stdout, first.exit_code) == ("ok", "set\n", 0)
    second = session.run("y = x + 1\nmath.factorial(3) * y")
    assert second.status == "ok"
    assert second.stdout == "126\n"


def test_numpy_and_sympy_are_in_the_image(session) -> None:
    result = session.run(
        "import numpy as np, sympy as sp\nint(np.arange(5).sum()), sp.factor('x**2 - 1')"
    )
    assert result.stdout == "(10, (x - 1)*(x + 1))\n", result.stderr


def test_error_traceback_has_the_cells_line_numbers(session) -> None:
    result = session.run("a = 1\nb = 0\nc = a / b\n")
    assert result.status == "error" and result.exit_code == 1
    assert 'File "<cell-1>", line 3' in result.stderr
    assert "ZeroDivisionError" in result.stderr
    assert "worker.py" not in result.stderr
    assert session.run("a + 1").stdout == "2\n"


def test_timeout_removes_the_container_and_next_run_is_fresh(session) -> None:
    session.run("kept = 1")
    container_id = session.container_id
    assert container_id is not None
    started = time.monotonic()
    result = session.run("while True:\n    pass", timeout_s=1.0)
    assert result.status == "timeout" and result.state_lost
    assert time.monotonic() - started < 5.0
    assert wait_until(lambda: not _container_exists(container_id), 5.0)
    after = session.run("print('kept' in globals())")
    assert after.status == "ok" and after.stdout == "False\n"
    assert "fresh one" in after.stderr
    assert session.container_id not in (None, container_id)


def test_crash_reports_the_signal_and_the_session_recovers(session) -> None:
    result = session.run("import ctypes\nctypes.string_at(0)")
    assert result.status == "killed" and result.exit_code == -11
    assert "SIGSEGV" in result.stderr
    assert session.run("1 + 1").stdout == "2\n"


def test_memory_error_keeps_the_state(session) -> None:
    session.run("kept = 5")
    result = session.run("x = bytearray(10 * 2**30)")
    assert result.status == "memory" and "MemoryError" in result.stderr
    assert session.run("kept").stdout == "5\n"


def test_no_network(session) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        result = session.run(
            "import socket\n"
            "print(sorted(name for _, name in socket.if_nameindex()))\n"
            "s = socket.socket()\ns.settimeout(2)\n"
            f"s.connect(('127.0.0.1', {port}))\n"
        )
    assert result.stdout == "['lo']\n"
    assert result.status == "error" and "ConnectionRefusedError" in result.stderr


def test_non_root_without_capabilities_and_without_host_environment(session) -> None:
    os.environ["DEEPTOOL_TEST_SECRET"] = "do-not-leak"
    try:
        result = session.run(
            "import os\n"
            "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')]\n"
            "print(os.getuid() != 0, os.geteuid() != 0, caps[0].split()[1])\n"
            "'DEEPTOOL_TEST_SECRET' in os.environ"
        )
    finally:
        del os.environ["DEEPTOOL_TEST_SECRET"]
    assert result.stdout == "True True 0000000000000000\nFalse\n", result.stderr


def test_read_only_root_and_writable_work_dir(session) -> None:
    result = session.run(
        "import os\nopen('note.txt', 'w').write('hi')\n"
        "print(os.getcwd(), open('note.txt').read())\n"
        "open('/usr/evil', 'w')"
    )
    assert result.stdout == "/tmp hi\n"
    assert result.status == "error" and "Read-only file system" in result.stderr


def test_close_twice_is_harmless(sandbox) -> None:
    sess = sandbox.session()
    assert sess.run("1").status == "ok"
    sess.close()
    sess.close()
    with pytest.raises(SandboxClosedError):
        sess.run("1")


def test_closing_the_sandbox_mid_run_returns_promptly() -> None:
    box = create("docker", timeout_s=60.0)
    sess = box.session()
    assert sess.run("1").status == "ok"
    results = []
    sleeper = "import time\ntime.sleep(50)"
    worker = threading.Thread(target=lambda: results.append(sess.run(sleeper)))
    worker.start()
    time.sleep(0.5)
    started = time.monotonic()
    box.close()
    box.close()
    worker.join(10.0)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5.0
    assert results[0].status == "killed"
    with pytest.raises(SandboxClosedError):
        box.session()


def test_sessions_are_isolated(sandbox) -> None:
    with sandbox.session() as one, sandbox.session() as two:
        one.run("secret = 42\nopen('/tmp/mine', 'w').write('x')")
        result = two.run("import os\n'secret' in globals(), os.path.exists('/tmp/mine')")
        assert result.stdout == "(False, False)\n"
        assert one.container_id != two.container_id


def test_docker_available_names_the_fix_for_a_missing_image() -> None:
    ok, reason = docker_available("deeptool-sandbox:no-such-tag")
    assert not ok and "build-image" in reason


def _uid_is_leased(uid: int) -> bool:
    lease = uidpool._claim(uidpool.pool_dir(), uid)
    if lease is None:
        return True
    lease.release()
    return False


def test_concurrent_containers_get_distinct_uids_leased_from_the_host_pool(sandbox) -> None:
    """Issue 11, item 11: random uids from a 100k range collided between concurrent
    containers (and then shared RLIMIT_NPROC). Uids now come from the pool the local
    backend uses too, are held while the container lives and come back once it is gone."""
    sessions = [sandbox.session() for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda sess: sess.run(
                "import json, os\nprint(json.dumps([os.getuid(), os.getgid()]))"), sessions))
        ids = [json.loads(result.stdout) for result in results]
        uids = [uid for uid, _ in ids]
        assert all(uid == gid for uid, gid in ids)
        assert len(set(uids)) == len(uids)
        assert all(uidpool.UID_FIRST <= uid < uidpool.UID_FIRST + uidpool.UID_COUNT
                   for uid in uids), uids
        assert all(_uid_is_leased(uid) for uid in uids)
    finally:
        for sess in sessions:
            sess.close()
    assert wait_until(lambda: not any(_uid_is_leased(uid) for uid in uids), 10.0)


_SECCOMP_PROBE = r"""
import ctypes, fcntl, json, os, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return ctypes.get_errno() if rc == -1 else 0
def os_error(action):
    try:
        action()
    except OSError as exc:
        return exc.errno
    return 0
params = ctypes.create_string_buffer(120)
handle = open('/tmp/lockme', 'w')
box = []
thread = threading.Thread(target=lambda: box.append(1))
thread.start(); thread.join()
print(json.dumps({
    "filters": [int(l.split()[1]) for l in open('/proc/self/status')
                if l.startswith('Seccomp_filters')],
    "io_uring_setup": call(425, 1, ctypes.addressof(params)),
    "flock": os_error(lambda: fcntl.flock(handle, fcntl.LOCK_EX)),
    "lockf": os_error(lambda: fcntl.lockf(handle, fcntl.LOCK_EX)),
    "inotify_init1": call(294, 0),
    "add_key": call(248, 0, 0, 0, 0, 0),
    "personality": call(135, 0x0400000),
    "unshare": call(272, 0x10000000),
    "clone3": call(435, 0, 0),
    "thread": box,
    "subprocess": subprocess.run(['/bin/true']).returncode,
}))
"""


def test_seccomp_filter_is_stacked_on_dockers_profile(session) -> None:
    """Docker's default profile stays; ours adds io_uring (allowed by Docker 20.10's
    profile), locks and inotify (cross-session channels) and the rest of `DENIED`."""
    if os.uname().machine != "x86_64":
        pytest.skip("the probe uses x86_64 system call numbers")
    result = session.run(_SECCOMP_PROBE)
    assert result.status == "ok", result.stderr
    assert json.loads(result.stdout) == {
        "filters": [2], "io_uring_setup": errno.EPERM, "flock": errno.ENOLCK,
        "lockf": errno.ENOLCK, "inotify_init1": errno.EPERM, "add_key": errno.EPERM,
        "personality": errno.EPERM, "unshare": errno.EPERM, "clone3": errno.ENOSYS,
        "thread": [1], "subprocess": 0}


def test_no_container_starts_without_the_filter(monkeypatch) -> None:
    """The launcher installs the filter before anything else and fails closed."""
    monkeypatch.setattr(docker_container, "seccomp_program", lambda: b"\0" * 8)
    box = create("docker", timeout_s=10.0)
    try:
        with box.session() as sess:
            result = sess.run("print('should not run')")
        assert result.status == "sandbox_error" and "should not run" not in result.stdout
    finally:
        box.close()




# A hostile cell's prelude: a result frame for the running cell, written on the control
# socket (the only socket above fd 2), as the worker would write it.
_FORGE_RESULT = """
import json, os, struct, sys
ctrl = next(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) > 2
            and os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"))
frame = sys._getframe()
while not isinstance(frame.f_locals.get("message"), dict):
    frame = frame.f_back
data = json.dumps({"op": "result", "id": frame.f_locals["message"]["id"], "status": "ok",
                   "traceback": "", "exit_code": 0}).encode()
os.write(ctrl, struct.pack(">I", len(data)) + data)
while True:
    pass
"""


def _cpu_s_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_cell_that_forges_its_result_is_frozen_until_the_next_cell(session) -> None:
    """Issue 11, item 4: a forged result let the cell keep the CPU after `run` returned;
    the container is now frozen from the end of a cell to the start of the next."""
    import docker

    assert session.run("1").status == "ok"
    client = docker.from_env()
    try:
        pid = int(client.containers.get(session.container_id).attrs["State"]["Pid"])
    finally:
        client.close()
    result = session.run(_FORGE_RESULT, timeout_s=5)
    assert result.status == "ok"  # the cell may lie about itself
    time.sleep(0.2)
    before = _cpu_s_of(pid)
    time.sleep(1.0)
    spent = _cpu_s_of(pid) - before
    assert spent < 0.2, f"the spinning cell used {spent:.2f} s of CPU between cells"
    after = session.run("print('B')", timeout_s=2)
    assert after.status in {"timeout", "sandbox_error"} or after.stdout == "B\n", after
