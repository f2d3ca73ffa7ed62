"""The sandbox's seccomp filter (`deeptool_env.sandbox.seccomp_filter`).

Every check runs in a forked child that installs the filter and reports back over a pipe,
so the test process keeps its own system calls. Denied calls are made with arguments the
kernel would reject anyway (bad flags, bad pointers, bad fds), so nothing on the host
changes even where the filter were missing; the test tells the two apart by the errno.
"""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import platform
import sys
import threading
from collections.abc import Callable

import pytest

from deeptool_env.sandbox import seccomp_filter

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

sc = pytest.importorskip("pyseccomp")

EPERM, ENOSYS, ENOLCK = errno.EPERM, errno.ENOSYS, errno.ENOLCK
CLONE_THREAD = 0x00010000  # without CLONE_SIGHAND: EINVAL, so an unfiltered clone fails too
HIGH = 1 << 32

# (system call, arguments, errno under the filter)
DENIED_CALLS: list[tuple[str, tuple[int, ...], int]] = [
    ("keyctl", (0xDEAD,), EPERM),
    ("add_key", (0, 0, 0, 0, 0), EPERM),
    ("request_key", (0, 0, 0, 0), EPERM),
    ("io_uring_setup", (0, 0), EPERM),
    ("io_uring_enter", (-1, 0, 0, 0, 0, 0), EPERM),
    ("io_uring_register", (-1, 0, 0, 0), EPERM),
    ("userfaultfd", (0xFFFF,), EPERM),
    ("perf_event_open", (0, 0, -1, -1, 0), EPERM),
    ("bpf", (0xDEAD, 0, 0), EPERM),
    ("personality", (0x1234,), EPERM),
    ("personality", (0x0400000,), EPERM),  # ADDR_NO_RANDOMIZE
    ("personality", (HIGH,), EPERM),  # the kernel would truncate it to 0
    ("ptrace", (0xDEAD, 0, 0, 0), EPERM),
    ("process_vm_readv", (0, 0, 0, 0, 0, 0xFF), EPERM),
    ("process_vm_writev", (0, 0, 0, 0, 0, 0xFF), EPERM),
    ("kcmp", (0, 0, 0xDEAD, 0, 0), EPERM),
    ("pidfd_getfd", (-1, -1, 0), EPERM),
    ("unshare", (0x10000000,), EPERM),  # CLONE_NEWUSER
    ("unshare", (0,), EPERM),
    ("setns", (-1, 0), EPERM),
    ("clone3", (0, 0), ENOSYS),
    ("mount", (0, 0, 0, 0, 0), EPERM),
    ("umount2", (0, 0xFFFF), EPERM),
    ("pivot_root", (0, 0), EPERM),
    ("chroot", (0,), EPERM),
    ("fsopen", (0, 0xFFFF), EPERM),
    ("fsmount", (-1, 0, 0), EPERM),
    ("fsconfig", (-1, 0xDEAD, 0, 0, 0), EPERM),
    ("move_mount", (-1, 0, -1, 0, 0xFFFFFFFF), EPERM),
    ("open_tree", (-1, 0, 0xFFFFFFFF), EPERM),
    ("fspick", (-1, 0, 0xFFFFFFFF), EPERM),
    ("mount_setattr", (-1, 0, 0xFFFFFFFF, 0, 0), EPERM),
    ("kexec_load", (0, 0, 0, 0xFFFFFFFF), EPERM),
    ("kexec_file_load", (-1, -1, 0, 0, 0xFFFFFFFF), EPERM),
    ("init_module", (0, 0, 0), EPERM),
    ("finit_module", (-1, 0, 0), EPERM),
    ("delete_module", (0, 0), EPERM),
    ("reboot", (0, 0, 0, 0), EPERM),  # wrong magic numbers
    ("swapon", (0, 0), EPERM),
    ("swapoff", (0,), EPERM),
    ("acct", (1,), EPERM),  # a bad pointer, never NULL (that would stop accounting)
    ("quotactl", (0, 0, 0, 0), EPERM),
    ("open_by_handle_at", (-1, 0, 0), EPERM),
    ("name_to_handle_at", (-1, 0, 0, 0, 0), EPERM),
    ("lookup_dcookie", (0, 0, 0), EPERM),
    ("iopl", (4,), EPERM),
    ("ioperm", (0x10000, 1, 0), EPERM),
    ("syslog", (0xDEAD, 0, 0), EPERM),
    ("sethostname", (0, 0xFFFF), EPERM),
    ("clock_settime", (0xDEAD, 0), EPERM),
    ("settimeofday", (1, 0), EPERM),
    ("adjtimex", (0,), EPERM),
    ("clock_adjtime", (0xDEAD, 0), EPERM),
    ("fanotify_init", (0xFFFFFFFF, 0), EPERM),
    ("inotify_init1", (0,), EPERM),
    ("inotify_init", (), EPERM),
    ("flock", (0, 1), ENOLCK),  # LOCK_SH on stdin
    ("mbind", (0, 0, 0xDEAD, 0, 0, 0), EPERM),
    ("set_mempolicy", (0xDEAD, 0, 0), EPERM),
    ("move_pages", (0, 0, 0, 0, 0, 0xDEAD), EPERM),
    ("migrate_pages", (0, 0, 0, 0), EPERM),
    ("vhangup", (), EPERM),  # the child has no controlling terminal (setsid)
]
# clone(2) with each namespace flag (and CLONE_THREAD alone, which the kernel rejects)
DENIED_CALLS += [("clone", (flag | CLONE_THREAD, 0, 0, 0, 0), EPERM)
                 for flag in seccomp_filter._CLONE_NEW.values()]
