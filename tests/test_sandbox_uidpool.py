"""The host-owned uid pool of the sandbox (`deeptool_env.sandbox.uidpool`).

Most tests shrink the pool to a few uids so that collisions are certain unless the leases
really exclude each other, across threads and processes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from pathlib import Path

import pytest

from deeptool_env.sandbox import uidpool
from deeptool_env.sandbox.uidpool import UID_FIRST, UidPoolError, lease_uid

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def small_pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A lease directory of its own and a pool of `size` uids (forked children inherit it)."""
    def shrink(size: int) -> Path:
        monkeypatch.setattr(uidpool, "UID_COUNT", size)
        monkeypatch.setattr(uidpool, "_ATTEMPTS", 50 * size)
        return tmp_path
    return shrink


def _hold(directory: Path, count: int, out: multiprocessing.Queue, stop: threading.Event,
          ) -> None:
    leases = [lease_uid(directory) for _ in range(count)]
    out.put([lease.uid for lease in leases])
    stop.wait(60)


def test_uids_are_unique_across_processes_until_the_pool_is_full(small_pool) -> None:
    directory = small_pool(64)
    out, stop = FORK.Queue(), FORK.Event()
    holders = [FORK.Process(target=_hold, args=(directory, 16, out, stop)) for _ in range(4)]
    for holder in holders:
        holder.start()
    try:
        uids = [uid for _ in holders for uid in out.get(timeout=60)]
        assert sorted(uids) == list(range(UID_FIRST, UID_FIRST + 64))
        with pytest.raises(UidPoolError):
            lease_uid(directory)  # every uid is held by a live process
    finally:
        stop.set()
        for holder in holders:
            holder.join(30)
    assert all(holder.exitcode == 0 for holder in holders)
    with lease_uid(directory) as lease:  # the holders exited: their uids are free again
        assert UID_FIRST <= lease.uid < UID_FIRST + 64


def test_uids_are_unique_across_threads(small_pool) -> None:
    directory = small_pool(48)
    leases: list[uidpool.UidLease] = []
    lock, start = threading.Lock(), threading.Barrier(12)

    def take() -> None:
        start.wait()
        for _ in range(4):
            lease = lease_uid(directory)
            with lock:
                leases.append(lease)

    threads = [threading.Thread(target=take) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(lease.uid for lease in leases) == list(range(UID_FIRST, UID_FIRST + 48))
    for lease in leases:
        lease.release()


def test_release_frees_the_uid(small_pool) -> None:
    directory = small_pool(1)
    with lease_uid(directory) as lease:
        assert lease.uid == UID_FIRST and lease.held
        with pytest.raises(UidPoolError):
            lease_uid(directory)
    assert not lease.held
    lease.release()  # idempotent
    again = lease_uid(directory)
    assert again.uid == UID_FIRST
    again.release()
    assert not list(directory.iterdir())  # released leases leave no files behind


def test_lease_is_freed_when_its_holder_is_sigkilled(small_pool) -> None:
    directory = small_pool(1)
    out, stop = FORK.Queue(), FORK.Event()
    holder = FORK.Process(target=_hold, args=(directory, 1, out, stop))
    holder.start()
    assert out.get(timeout=60) == [UID_FIRST]
    with pytest.raises(UidPoolError):
        lease_uid(directory)
    os.kill(holder.pid, signal.SIGKILL)  # our own child
    holder.join(30)
    with lease_uid(directory) as lease:
        assert lease.uid == UID_FIRST


def test_a_lock_on_a_released_file_does_not_count(small_pool, monkeypatch) -> None:
    """A waiter that opened the lease file just before its holder released (and unlinked)
    it must not believe it holds the uid while a third party locks the new file."""
    directory = small_pool(1)
    first = lease_uid(directory)
    real_flock = uidpool.fcntl.flock
    raced: list[uidpool.UidLease] = []

    def flock_after_release(fd: int, operation: int) -> None:
        if not raced:  # the holder releases, a newcomer leases, between open and flock
            first.release()
            monkeypatch.setattr(uidpool.fcntl, "flock", real_flock)
            raced.append(lease_uid(directory))
        real_flock(fd, operation)

    monkeypatch.setattr(uidpool.fcntl, "flock", flock_after_release)
    monkeypatch.setattr(uidpool, "_ATTEMPTS", 1)
    with pytest.raises(UidPoolError):
        lease_uid(directory)
    assert raced[0].held and raced[0].uid == UID_FIRST
    raced[0].release()


def test_a_planted_symlink_is_never_followed(small_pool, tmp_path: Path) -> None:
    directory = small_pool(1)
    target = tmp_path.parent / f"{tmp_path.name}-target"
    (directory / str(UID_FIRST)).symlink_to(target)
    with pytest.raises(UidPoolError):
        lease_uid(directory)
    assert not target.exists()


def test_default_pool_is_in_a_private_directory() -> None:
    with lease_uid() as lease:
        directory = uidpool.pool_dir()
        info = directory.stat()
        assert info.st_uid == os.geteuid() and not info.st_mode & 0o022
        assert (directory / str(lease.uid)).exists()
        assert UID_FIRST <= lease.uid < UID_FIRST + uidpool.UID_COUNT
        assert lease.uid >= 2_000_000  # far above real users and the old pid-derived range
