"""Hostile cells: each is contained, reported with the right status, leaves nothing behind,
and the sandbox keeps serving. Runs on every strongly isolated backend."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from deeptool_env.sandbox import Sandbox

from .conftest import REPO

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _serves(box: Sandbox) -> None:
    """The sandbox still gives working, fresh sessions."""
    with box.session() as session:
        result = session.run("1 + 1")
        assert result.status == "ok" and result.stdout == "2\n", result


def _lone_process(session) -> None:
    """Only the session's interpreter is left in its PID namespace / container."""
    result = session.run(
        "import os\nsum(1 for p in os.listdir('/proc') if p.isdigit())")
    assert result.status == "ok", result
    assert int(result.stdout) == 1, result


def test_infinite_loop_times_out_and_session_restarts(isolated_sandbox):
    with isolated_sandbox.session() as session:
        session.run("x = 7")
        result = session.run("while True:\n    pass", timeout_s=1)
        assert result.status == "timeout", result
        assert "did not finish within 1 s" in result.stderr
        after = session.run("'x' in globals()")
        assert after.status == "ok" and after.stdout == "False\n"
        assert "fresh one" in after.stderr
    _serves(isolated_sandbox)


def test_fork_bomb_is_contained(isolated_sandbox):
    with isolated_sandbox.session() as session:
        result = session.run("import os\nwhile True:\n    os.fork()", timeout_s=5)
        assert result.status in {"error", "timeout"}, result
        if result.status == "error":
            assert "BlockingIOError" in result.stderr or "Resource" in result.stderr
            _lone_process(session)
    _serves(isolated_sandbox)


@pytest.mark.parametrize("code", [
    "x = bytearray(10 * 1024**3)",
    "import numpy as np\nx = np.ones(10**10 // 8)",
])
def test_allocating_10_gb_is_a_memory_error(isolated_sandbox, code):
    with isolated_sandbox.session() as session:
        session.run("keep = 41")
        result = session.run(code)
        assert result.status == "memory", result
        survived = session.run("keep + 1")
        assert survived.status == "ok" and survived.stdout == "42\n"


def test_writing_a_1_gb_file_is_refused(isolated_sandbox):
    code = ("chunk = b'0' * 2**20\n"
            "with open('big.bin', 'wb') as f:\n"
            "    for _ in range(1024):\n"
            "        f.write(chunk)\n")
    with isolated_sandbox.session() as session:
        result = session.run(code, timeout_s=30)
        assert result.status == "error", result
        assert "File too large" in result.stderr or "No space" in result.stderr
        size = session.run("import os\nos.path.getsize('big.bin') // 2**20")
        assert size.status == "ok" and int(size.stdout) < 1024


@pytest.mark.parametrize("code", [
    "print('x' * 100_000_000)",
    "while True:\n    print('spam ' * 100)",
])
def test_printing_100_mb_is_cut_and_stopped(isolated_sandbox, code):
    cap = isolated_sandbox.config.max_output_chars
    with isolated_sandbox.session() as session:
        result = session.run(code, timeout_s=30)
        assert result.status == "output_limit", result
        assert result.truncated
        assert len(result.stdout) < cap + 200
        assert "characters omitted" in result.stdout
    _serves(isolated_sandbox)


def test_no_network_to_host_loopback(isolated_sandbox):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        with isolated_sandbox.session() as session:
            code = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), "
                    "timeout=2)\ns.sendall(b'leak')")
            result = session.run(code)
            assert result.status == "error", result
            assert "OSError" in result.stderr or "Error" in result.stderr
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


def test_host_environment_is_not_visible(isolated_sandbox, monkeypatch):
    monkeypatch.setenv("DEEPTOOL_TEST_SECRET", "hunter2-secret")
    with isolated_sandbox.session() as session:
        code = ("import os, glob\nprint(dict(os.environ))\n"
                "for path in glob.glob('/proc/*/environ'):\n"
                "    try:\n        print(open(path, 'rb').read())\n"
                "    except OSError as e:\n        print(path, e)\n")
        result = session.run(code)
    assert result.status == "ok", result
    assert "hunter2" not in result.stdout + result.stderr
    assert "DEEPTOOL_TEST_SECRET" not in result.stdout


