"""A pool of grading worker processes with a hard per-item kill.

Each worker is a separate interpreter (`python -m deeptool_env.grading.worker`, started with
`subprocess`, so it works from threads, asyncio, Ray actors, Jupyter and daemonic processes, and
never re-imports the caller's `__main__`). One dispatcher thread owns all workers: it hands an
item to an idle worker, waits for replies with `selectors`, and SIGKILLs a worker whose item
runs past its deadline. The item then ends as reason "timeout", a fresh worker is started in the
background and the queue goes on. Callers only ever wait on `concurrent.futures.Future`s, so
`submit` is safe from any thread.
"""

from __future__ import annotations

import collections
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .verdict import Outcome

STARTUP_TIMEOUT_S = 60.0
MAX_START_FAILURES = 3
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass
class _Task:
    payload: dict[str, Any]
    timeout_s: float
    future: Future[Outcome] = field(default_factory=Future)


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    started: float
    ready: bool = False
    task: _Task | None = None
    deadline: float = 0.0
    done: int = 0
    buf: bytearray = field(default_factory=bytearray)


class GraderPool:
    """Worker processes grading (gold, answer) pairs; see the module docstring.

    Args:
        workers: number of worker processes.
        memory_mb: address-space limit per worker (0: none), so runaway sympy raises MemoryError.
        max_tasks_per_worker: a worker is replaced after this many items (bounds sympy caches).
    """

    def __init__(self, workers: int, *, memory_mb: int = 2048, max_tasks_per_worker: int = 5000):
        self.size = max(1, workers)
        self.memory_mb = memory_mb
        self.max_tasks = max_tasks_per_worker
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: collections.deque[_Task] = collections.deque()
        self._workers: list[_Worker] = []
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._closed = False
        self._broken: str | None = None
        self._start_failures = 0
        self._ids = 0
        self._thread = threading.Thread(target=self._run, name="grader-pool", daemon=True)
        self._thread.start()

    # ----- caller side (any thread) -----
    def submit(self, payload: dict[str, Any], timeout_s: float) -> Future[Outcome]:
        """Queue one request (see `worker.py` for the fields); its future yields an Outcome."""
        task = _Task(dict(payload), timeout_s)
        with self._lock:
            if self._closed or self._broken:
                task.future.set_exception(RuntimeError(self._broken or "grader pool is closed"))
                return task.future
            self._ids += 1
            task.payload["id"] = self._ids
            self._pending.append(task)
        self._wake()
        return task.future

    def resize(self, workers: int) -> None:
        """Grow the pool to `workers` processes (it never shrinks while running)."""
        with self._lock:
            self.size = max(self.size, workers)
        self._wake()

    def close(self) -> None:
        """Kill all workers and fail whatever is still queued."""
        with self._lock:
            self._closed = True
        self._wake()
        self._thread.join(timeout=10)

    @property
    def alive(self) -> bool:
        """True while the pool accepts work in this process."""
        return not self._closed and self._broken is None and self.pid == os.getpid()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    # ----- dispatcher thread -----
    def _run(self) -> None:
        try:
            while not self._closed and self._broken is None:
                self._top_up()
                self._dispatch()
                events = self._selector.select(self._next_wait())
                for key, _ in events:
                    if key.data is None:
                        os.read(self._wake_r, 4096)
                    else:
                        self._read(key.data)
                self._enforce_deadlines()
        except BaseException as exc:  # a dispatcher bug must fail futures, not hang callers
            self._broken = f"grader pool failed: {type(exc).__name__}: {exc}"
        finally:
            self._shutdown()

    def _spawn(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        env.setdefault("OMP_NUM_THREADS", "1")
        cmd = [
            sys.executable,
            "-m",
            "deeptool_env.grading.worker",
            "--memory-mb",
            str(self.memory_mb),
        ]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True
        )
        worker = _Worker(proc, time.monotonic())
        assert proc.stdout is not None
        self._selector.register(proc.stdout.fileno(), selectors.EVENT_READ, worker)
        self._workers.append(worker)

    def _top_up(self) -> None:
        while len(self._workers) < self.size and self._broken is None:
            self._spawn()

    def _dispatch(self) -> None:
        for worker in list(self._workers):
            if not worker.ready or worker.task is not None:
                continue
            with self._lock:
                if not self._pending:
                    return
                task = self._pending.popleft()
            if not task.future.set_running_or_notify_cancel():
                continue
            worker.task = task
            worker.deadline = time.monotonic() + task.timeout_s
            assert worker.proc.stdin is not None
            try:
                worker.proc.stdin.write(json.dumps(task.payload).encode() + b"\n")
                worker.proc.stdin.flush()
            except OSError:
                self._retire(worker, Outcome(False, "parse_error", "grading worker died"))

    def _next_wait(self) -> float | None:
        now = time.monotonic()
        limits = [w.deadline for w in self._workers if w.task is not None]
        limits += [w.started + STARTUP_TIMEOUT_S for w in self._workers if not w.ready]
        return max(0.0, min(limits) - now) if limits else None

    def _read(self, worker: _Worker) -> None:
        assert worker.proc.stdout is not None
        try:
            chunk = os.read(worker.proc.stdout.fileno(), 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            code = worker.proc.poll()
            self._retire(worker, Outcome(False, "parse_error", f"grading worker died ({code})"))
            return
        worker.buf += chunk
        while b"\n" in worker.buf:
            line, _, rest = bytes(worker.buf).partition(b"\n")
            worker.buf = bytearray(rest)
            try:
                msg = json.loads(line)
            except ValueError:
                self._retire(worker, Outcome(False, "parse_error", "garbled worker reply"))
                return
            self._on_message(worker, msg)

    def _on_message(self, worker: _Worker, msg: dict[str, Any]) -> None:
        if "ready" in msg:
            worker.ready = True
            self._start_failures = 0
            return
        task, worker.task = worker.task, None
        worker.done += 1
        if task is not None and msg.get("id") == task.payload["id"]:
            out = Outcome(bool(msg["correct"]), str(msg["reason"]), str(msg["explanation"]))
            task.future.set_result(out)
        if worker.done >= self.max_tasks:
            self._retire(worker, None)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.task is not None and now >= worker.deadline:
                limit = worker.task.timeout_s
                self._retire(worker, Outcome(False, "timeout", f"hard timeout after {limit:g} s"))
            elif not worker.ready and now >= worker.started + STARTUP_TIMEOUT_S:
                self._retire(worker, None)

    def _retire(self, worker: _Worker, outcome: Outcome | None) -> None:
        """Kill `worker`; resolve its task with `outcome`; count start-up failures."""
        if worker in self._workers:
            self._workers.remove(worker)
        assert worker.proc.stdout is not None
        try:
            self._selector.unregister(worker.proc.stdout.fileno())
        except (KeyError, ValueError):
            pass
        _kill(worker.proc)
        if worker.task is not None and outcome is not None:
            worker.task.future.set_result(outcome)
        if not worker.ready:
            self._start_failures += 1
            if self._start_failures >= MAX_START_FAILURES:
                self._broken = "grading workers failed to start (see their stderr above)"
                self._fail_pending(self._broken)

    def _fail_pending(self, message: str) -> None:
        with self._lock:
            tasks, self._pending = list(self._pending), collections.deque()
        for task in tasks:
            if not task.future.done():
                task.future.set_exception(RuntimeError(message))

    def _shutdown(self) -> None:
        for worker in list(self._workers):
            self._workers.remove(worker)
            _kill(worker.proc)
            if worker.task is not None and not worker.task.future.done():
                worker.task.future.set_exception(RuntimeError("grader pool closed"))
        self._fail_pending(self._broken or "grader pool closed")
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker, reap it and close its pipes."""
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    for pipe in (proc.stdin, proc.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass
