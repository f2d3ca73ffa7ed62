"""The warm-spare pool that the local and docker backends share, with plain objects as
spares: taking, replacing, discarding dead ones, and closing without a hang."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from deeptool_env.sandbox.spare_pool import SparePool

from .polling import wait_until


@dataclass
class Spare:
    number: int
    alive: bool = True
    discarded: bool = False


@dataclass
class Starter:
    """Starts numbered spares, optionally waiting for `gate` or failing."""

    gate: threading.Event = field(default_factory=threading.Event)
    fail: bool = False
    started: list[Spare] = field(default_factory=list)

    def __call__(self) -> Spare:
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("cannot start")
        spare = Spare(len(self.started))
        self.started.append(spare)
        return spare


def pool_of(starter: Starter, warm: int, closed: list[bool] | None = None) -> SparePool[Spare]:
    state = closed if closed is not None else [False]
    return SparePool(starter, alive=lambda s: s.alive,
                     discard=lambda s: setattr(s, "discarded", True),
                     closed=lambda: state[0], warm=warm, start_timeout_s=10.0,
                     thread_name="test-spare")


def test_take_returns_the_oldest_spare_and_starts_its_replacement():
    starter = Starter()
    starter.gate.set()
    pool = pool_of(starter, warm=1)
    pool.refill()
    first = pool.take()
    assert first is not None and first.number == 0
    second = pool.take()
    assert second is not None and second.number == 1
    pool.close()
    assert len(starter.started) == 3 and starter.started[2].discarded
    assert not first.discarded and not second.discarded


def test_a_dead_or_failed_spare_is_not_handed_out():
    starter = Starter()
    starter.gate.set()
    pool = pool_of(starter, warm=1)
    pool.refill()
    pool.take().alive = False  # the replacement (spare 1) is now dead
    assert wait_until(lambda: len(starter.started) == 2)
    starter.started[1].alive = False
    assert pool.take() is None and starter.started[1].discarded
    starter.fail = True
    pool.keep(0)
    pool.close()
    failing = pool_of(starter, warm=1)
    failing.refill()
    assert failing.take() is None
    failing.close()


@pytest.mark.timeout(30)
def test_close_waits_for_the_starting_spare_only_and_discards_it():
    starter = Starter()
    pool = pool_of(starter, warm=3)
    pool.refill()  # one spare starting (held at the gate), two queued behind it
    threading.Timer(0.3, starter.gate.set).start()
    pool.close()  # the queued two are cancelled, never waited for
    assert len(starter.started) == 1 and starter.started[0].discarded


def test_close_with_a_bound_does_not_wait_and_discards_a_late_spare():
    starter = Starter()
    pool = pool_of(starter, warm=1)
    pool.refill()
    pool.close(wait_s=0.05)
    assert starter.started == []
    starter.gate.set()
    assert wait_until(lambda: bool(starter.started) and starter.started[0].discarded)
    assert len(starter.started) == 1


def test_no_spare_starts_once_the_owner_is_closed():
    starter = Starter()
    starter.gate.set()
    closed = [True]
    pool = pool_of(starter, warm=2, closed=closed)
    pool.refill()
    assert pool.take() is None and starter.started == []
    pool.close()
