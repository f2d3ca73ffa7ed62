"""The one rollout loop: episodes scheduled continuously over a model backend.

Up to `concurrency` episodes are live. Each is a small state machine (`Episode`):
`begin()` resets its env and returns its first prompt, `advance(reply)` steps the env with
the model's reply and returns the next prompt, or None once the episode has ended. Both
run on a thread pool, never on the scheduling thread, so one slow tool call stalls no
other episode. A prompt goes to the model the moment its episode has it ready, and a
finished episode's slot is refilled at once:

- a `Batched` backend (a local HF or vLLM generator) is called with every request that is
  ready, one call at a time. While it is idle and episodes are still stepping, it waits
  for them, at most `gather` times its previous call's duration (the first call of a run
  waits for every episode's reset): a batch of 8 rows costs a local model little more
  than one of 7, a slow tool call does not hold the others back for long;
- a `Served` backend (an HTTP server) gets each request on its own, `in_flight` at once,
  so the server always has that many requests until the last episodes.

Every request carries a sampling seed derived from (episode seed, turn): on a backend
whose samples depend on their own seed only, a seeded run repeats exactly whatever the
concurrency or the batching.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from deeptool_env.seeding import derived_seed


@dataclass(frozen=True)
class Request:
    """One turn to generate: episode number in the run, turn, sampling seed, prompt."""

    episode: int
    turn: int
    seed: int | None
    prompt: Any


class Episode(Protocol):
    """One episode as a state machine the loop drives (see the module docstring)."""

    seed: int | None

    def begin(self) -> Any | None:
        """Reset the env; the first prompt (None: nothing to play)."""
        ...

    def advance(self, reply: Any) -> Any | None:
        """Step the env with the model's `reply`; the next prompt, None once ended."""
        ...

    def result(self) -> Any:
        """What the finished episode gives back."""
        ...


@dataclass
class Batched:
    """A backend that generates every ready request in one call (a local model)."""

    generate: Callable[[list[Request]], list[Any]]
    gather: float = 0.5


@dataclass
class Served:
    """A backend that serves each request on its own, `in_flight` at a time (HTTP)."""

    generate: Callable[[Request], Any]
    in_flight: int = 8


Backend = Batched | Served


def request_seed(episode_seed: int | None, turn: int) -> int | None:
    """The sampling seed of turn `turn` of the episode seeded `episode_seed` (31 bits)."""
    if episode_seed is None:
        return None
    return derived_seed(episode_seed, "turn", turn, nbytes=4) >> 1


@dataclass
class _Live:
    episode: Episode
    turn: int = 0


class _Loop:
    """The scheduling state of one `play` call."""

    def __init__(self, backend: Backend, concurrency: int) -> None:
        self.backend, self.concurrency = backend, max(1, concurrency)
        self.events: queue.SimpleQueue[tuple[str, Any, Future[Any]]] = queue.SimpleQueue()
        self.env_pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="rollout-env")
        width = backend.in_flight if isinstance(backend, Served) else 1
        self.model_pool = ThreadPoolExecutor(width, thread_name_prefix="rollout-model")
        self.live: dict[int, _Live] = {}
        self.ready: list[Request] = []
        self.generating = 0
        self.last_call_s: float | None = None
        self.deadline: float | None = None

    def submit(self, pool: ThreadPoolExecutor, tag: str, key: Any,
               fn: Callable[..., Any], *args: Any) -> None:
        future = pool.submit(fn, *args)
        future.add_done_callback(lambda done: self.events.put((tag, key, done)))

    def run(self, episodes: Iterator[Episode]) -> Iterator[tuple[int, Any]]:
        count, exhausted = 0, False
        while True:
            while not exhausted and len(self.live) < self.concurrency:
                episode = next(episodes, None)
                if episode is None:
                    exhausted = True
                    break
                self.live[count] = _Live(episode)
                self.submit(self.env_pool, "env", count, episode.begin)
                count += 1
            if not self.live:
                return
            self.dispatch()
            try:
                tag, key, future = self.events.get(timeout=self.wait_s())
            except queue.Empty:
                self.dispatch(force=True)
                continue
            if tag == "env":
                prompt = future.result()  # an env's error ends the run here
                live = self.live[key]
                if prompt is None:
                    del self.live[key]
                    yield key, live.episode.result()
                    continue
                self.ready.append(Request(key, live.turn,
                                          request_seed(live.episode.seed, live.turn), prompt))
                continue
            self.generating -= 1
            for request, reply in zip(key, future.result(), strict=True):
                live = self.live[request.episode]
                live.turn += 1
                self.submit(self.env_pool, "env", request.episode, live.episode.advance, reply)

    def wait_s(self) -> float | None:
        """How long the next event may take before a gathering batch goes anyway."""
        if self.deadline is None or self.generating:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def dispatch(self, force: bool = False) -> None:
        """Hand ready requests to the backend, as its kind wants."""
        if isinstance(self.backend, Served):
            generate = self.backend.generate
            while self.ready and self.generating < self.backend.in_flight:
                request = self.ready.pop(0)
                self.generating += 1
                self.submit(self.model_pool, "model", (request,),
                            lambda r=request: [generate(r)])
            return
        if self.generating or not self.ready:
            return
        stepping = len(self.live) - len(self.ready)
        if stepping and not force:
            if self.last_call_s is None:
                return  # the first call waits for every reset
            if self.deadline is None:
                self.deadline = time.monotonic() + self.backend.gather * self.last_call_s
            if time.monotonic() < self.deadline:
                return
        batch, self.ready, self.deadline = sorted(self.ready, key=lambda r: r.episode), [], None
        self.generating = 1
        self.submit(self.model_pool, "model", tuple(batch), self.timed_call, batch)

    def timed_call(self, batch: list[Request]) -> list[Any]:
        start = time.perf_counter()
        replies = self.backend.generate(batch)  # type: ignore[arg-type]
        self.last_call_s = time.perf_counter() - start
        return replies

    def close(self) -> None:
        """Let running env and model calls end (nothing new starts), then stop."""
        self.model_pool.shutdown(wait=True, cancel_futures=True)
        self.env_pool.shutdown(wait=True, cancel_futures=True)


def play(episodes: Iterable[Episode], backend: Backend, *, concurrency: int,
         on_stop: Callable[[], None] | None = None) -> Iterator[tuple[int, Any]]:
    """Play `episodes` (taken from the iterable only when a slot is free), yielding
    `(position in episodes, result)` as each ends; an env or backend error is raised.
    `on_stop()` runs before the loop waits for its running calls when it stops early
    (an error, or the caller stopped iterating): it releases calls that wait on others."""
    loop = _Loop(backend, concurrency)
    finished = False
    try:
        yield from loop.run(iter(episodes))
        finished = True
    finally:
        if not finished and on_stop is not None:
            on_stop()
        loop.close()


def play_in_order(episodes: Iterable[Episode], backend: Backend, *, concurrency: int,
                  on_stop: Callable[[], None] | None = None) -> list[Any]:
    """The results of `play`, in the order of `episodes`."""
    results = dict(play(episodes, backend, concurrency=concurrency, on_stop=on_stop))
    return [results[i] for i in range(len(results))]
