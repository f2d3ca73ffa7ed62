"""Linux isolation primitives for the local backend (stdlib + ctypes, no external tools).

A session is built as: `unshare` new mount, PID, network, IPC and UTS namespaces; a fresh
root file system on tmpfs that holds only read-only binds of the system directories and of
the Python installation (no /home, /root, /work, /opt, ... so no data, code or secrets of
the host are visible); a private tmpfs /tmp as the work dir; then, in the PID namespace,
a new /proc, rlimits, and an unprivileged uid of its own.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
# Existing directories the new root's tmpfs may be mounted over (only inside the session's
# private mount namespace, so nothing is created or hidden on the host).
STAGING_DIRS = ("/dev/shm", "/mnt", "/media", "/srv", "/tmp")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2)."""
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    rc = _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3])
    _check(rc, f"mount {source or fstype} on {target}")


def prctl(option: int, value: int) -> None:
    """prctl(2) with one argument."""
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), "prctl")


def sethostname(name: str) -> None:
    data = name.encode()
    _check(_libc.sethostname(data, ctypes.c_size_t(len(data))), "sethostname")


def python_paths(modules: tuple[str, ...] = ()) -> list[str]:
    """Directories the interpreter (and preloaded modules) need to be visible, resolved."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    for entry in sys.path:
        if entry and os.path.isdir(entry):
            paths.add(entry)
    for name in modules:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if origin:
            paths.add(os.path.dirname(os.path.dirname(origin)))
    resolved = sorted({os.path.realpath(p) for p in paths if p})
    minimal: list[str] = []
    for path in resolved:  # drop paths already covered by a parent in the list
        if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in minimal):
            minimal.append(path)
    return minimal


def _covered(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _bind_readonly(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)


def _staging_dir(keep_visible: list[str]) -> str:
    for path in STAGING_DIRS:
        if os.path.isdir(path) and not os.path.islink(path) and not any(
                _covered(p, [path]) for p in keep_visible):
            return path
    raise OSError(f"no directory to mount the sandbox root on (tried {STAGING_DIRS})")


def limit_ipc(shm_bytes: int, max_segments: int = 64) -> None:
    """In a fresh IPC namespace (before chroot): bound its SysV shared memory. The segments
    die with the namespace, i.e. with the session's last process."""
    page = os.sysconf("SC_PAGE_SIZE")
    for name, value in (("shmmax", shm_bytes), ("shmall", max(1, shm_bytes // page)),
                        ("shmmni", max_segments), ("msgmni", max_segments)):
        with open(f"/proc/sys/kernel/{name}", "w") as handle:
            handle.write(str(value))


def build_root(extra_paths: list[str], tmp_mb: int, max_files: int) -> None:
    """Assemble the session's root file system on a tmpfs and chroot into it.

    Must run as root in a fresh mount namespace. Symlinked system dirs (Debian's merged
    /usr) are recreated as symlinks; real ones are bound read-only.
    """
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    new_root = _staging_dir(extra_paths)
    mount("deeptool-root", new_root, "tmpfs", MS_NOSUID | MS_NODEV,
          "size=1m,nr_inodes=4096,mode=0755")
    # /tmp first: a Python install under /tmp (a venv) is then bound on top of it.
    os.makedirs(new_root + "/tmp")
    mount("tmp", new_root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={tmp_mb}m,nr_inodes={max_files},mode=1777")
    bound: list[str] = []
    for path in SYSTEM_DIRS:
        target = new_root + path
        if os.path.islink(path):
            os.symlink(os.readlink(path), target)
        elif os.path.isdir(path):
            os.makedirs(target)
            _bind_readonly(path, target)
            bound.append(path)
    for path in extra_paths:
        if _covered(path, bound) or not os.path.isdir(path):
            continue
        os.makedirs(new_root + path, exist_ok=True)
        _bind_readonly(path, new_root + path)
        bound.append(path)
    os.makedirs(new_root + "/dev")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(f"{new_root}/dev/{name}", "w").close()
            mount(f"/dev/{name}", f"{new_root}/dev/{name}", None, MS_BIND)
    os.makedirs(new_root + "/dev/shm")
    mount("shm", new_root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={tmp_mb}m,nr_inodes={max_files},mode=1777")
    os.makedirs(new_root + "/proc")
    mount(None, new_root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chroot(new_root)
    os.chdir("/tmp")


def join_cgroups(procs_fds: list[int]) -> None:
    """In a new session process: move itself into its cgroups by writing `0` to their
    `cgroup.procs` files (fds opened before chroot; see `cgroups.SessionCgroup`)."""
    for fd in procs_fds:
        os.write(fd, b"0")
        os.close(fd)


def enter_pid_namespace_as_init() -> None:
    """In the first process of a new PID namespace: mount its own /proc."""
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def set_limits(*, memory_bytes: int, cpu_s: int, processes: int, file_bytes: int,
               open_files: int) -> None:
    """Apply the session's rlimits (hard = soft, so the cell cannot raise them)."""
    for limit, value in ((resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_CPU, cpu_s),
                         (resource.RLIMIT_NPROC, processes), (resource.RLIMIT_FSIZE, file_bytes),
                         (resource.RLIMIT_NOFILE, open_files), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))


def drop_privileges(uid: int) -> None:
    """Become an unprivileged uid/gid with no supplementary groups and no way back up."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def address_space_bytes() -> int:
    """Current virtual memory size of this process (the baseline the limit adds to)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")