DENIED_CALLS += [("clone", (HIGH | 0x10000000 | CLONE_THREAD, 0, 0, 0, 0), EPERM)]
# fcntl(2) lock commands on stdin, also with high bits the kernel ignores
DENIED_CALLS += [("fcntl", (0, high | cmd, 0), ENOLCK)
                 for cmd in seccomp_filter._FCNTL_DENIED.values() for high in (0, HIGH)]


def _number(name: str) -> int:
    return sc.resolve_syscall(sc.Arch.NATIVE, name)


def _syscall(number: int, *args: int) -> int:
    """The raw call's errno (0 on success)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
    return ctypes.get_errno() if rc == -1 else 0


def _in_filtered_child(check: Callable[[], object], *, before: Callable[[], None] = lambda: None,
                       ) -> object:
    """`check()`'s JSON result from a forked child running under the filter."""
    program = seccomp_filter.compile_filter()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            os.setsid()
            before()
            seccomp_filter.install(program)
            payload = json.dumps({"ok": check()})
            code = 0
        except BaseException as exc:
            payload = json.dumps({"error": repr(exc)})
        finally:
            os.write(write_end, payload.encode())
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    reply = json.loads(data)
    assert "ok" in reply, reply
    return reply["ok"]


def test_compile_filter_is_bpf_for_this_arch() -> None:
    program = seccomp_filter.compile_filter()
    assert program and len(program) % 8 == 0
    assert len(program) // 8 < 4096  # BPF_MAXINSNS
    assert set(name for name, _, _ in DENIED_CALLS) <= set(seccomp_filter.DENIED)


def test_every_denied_call_fails_with_its_errno() -> None:
    calls = [(name, args, want) for name, args, want in DENIED_CALLS if _number(name) >= 0]

    def check() -> list[list[object]]:
        return [[name, list(args), _syscall(_number(name), *args), want]
                for name, args, want in calls]

    wrong = [row for row in _in_filtered_child(check) if row[2] != row[3]]
    assert not wrong, f"(call, args, errno, expected): {wrong}"


def test_foreign_abis_are_denied() -> None:
    """x32 numbers and i386 `int 0x80` would bypass rules written for native numbers."""
    if platform.machine() != "x86_64":
        pytest.skip("x86_64 only")

    def check() -> list[int]:
        x32 = _syscall(0x40000000 | _number("getpid"))
        # mov eax, 20 (i386 getpid); int 0x80; ret
        code = bytes.fromhex("b814000000cd80c3")
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE
                         | mmap.PROT_EXEC)
        page.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        i386 = ctypes.CFUNCTYPE(ctypes.c_int)(address)()
        return [x32, i386]

    assert _in_filtered_child(check) == [ENOSYS, -ENOSYS]


def test_threads_started_before_install_are_filtered_too() -> None:
    """TSYNC: a BLAS or helper thread that already runs gets the filter as well."""
    go, done = threading.Event(), []

    def start_thread() -> None:
        def late() -> None:
            go.wait()
            done.append(_syscall(_number("keyctl"), 0xDEAD))
        thread = threading.Thread(target=late)
        thread.start()
        start_thread.thread = thread  # type: ignore[attr-defined]

    def check() -> list[int]:
        go.set()
        start_thread.thread.join()  # type: ignore[attr-defined]
        return done

    assert _in_filtered_child(check, before=start_thread) == [EPERM]


def test_ordinary_python_still_works() -> None:
    def check() -> dict[str, object]:
        import fcntl
        import subprocess
        import tempfile

        import numpy as np

        results: dict[str, object] = {}
        box: list[float] = []
        workers = [threading.Thread(target=lambda: box.append(float(np.ones(200).sum())))
                   for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        results["threads"] = box
        matrix = np.arange(40_000, dtype=float).reshape(200, 200)
        results["numpy"] = float((matrix @ matrix).trace())
        results["subprocess"] = subprocess.run([sys.executable, "-c", "print(6 * 7)"],
                                               capture_output=True, text=True).stdout
        child = os.fork()
        if child == 0:
            os._exit(7)
        results["fork"] = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
        with tempfile.TemporaryFile() as handle:
            flags = fcntl.fcntl(handle, fcntl.F_GETFL)
            fcntl.fcntl(handle, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
            results["fcntl"] = flags & os.O_ACCMODE == os.O_RDWR
        results["personality"] = [_syscall(_number("personality"), value)
                                  for value in (0xFFFFFFFF, 0)]
        return results

    results = _in_filtered_child(check)
    matrix = [[float(200 * r + c) for c in range(200)] for r in range(200)]
    trace = sum(sum(matrix[i][k] * matrix[k][i] for k in range(200)) for i in range(200))
    assert results == {"threads": [200.0] * 4, "numpy": trace, "subprocess": "42\n",
                       "fork": 7, "fcntl": True, "personality": [0, 0]}


def test_install_rejects_what_is_not_a_program() -> None:
    with pytest.raises(ValueError):
        seccomp_filter.install(b"\x00" * 7)


def test_missing_pyseccomp_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyseccomp", None)
    with pytest.raises(RuntimeError, match="pip install pyseccomp"):
        seccomp_filter.compile_filter()
