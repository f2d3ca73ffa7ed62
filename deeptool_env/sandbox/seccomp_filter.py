"""The sandbox's seccomp filter: built on the host, installed inside the session.

`compile_filter()` runs on the host (it needs `pyseccomp` and libseccomp) and returns the raw
classic-BPF program (an array of `struct sock_filter`) for the running architecture.
`install(program)` runs inside the sandbox (the local backend's forked session, the docker
container's launcher), where only the standard library can be relied on, so it uses ctypes
and the `seccomp(2)` system call, with `SECCOMP_FILTER_FLAG_TSYNC` so that every thread of
the process gets the filter (numpy's BLAS threads may already exist).

The filter allows by default and denies what Docker's default profile denies to an
unprivileged container, plus the calls that gave concurrent sessions a channel to each other
(keys, `inotify` on the shared read-only `/etc`, `flock`/`fcntl` locks on the shared
interpreter files). Filters stack in the kernel and the most restrictive answer wins, so
installing this one under Docker's own profile only removes calls. Foreign system call ABIs
(x32, and i386 through `int 0x80` on x86_64) get `ENOSYS`: they would bypass the rules,
which match the native numbers only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys
import tempfile

__all__ = ["DENIED", "compile_filter", "install"]

# Namespace flags of clone(2): a clone that makes a new namespace is denied (as `unshare`).
_CLONE_NEW = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000,
              "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000,
              "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
              "CLONE_NEWNET": 0x40000000}
# fcntl(2) commands that take or query a record lock (and F_NOTIFY, dnotify: the directory
# form of inotify) get ENOLCK; F_GETFL, F_SETFD, F_DUPFD, ... stay allowed.
_FCNTL_DENIED = {"F_GETLK": 5, "F_SETLK": 6, "F_SETLKW": 7, "F_GETLK64": 12,
                 "F_SETLK64": 13, "F_SETLKW64": 14, "F_OFD_GETLK": 36, "F_OFD_SETLK": 37,
                 "F_OFD_SETLKW": 38, "F_SETLEASE": 1024, "F_GETLEASE": 1025,
                 "F_NOTIFY": 1026}
# personality(2) values Docker allows (Linux, UNAME26 variants, and the 0xffffffff query).
PERSONALITY_ALLOWED = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

_EPERM_CALLS = (
    # kernel keyrings outlive the session and are shared by a uid
    "keyctl", "add_key", "request_key",
    # large, often exploited kernel surfaces
    "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
    "perf_event_open", "bpf",
    # other processes' memory
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
    "pidfd_getfd",
    # namespaces and mounts
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount",
    "fsconfig", "move_mount", "open_tree", "fspick", "mount_setattr",
    # the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module", "query_module", "get_kernel_syms", "reboot", "swapon", "swapoff",
    "acct", "quotactl", "quotactl_fd", "nfsservctl", "open_by_handle_at",
    "name_to_handle_at", "lookup_dcookie", "iopl", "ioperm", "syslog", "vhangup",
    "sethostname", "setdomainname", "uselib", "ustat", "sysfs", "_sysctl", "vm86",
    "vm86old",
    # clocks
    "clock_settime", "settimeofday", "stime", "adjtimex", "clock_adjtime",
    # file-system watches: a channel between sessions through the shared read-only dirs
    "fanotify_init", "inotify_init", "inotify_init1",
    # NUMA placement
    "mbind", "set_mempolicy", "set_mempolicy_home_node", "move_pages", "migrate_pages",
)

DENIED: dict[str, str] = {
    **{name: "EPERM" for name in _EPERM_CALLS},
    "personality": "EPERM unless the value is one of "
                   + ", ".join(hex(v) for v in PERSONALITY_ALLOWED),
    "clone": "EPERM when a CLONE_NEW* flag is set (" + ", ".join(_CLONE_NEW) + ")",
    "clone3": "ENOSYS (its flags are behind a pointer; glibc then falls back to clone)",
    "flock": "ENOLCK (a channel between sessions through the shared interpreter files)",
    "fcntl": "ENOLCK for " + ", ".join(_FCNTL_DENIED),
    "x32 and i386 ABIs": "ENOSYS",
}
"""System call -> what a sandboxed process gets instead (for the docs and `doctor`)."""

# seccomp(2) numbers (the call predates most libcs' wrappers).
_SECCOMP_NR = {"x86_64": 317, "aarch64": 277, "riscv64": 277, "s390x": 348, "ppc64le": 358}
_SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC = 1, 1
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
# The fields of `struct seccomp_data` that the prologue reads.
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x20, 0x15, 0x06
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_INSN = struct.Struct("=HBBI")

_INSTALL_HINT = ("the sandbox's seccomp filter needs pyseccomp and libseccomp >= 2.5: "
                 "`pip install pyseccomp` and `apt-get install libseccomp2` (or your "
                 "distribution's libseccomp package)")


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return _INSN.pack(code, jt, jf, k & 0xFFFFFFFF)


def _personality_prologue(audit_arch: int, personality_nr: int) -> bytes:
    """Hand-written BPF that checks personality(2)'s argument against the allowed set.

    libseccomp cannot say "deny unless the argument is one of these" under a default of
    ALLOW (one comparison per argument and rule), so this runs first and falls through to
    the libseccomp program for every other call. A value with any of the upper 32 bits set
    is denied (the kernel would truncate it to one of the allowed or denied values).
    """
    low, high = _OFF_ARG0, _OFF_ARG0 + 4
    if sys.byteorder == "big":
        low, high = high, low
    n = len(PERSONALITY_ALLOWED)
    deny, allow, main = 7 + n, 8 + n, 9 + n  # indexes; a jump offset counts from i + 1
    code = [
        _insn(_BPF_LD_W_ABS, _OFF_ARCH),
        _insn(_BPF_JEQ_K, audit_arch, jf=main - 2),  # foreign ABI: the main program decides
        _insn(_BPF_LD_W_ABS, _OFF_NR),
        _insn(_BPF_JEQ_K, personality_nr, jf=main - 4),  # any other call: main program
        _insn(_BPF_LD_W_ABS, high),
        _insn(_BPF_JEQ_K, 0, jf=deny - 6),
        _insn(_BPF_LD_W_ABS, low),
    ]
    code += [_insn(_BPF_JEQ_K, value, jt=allow - (8 + i))
             for i, value in enumerate(PERSONALITY_ALLOWED)]
    code += [_insn(_BPF_RET_K, _RET_ERRNO | errno.EPERM), _insn(_BPF_RET_K, _RET_ALLOW)]
    return b"".join(code)


def compile_filter() -> bytes:
    """The filter for the running architecture as raw BPF (`struct sock_filter` array).

    Raises RuntimeError, saying how to install them, without pyseccomp or libseccomp.
    """
    try:
        import pyseccomp as sc
    except (ImportError, RuntimeError, OSError) as exc:
        raise RuntimeError(f"{_INSTALL_HINT} ({exc})") from exc

    def nr(name: str) -> int:
        number = sc.resolve_syscall(sc.Arch.NATIVE, name)
        if number == -1:  # unknown to this libseccomp (other arches' calls are < -1)
            raise RuntimeError(f"libseccomp does not know {name!r}; {_INSTALL_HINT}")
        return number

    eperm, enolck = sc.ERRNO(errno.EPERM), sc.ERRNO(errno.ENOLCK)
    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.ERRNO(errno.ENOSYS))
    for name in _EPERM_CALLS:
        flt.add_rule(eperm, nr(name))
    flags_arg = 1 if platform.machine().startswith("s390") else 0  # clone's argument order
    for flag in _CLONE_NEW.values():
        flt.add_rule(eperm, nr("clone"), sc.Arg(flags_arg, sc.MASKED_EQ, flag, flag))
    flt.add_rule(sc.ERRNO(errno.ENOSYS), nr("clone3"))
    flt.add_rule(enolck, nr("flock"))
    for cmd in _FCNTL_DENIED.values():
        # Masked to 32 bits: the kernel reads `cmd` as an unsigned int, so a value with
        # high bits set must not slip past an exact 64-bit comparison.
        flt.add_rule(enolck, nr("fcntl"), sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, cmd))
    with tempfile.TemporaryFile() as out:
        flt.export_bpf(out)
        out.seek(0)
        main = out.read()
    return _personality_prologue(sc.system_arch(), nr("personality")) + main


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes) -> None:
    """Install `program` (from `compile_filter`) on every thread of this process, for good.

    Sets `no_new_privs` first (required without CAP_SYS_ADMIN). Standard library only.
    Raises OSError if the kernel refuses the filter.
    """
    if not program or len(program) % _INSN.size:
        raise ValueError("not a BPF program: its size is not a multiple of 8 bytes")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]
    libc.syscall.restype = ctypes.c_long
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        _raise("prctl(PR_SET_NO_NEW_PRIVS)")
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // _INSN.size, ctypes.addressof(buffer))
    number = _SECCOMP_NR.get(platform.machine())
    if number is not None:
        rc = libc.syscall(ctypes.c_long(number), ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
                          ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(prog))
        if rc > 0:  # the id of a thread that could not be synchronised
            raise OSError(errno.EAGAIN, f"seccomp: thread {rc} could not take the filter")
        if rc == 0:
            return
        if ctypes.get_errno() != errno.ENOSYS:
            _raise("seccomp(SECCOMP_SET_MODE_FILTER)")
    if _thread_count() > 1:
        raise OSError(errno.ENOSYS, "seccomp(2) is unavailable and other threads exist: "
                                    "prctl would filter the calling thread only")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        _raise("prctl(PR_SET_SECCOMP)")


def _thread_count() -> int:
    """Number of threads of this process (from /proc, so C threads count too)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _raise(what: str) -> None:
    code = ctypes.get_errno()
    raise OSError(code, f"{what}: {os.strerror(code)}")
