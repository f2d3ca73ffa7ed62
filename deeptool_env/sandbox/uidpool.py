"""Unprivileged uids for sandbox sessions, leased from a pool the host owns.

A session's uid decides what `RLIMIT_NPROC` counts and which kernel objects (keyrings, SysV
IPC ownership, signals) it can reach, so two live sessions must never share one, and a uid
must not come back soon after a session ended. Uids derived from pids repeat when pids
wrap; uids drawn at random without bookkeeping collide between concurrent sessions.

Here a uid is drawn at random from a large range far above real users and held by an
exclusive `flock` on a lease file named after it, in a directory shared by every process of
the machine (`/run/deeptool-sandbox/uids`, or a per-user directory under the temp dir when
`/run` is not writable, e.g. for a non-root docker user: then uniqueness holds among that
user's sandboxes only). The kernel drops the lock when its holder dies, even by SIGKILL, so
a crashed host never leaks uids. Random draws from 2**24 uids make a quick reuse unlikely
(one chance in 16 million per lease).
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import stat
import tempfile
import threading
from pathlib import Path

__all__ = ["UID_COUNT", "UID_FIRST", "UidLease", "UidPoolError", "lease_uid"]

UID_FIRST = 2_000_000
UID_COUNT = 2**24
_SHARED_DIR = Path("/run/deeptool-sandbox/uids")
_ATTEMPTS = 1000


class UidPoolError(RuntimeError):
    """No lease could be taken (the pool directory is unusable)."""


class UidLease:
    """An exclusive claim on `uid` until `release()` (or the holder's death).

    Keep it for the whole life of the session that runs as `uid`, and release it only once
    every process of that session is dead. A context manager; `release()` is idempotent.
    """

    def __init__(self, uid: int, fd: int, path: Path) -> None:
        self.uid, self._fd, self._path = uid, fd, path
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        """True until released."""
        return self._fd >= 0

    def release(self) -> None:
        """Give the uid back to the pool."""
        with self._lock:
            if self._fd < 0:
                return
            try:  # unlink while still locked: a waiter re-checks the inode (see `_claim`)
                os.unlink(self._path)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> UidLease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"UidLease(uid={self.uid}, held={self.held})"


def _usable(directory: Path) -> bool:
    """Create `directory` (0700) if needed; True if it is ours and private."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(directory)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and not info.st_mode & 0o022 and os.access(directory, os.W_OK | os.X_OK))


def pool_dir() -> Path:
    """The lease directory this process uses (the shared one when it can)."""
    for directory in (_SHARED_DIR,
                      Path(tempfile.gettempdir()) / f"deeptool-sandbox-uids-{os.geteuid()}"):
        if _usable(directory):
            return directory
    raise UidPoolError("no usable uid lease directory: /run/deeptool-sandbox/uids and the "
                       "per-user one under the temp dir are not writable")


def _claim(directory: Path, uid: int) -> UidLease | None:
    """Lock the lease file of `uid`, or None if a live holder has it."""
    path = directory / str(uid)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOENT):  # planted symlink / raced unlink
            return None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # A holder that released between our open and flock unlinked the file: the lock we
        # got is on a dead inode while someone else may lock a new file of the same name.
        if os.fstat(fd).st_ino != os.stat(path, follow_symlinks=False).st_ino:
            raise BlockingIOError
    except OSError as exc:
        os.close(fd)
        if isinstance(exc, BlockingIOError) or exc.errno == errno.ENOENT:
            return None
        raise
    return UidLease(uid, fd, path)


def lease_uid(directory: Path | None = None) -> UidLease:
    """A uid from UID_FIRST .. UID_FIRST + UID_COUNT - 1 that no live session holds.

    `directory` overrides the lease directory (tests); every process that must not share
    uids has to use the same one. Thread-safe and safe across processes.
    """
    directory = pool_dir() if directory is None else directory
    for _ in range(_ATTEMPTS):
        lease = _claim(directory, UID_FIRST + secrets.randbelow(UID_COUNT))
        if lease is not None:
            return lease
    raise UidPoolError(f"no free uid after {_ATTEMPTS} random draws in {directory}")
