"""One local session's interpreter and what is its own: its leased uid, its cgroups, its
keeper and the channel to its worker; how it is started, killed and cleaned up."""

from __future__ import annotations

import select
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import cgroups
from .channel import WorkerChannel
from .config import SandboxConfig
from .idle_freeze import IdleFreezer
from .keeper import Keeper
from .uidpool import UidLease, lease_uid

if TYPE_CHECKING:
    from .local import ForkServer

START_TIMEOUT_S = 60.0
# Memory a session may be charged beyond `memory_mb`: the warm interpreter's pages that the
# session writes to (copy-on-write) are charged to it, though it did not allocate them.
COW_HEADROOM_MB = 96


@dataclass
class Interpreter:
    """A started, idle session interpreter (frozen once idle, when it has cgroups)."""

    lease: UidLease
    group: cgroups.SessionCgroup | None
    keeper: Keeper
    channel: WorkerChannel
    idle: IdleFreezer | None

    def alive(self) -> bool:
        """True while the worker is idle and connected (a dead one makes ctrl readable)."""
        try:
            readable, _, _ = select.select([self.channel.ctrl], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def kill(self) -> None:
        """SIGKILL every process of the session, from the host's own knowledge: the
        cgroup's members and the namespace's PID 1 (through its keeper). Does not wait: the
        dying processes cannot run code any more; `finish` waits for them."""
        if self.idle is not None:
            self.idle.stop()
        if self.group is not None:
            self.group.kill_all(wait=False)
        self.keeper.request_kill()

    def finish(self) -> None:
        """Wait until the killed session is reaped, then free its cgroups and its uid."""
        self.keeper.kill()
        self.keeper.close()
        if self.group is not None:
            self.group.remove()
        self.lease.release()


def start_interpreter(server: ForkServer, config: SandboxConfig,
                      support: cgroups.CgroupSupport) -> Interpreter:
    """Lease a uid, make the cgroups, have the fork-server start the session, and wait
    until its worker is ready. Everything is freed again on failure."""
    lease = lease_uid()
    group = keeper = None
    try:
        group = cgroups.for_session(support, config.memory_mb + COW_HEADROOM_MB,
                                    config.max_processes, config.cpus)
        ctrl, out_r, err_r, keeper_sock = server.spawn(lease.uid, group)
        keeper = Keeper(keeper_sock)
        idle = IdleFreezer(group.freeze, group.thaw) if group is not None else None
        interpreter: Interpreter | None = None
        channel = WorkerChannel(
            ctrl, out_r, err_r, config, kill=lambda: interpreter.kill(),
            exit_status=keeper.exit_status,
            pause=idle.pause if idle is not None else lambda: None,
            resume=idle.resume if idle is not None else lambda: None)
        interpreter = Interpreter(lease, group, keeper, channel, idle)
        try:
            keeper.wait_started(START_TIMEOUT_S)
            channel.wait_ready(START_TIMEOUT_S)
        except BaseException:
            interpreter.kill()
            channel.close()
            interpreter.finish()
            raise
        return interpreter
    except BaseException:
        if keeper is None:  # failed before the session existed
            if group is not None:
                group.remove()
            lease.release()
        raise
