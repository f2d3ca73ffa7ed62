"""Hostile cells against the host itself: forged control frames, escapes from the session's
accounting, host-side exhaustion. One test per attack of the sandbox hardening issue; each
failed on the code before it (the kill tests aim at a victim process of their own, never
at pid 1 or -1)."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeptool_env.sandbox import Sandbox

from .conftest import make_sandbox
from .polling import wait_until

pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"), pytest.mark.timeout(120)]

# Cell prelude: write raw frames on the worker's control socket, as a hostile cell can.
FORGE = '''
import json, os, struct, sys
def _ctrl():
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                return int(name)
        except (OSError, ValueError):
            pass
def forge(message):
    data = json.dumps(message).encode()
    os.write(_ctrl(), struct.pack(">I", len(data)) + data)
def current_cell_id():
    frame = sys._getframe()
    while frame is not None:
        message = frame.f_locals.get("message")
        if isinstance(message, dict) and "id" in message:
            return message["id"]
        frame = frame.f_back
'''


@pytest.fixture(scope="module", params=["local", "subprocess", "docker"])
def box(request) -> Sandbox:
    sandbox = make_sandbox(request.param, timeout_s=10.0)
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="module")
def local() -> Sandbox:
    sandbox = make_sandbox("local", timeout_s=10.0)
    yield sandbox
    sandbox.close()


@pytest.fixture
def victim():
    """A process of the test's own that a forged pid aims at."""
    process = subprocess.Popen(["sleep", "600"])
    yield process
    process.kill()
    process.wait()


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid and "Z" not in fields["State"]:
            found.append(int(entry))
    return found


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total


def _uid(session) -> int:
    result = session.run("import os\nos.getuid()")
    assert result.status == "ok", result
    return int(result.stdout)


# 1-3: the keeper's facts cannot be forged -------------------------------------------------

def test_forged_started_pid_never_gets_a_host_process_killed(local, victim):
    with local.session() as session:
        result = session.run(FORGE + f'forge({{"op": "started", "pid": {victim.pid}}})\n'
                             f'forge({{"op": "exited", "signal": 9, "code": None}})')
        session.run("while True: pass", timeout_s=0.5)  # timeout: the session is killed
        session.run("1")  # restart
    assert result.status in {"ok", "sandbox_error"}
    time.sleep(0.2)
    assert victim.poll() is None, "a forged pid got a host process killed"


def test_a_session_that_clears_its_death_signal_still_dies_with_close(local):
    session = local.session()
    uid = _uid(session)
    session.run("import ctypes\nctypes.CDLL(None).prctl(1, 0, 0, 0, 0)")  # no PDEATHSIG
    assert _processes_of(uid), "the session should be running"
    session.run(FORGE + 'forge({"op": "started", "pid": 0})\nimport time\ntime.sleep(600)',
                timeout_s=1)
    session.close()
    assert wait_until(lambda: not _processes_of(uid)), "the session outlived close()"


HOST_THAT_DIES = """
import os, time
from deeptool_env import sandbox
box = sandbox.create("local")
session = box.session()
session.run("import ctypes\\nctypes.CDLL(None).prctl(1, 0, 0, 0, 0)")  # no PDEATHSIG
print(session.run("import os\\nos.getuid()").stdout, flush=True)
time.sleep(600)
"""


def test_a_frozen_session_dies_with_its_host_even_without_a_death_signal():
    host = subprocess.Popen([sys.executable, "-c", HOST_THAT_DIES], stdout=subprocess.PIPE,
                            text=True)
    try:
        uid = int(host.stdout.readline())
        assert _processes_of(uid), "the session should be running"
    finally:
        host.kill()
        host.wait()
    assert wait_until(lambda: not _processes_of(uid)), "the session outlived its host"


