"""The docker sandbox backend: same semantics as the local one, in locked-down containers.

Skipped, with the reason, when no Docker daemon or no sandbox image is available
(`bash .ci/docker-setup.sh` as root provides both).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from deeptool_env.sandbox import SandboxClosedError, create
from deeptool_env.sandbox.docker_image import LABEL, docker_available, owner_label

AVAILABLE, REASON = docker_available()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(not AVAILABLE, reason=REASON)]


def _wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


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
    assert _wait_until(lambda: not _our_containers(), 10.0), _our_containers()


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
    assert _wait_until(lambda: not _container_exists(container_id), 5.0)
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