def test_writing_outside_the_work_dir_fails(isolated_sandbox, tmp_path):
    targets = ["/etc/deeptool-pwned", "/usr/deeptool-pwned", "/deeptool-pwned",
               "/root/deeptool-pwned", str(REPO / "deeptool-pwned"),
               str(tmp_path / "deeptool-pwned"), "/var/tmp/deeptool-pwned"]
    code = ("results = {}\n"
            f"for path in {targets!r}:\n"
            "    try:\n"
            "        with open(path, 'w') as f:\n"
            "            f.write('pwned')\n"
            "        results[path] = 'written'\n"
            "    except OSError as e:\n"
            "        results[path] = type(e).__name__\n"
            "results\n")
    with isolated_sandbox.session() as session:
        result = session.run(code)
        assert result.status == "ok", result
    for path in targets:
        assert not Path(path).exists(), f"{path} was created on the host"


@pytest.mark.parametrize("code", ["import os\nos.kill(os.getppid(), 9)",
                                  "import os\nos.kill(1, 9)"])
def test_killing_parent_or_pid1_hurts_nobody_else(isolated_sandbox, code):
    with isolated_sandbox.session() as session:
        result = session.run(code)
        assert result.status in {"ok", "error", "killed"}, result
    assert os.getppid() > 0
    _serves(isolated_sandbox)


def test_ctypes_segfault_is_reported_as_killed(isolated_sandbox):
    with isolated_sandbox.session() as session:
        session.run("x = 1")
        result = session.run("import ctypes\nctypes.string_at(0)")
        assert result.status == "killed", result
        assert "SIGSEGV" in result.stderr or "died" in result.stderr
        after = session.run("'x' in globals()")
        assert after.stdout == "False\n" and "fresh one" in after.stderr
    _serves(isolated_sandbox)


@pytest.mark.parametrize("target", ["time.sleep(1000)", "busy()"])
def test_thread_outliving_the_cell_is_stopped(isolated_sandbox, target):
    code = ("import threading, time\n"
            "def busy():\n    while True:\n        pass\n"
            f"threading.Thread(target=lambda: {target}, daemon=True).start()\n"
            "print('started')\n")
    with isolated_sandbox.session() as session:
        result = session.run(code, timeout_s=1.5)
        assert result.status == "timeout", result
        assert "started" in result.stdout
        assert session.run("1").status == "ok"
    _serves(isolated_sandbox)


def test_sessions_do_not_see_each_other(isolated_sandbox):
    with isolated_sandbox.session() as first, isolated_sandbox.session() as second:
        first.run("secret = 123\nopen('mine.txt', 'w').write('first')")
        seen = second.run("import os\n('secret' in globals(), os.path.exists('mine.txt'))")
        assert seen.stdout == "(False, False)\n", seen
        still = first.run("secret, open('mine.txt').read()")
        assert still.stdout == "(123, 'first')\n", still


def test_closing_the_sandbox_mid_run_returns_promptly(isolated_sandbox):
    from .conftest import make_sandbox

    box = make_sandbox(isolated_sandbox.config.backend)
    session = box.session()
    assert session.run("1").status == "ok"
    results = []
    worker = threading.Thread(
        target=lambda: results.append(session.run("while True:\n    pass", timeout_s=120)))
    worker.start()
    time.sleep(0.5)
    box.close()
    box.close()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert results and results[0].status == "killed", results


def _host_processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_nothing_is_left_on_the_host_after_close():
    from .conftest import make_sandbox

    box = make_sandbox("local")
    session = box.session()
    uid = int(session.run("import os\nos.getuid()").stdout)
    session.run("import subprocess\np = subprocess.Popen(['sleep', '1000'])\n"
                "import threading, time\n"
                "threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()",
                timeout_s=1)
    session.run("import subprocess, os\nq = subprocess.Popen(['sleep', '1000'])\n"
                "os.setsid if False else None")
    server_pid = box._server.process.pid
    box.close()
    deadline = time.monotonic() + 10
    while _host_processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _host_processes_of(uid) == []
    assert not Path(f"/proc/{server_pid}").exists()