@pytest.mark.parametrize("pid", ['"x"', "None", "[1]", "-1.5"])
def test_malformed_keeper_frames_from_the_cell_do_not_break_the_host_api(pid):
    box = make_sandbox("local", timeout_s=5.0)
    fds_before = len(os.listdir("/proc/self/fd"))
    session = box.session()
    session.run(FORGE + f'forge({{"op": "started", "pid": {pid}}})')
    session.run("while True: pass", timeout_s=0.5)
    assert session.run("print(2)").stdout.endswith("2\n")
    session.close()
    server = box._server.process
    box.close()
    assert server.poll() is not None, "the fork-server outlived Sandbox.close()"
    assert wait_until(lambda: len(os.listdir("/proc/self/fd")) <= fds_before), "host fds leaked"


# 4: results cannot be forged past the wall-clock limit; nothing runs between cells ----------

def test_a_result_without_the_cells_id_is_a_protocol_violation(box):
    with box.session() as session:
        result = session.run(FORGE + 'forge({"op": "result", "status": "ok", '
                             '"traceback": "", "exit_code": 0})\nwhile True: pass', timeout_s=2)
        assert result.status == "sandbox_error", result
        assert "protocol" in result.stderr
        assert session.run("print('B')").stdout.endswith("B\n")


def test_a_forged_result_with_the_right_id_stops_the_code_until_the_next_cell(local):
    with local.session() as session:
        uid = _uid(session)
        result = session.run(FORGE + 'forge({"op": "result", "id": current_cell_id(), '
                             '"status": "ok", "traceback": "", "exit_code": 0})\n'
                             'while True: pass', timeout_s=2)
        assert result.status == "ok"  # the cell lied about itself, which it may
        before = _cpu_ticks(_processes_of(uid))
        time.sleep(1.0)
        spent = (_cpu_ticks(_processes_of(uid)) - before) / os.sysconf("SC_CLK_TCK")
        assert spent < 0.3, f"the spinning cell used {spent:.2f} s of CPU between cells"
        after = session.run("print('B')", timeout_s=2)
        assert after.status in {"timeout", "sandbox_error"} or after.stdout == "B\n", after


def test_timers_and_untracked_threads_do_not_run_between_cells(box):
    with box.session() as session:
        first = session.run(
            "import signal, time, _thread\nstamps = []\n"
            "signal.signal(signal.SIGALRM, lambda *_: stamps.append(time.monotonic()))\n"
            "signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)\n"
            "def spin():\n    while True:\n        stamps.append(time.monotonic())\n"
            "        time.sleep(0.01)\n"
            "_thread.start_new_thread(spin, ())\nended = time.monotonic()", timeout_s=2)
        time.sleep(0.5)
        second = session.run("begun = time.monotonic()\n"
                             "print(sum(ended + 0.05 < s < begun for s in stamps))")
        if first.status == "timeout":  # the thread was waited for: the cell did not end
            return
        assert first.status == "ok", first
        assert second.stdout == "0\n", f"{second.stdout} stamps between the cells"


# 5: the host end is bounded ----------------------------------------------------------------

def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_junk_frames_do_not_pile_up_in_host_memory(box):
    with box.session() as session:
        before = _rss_mb()
        result = session.run(FORGE + 'data = json.dumps({"op": "junk"}).encode()\n'
                             'blob = (struct.pack(">I", len(data)) + data) * 100_000\n'
                             'fd = _ctrl()\nfor _ in range(100):\n    os.write(fd, blob)',
                             timeout_s=20)
        grown = _rss_mb() - before
    assert result.status == "sandbox_error", result
    assert grown < 64, f"host RSS grew by {grown:.0f} MB"


def test_a_huge_exception_message_is_capped_like_stdout(box):
    with box.session() as session:
        result = session.run("raise ValueError('x' * 30_000_000)")
    assert result.status == "error" and result.truncated
    assert len(result.stderr) < 2 * box.config.max_output_chars
    assert "characters omitted" in result.stderr and "ValueError" in result.stderr


def test_a_worker_that_stops_reading_cannot_block_the_host(box):
    with box.session() as session:
        session.run("import sys, time\n"
                    "worker = next(m for m in list(sys.modules.values())\n"
                    "              if callable(getattr(m, 'recv_frame', None))\n"
                    "              and callable(getattr(m, 'serve', None)))\n"
                    "worker.recv_frame = lambda sock: time.sleep(600)")
        result = session.run("#" * 8_000_000 + "\n1", timeout_s=2)
    assert result.status == "timeout", result


# 6: text from the sandbox is always encodable ----------------------------------------------

@pytest.mark.parametrize("code", ["raise ValueError(chr(0xd800))", "print('\\ud800')",
                                  "import sys\nsys.stderr.write('\\udfff')"])
def test_lone_surrogates_come_back_encodable(box, code):
    with box.session() as session:
        result = session.run(code)
    (result.stdout + result.stderr).encode("utf-8")
    assert "ud800" in result.stdout + result.stderr or "udfff" in result.stderr


# 7-8: memory and kernel memory are the session's, all processes together ------------------

HOLD_IN_CHILDREN = '''
import os, select, time
r, w = os.pipe()
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(200 * 2**20)
        block[::4096] = b"x" * len(range(0, len(block), 4096))
        os.write(w, b"h")
        time.sleep(20)
        os._exit(0)
    kids.append(pid)
os.close(w)
held, deadline = 0, time.monotonic() + 8
while held < 4 and time.monotonic() < deadline:
    if not select.select([r], [], [], 0.1)[0]:
        continue
    chunk = os.read(r, 8)
    if not chunk:
        break
    held += len(chunk)
time.sleep(0.5)  # a child OOM-killed after it reported is not holding its memory now
alive = sum(os.waitpid(pid, os.WNOHANG) == (0, 0) for pid in kids)
print("held", held, "alive", alive)
'''


def _run_with_256_mb(backend: str, code: str):
    small = make_sandbox(backend, timeout_s=30.0, memory_mb=256)
    if backend != "docker":
        assert small.cgroups.version is not None, small.cgroups.reason
    try:
        with small.session() as session:
            return session.run(code, timeout_s=30)
    finally:
        small.close()


def test_memory_is_limited_for_all_processes_together(box):
    result = _run_with_256_mb(box.config.backend, HOLD_IN_CHILDREN)
    assert "held 4 alive 4" not in result.stdout, result


@pytest.mark.parametrize("code", [
    "import os\nfd = os.memfd_create('m')\nchunk = b'x' * 2**20\n"
    "for _ in range(700):\n    os.write(fd, chunk)\nprint('wrote')",
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmat.restype = "
    "ctypes.c_void_p\nshm = libc.shmget(0, ctypes.c_size_t(700 * 2**20), 0o1600)\n"
    "addr = libc.shmat(shm, None, 0) if shm >= 0 else None\n"
    "if addr not in (None, ctypes.c_void_p(-1).value):\n"
    "    ctypes.memset(addr, 1, 700 * 2**20)\n    print('wrote')",
])
def test_memfd_and_sysv_shm_count_against_the_session(code):
    result = _run_with_256_mb("local", code)
    assert "wrote" not in result.stdout, result


def test_sysv_segments_die_with_a_subprocess_session():
    key = 0x5EED0000 + os.getpid() % 0xFFFF
    libc = ctypes.CDLL(None, use_errno=True)
    box = make_sandbox("subprocess", timeout_s=10.0)
    try:
        with box.session() as session:
            result = session.run(f"import ctypes\nprint(ctypes.CDLL(None).shmget({key}, "
                                 "2**20, 0o1600))")
            assert result.status == "ok" and int(result.stdout) >= 0, result
    finally:
        box.close()
    shm = libc.shmget(key, 0, 0)
    if shm >= 0:
        libc.shmctl(shm, 0, None)  # IPC_RMID: do not leave it on the test machine
    assert shm < 0, "a SysV segment outlived its subprocess session"


def test_the_cpu_budget_counts_every_process_of_the_session():
    box = make_sandbox("local", timeout_s=30.0, cpu_s_per_session=2)
    spin = "import time\nend = time.process_time() + 0.8\nwhile time.process_time() < end: pass"
    try:
        with box.session() as session:
            result = session.run(
                "import subprocess, sys\nfor _ in range(4):\n"
                f"    subprocess.run([sys.executable, '-c', {spin!r}])", timeout_s=30)
    finally:
        box.close()
    assert result.status == "timeout" and "CPU-time budget" in result.stderr, result


def test_empty_files_cannot_pin_kernel_memory(local):
    with local.session() as session:
        result = session.run(
            "import os\ncount = 0\ntry:\n    for i in range(20_000):\n"
            "        open(f'/tmp/f{i}', 'w').close()\n        count += 1\n"
            "except OSError as exc:\n    print(exc.errno)\nprint(count)", timeout_s=30)
    assert result.status == "ok", result
    assert int(result.stdout.split()[-1]) <= local.config.max_files


# 9: nothing passes between sessions --------------------------------------------------------

@pytest.mark.skipif(platform.machine() != "x86_64", reason="syscall numbers are x86_64's")
@pytest.mark.parametrize("call", ["add_key", "keyctl", "inotify", "flock", "io_uring_setup"])
def test_cross_session_channels_are_denied(local, call):
    code = {
        "add_key": "libc.syscall(248, b'user', b'k', b'secret', 6, -4)",  # user keyring
        "keyctl": "libc.syscall(250, 0, -4, 0)",  # KEYCTL_GET_KEYRING_ID
        "inotify": "libc.syscall(294, 0)",  # inotify_init1
        "flock": "libc.flock(os.open('/etc/hostname', os.O_RDONLY), 2)",
        "io_uring_setup": "libc.syscall(425, 1, ctypes.create_string_buffer(120))",
    }[call]
    with local.session() as session:
        result = session.run("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                             f"print({code}, ctypes.get_errno())")
    assert result.status == "ok", result
    value, err = map(int, result.stdout.split())
    assert value == -1 and err != 0, result


def test_live_sessions_have_distinct_leased_uids(local):
    sessions = [local.session() for _ in range(4)]
    try:
        uids = [_uid(session) for session in sessions]
    finally:
        for session in sessions:
            session.close()
    assert len(set(uids)) == 4
    assert all(uid >= 2_000_000 for uid in uids), uids


# 10: no daemon outlives a subprocess session ------------------------------------------------

def test_a_setsid_daemon_dies_with_its_subprocess_session():
    box = make_sandbox("subprocess", timeout_s=10.0)
    try:
        with box.session() as session:
            result = session.run(
                "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n"
                "    if os.fork():\n        os._exit(0)\n"
                "    open('daemon', 'w').write(str(os.getpid()))\n    time.sleep(600)\n"
                "    os._exit(0)\nos.waitpid(pid, 0)\n"
                "while not os.path.exists('daemon') or not open('daemon').read():\n"
                "    time.sleep(0.01)\nprint(open('daemon').read())")
            daemon = int(result.stdout)
    finally:
        box.close()

    def dead() -> bool:
        try:
            return "Z" in Path(f"/proc/{daemon}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True

    alive = not wait_until(dead)
    if alive:
        os.kill(daemon, 9)
    assert not alive, "a setsid daemon outlived its subprocess session"


def test_a_lone_surrogate_from_the_tool_does_not_crash_the_harness(tmp_path):
    from agents import Agent
    from benchmarks import evaluate, read_samples

    class SurrogateRaiser(Agent):
        name = "surrogate-raiser"

        def act(self, observation: str, info: dict) -> str:
            if "ValueError" in observation:
                return "<answer>\\boxed{0}</answer>"
            return "<code>raise ValueError(chr(0xd800))</code>"

    evaluate(SurrogateRaiser(), out=str(tmp_path), benchmarks=("procedural:nth_prime",),
             limit=1, k=1, max_turns=2, progress=False)
    assert len(read_samples(tmp_path)) == 1
    assert "ud800" in (tmp_path / "samples.jsonl").read_text(encoding="utf-8")
