"""`grade` and `grade_many`: extraction, normalization, in-process exact checks, cache, pool.

Flow for one item: `extract_answer` on the agent's text (no answer -> "no_answer"); both
answers go through `normalize`; the cache is consulted; pure-Python exact checks (integers,
rationals, text, tuples, lists of those) decide most items in the caller's process without
sympy; the rest goes to the worker pool (`pool.py`), where sympy and math-verify run with their
own 3 s alarms on a worker's main thread under a hard per-item kill (default 10 s).

Nothing here uses signals, so both functions are safe from any thread, from asyncio (through
`asyncio.to_thread`) and inside Ray workers. A pool failure (workers cannot start) raises
RuntimeError rather than grading anything as wrong.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from .compare import compare
from .extract import extract_answer
from .normalize import normalize
from .options import GradeOptions
from .shared import shared_pool
from .verdict import Outcome, Verdict

DEFAULT_TIMEOUT_S = 10.0
MV_TIMEOUT_S = 3
CACHE_SIZE = 200_000
MAX_ANSWER_CHARS = 10_000  # longer "final answers" are degenerate output: parse_error
MAX_QUICK_CHARS = 2_000  # longer answers skip the in-process checks and go to a worker

CacheKey = tuple[str, str, str | None, tuple[Any, ...]]


class _Cache:
    """Thread-safe LRU of outcomes keyed by (gold, normalized answer, benchmark, options).

    Timeouts are not cached: they can depend on machine load rather than on the answer.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: collections.OrderedDict[CacheKey, Outcome] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> Outcome | None:
        with self._lock:
            out = self._data.get(key)
            if out is not None:
                self._data.move_to_end(key)
            return out

    def put(self, key: CacheKey, out: Outcome) -> None:
        with self._lock:
            self._data[key] = out
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


CACHE = _Cache(CACHE_SIZE)


def clear_cache() -> None:
    """Forget all cached results (e.g. before timing a cold run)."""
    CACHE.clear()


@dataclass
class _Job:
    extracted: str | None
    normalized: str | None
    gold: str = ""
    opts: GradeOptions = GradeOptions()
    key: CacheKey | None = None
    verdict: Verdict | None = None


def _prepare(
    response: str, gold: str, benchmark: str | None, meta: Mapping[str, Any] | None
) -> _Job:
    """Everything that can be done without a worker; `verdict` is set if that was enough."""
    extracted = extract_answer(response)
    if extracted is None:
        return _Job(None, None, verdict=Verdict(False, "no_answer", None, "no final answer found"))
    if len(extracted) > MAX_ANSWER_CHARS:
        why = f"answer too long ({len(extracted)} characters)"
        return _Job(extracted, None, verdict=Verdict(False, "parse_error", extracted, why))
    opts = GradeOptions.from_meta(meta)
    if benchmark is None and meta is not None and isinstance(meta.get("benchmark"), str):
        benchmark = meta["benchmark"]
    pred = normalize(extracted, unit=opts.unit)
    job = _Job(extracted, pred, normalize(str(gold), unit=opts.unit), opts)
    if not job.gold:  # a data error: this item is wrong, the rest of the batch goes on
        why = f"the gold answer is empty ({str(gold)!r}): a data error"
        job.verdict = Verdict(False, "parse_error", extracted, why, pred)
        return job
    if not pred:
        why = "empty answer after normalization"
        job.verdict = Verdict(False, "parse_error", extracted, why, pred)
        return job
    job.key = (str(gold), pred, benchmark, opts.key())
    cached = CACHE.get(job.key)
    if cached is not None:
        job.verdict = Verdict.from_outcome(cached, extracted, pred, cached=True)
        return job
    if len(pred) <= MAX_QUICK_CHARS:
        try:
            quick = compare(job.gold, pred, opts, deep=None)
        except RecursionError:  # deeply nested tuples: let a worker decide
            quick = None
        if quick is not None:
            CACHE.put(job.key, quick)
            job.verdict = Verdict.from_outcome(quick, extracted, pred)
    return job


def _unpack(item: Any) -> tuple[str, str, str | None, Mapping[str, Any] | None]:
    """(response, gold, benchmark, meta) from a mapping or a 2-4 tuple."""
    if isinstance(item, Mapping):
        gold = item["gold"] if "gold" in item else item["answer"]
        return str(item["response"]), str(gold), item.get("benchmark"), item.get("meta")
    response, gold, *rest = item
    benchmark = rest[0] if rest else None
    meta = rest[1] if len(rest) > 1 else None
    return str(response), str(gold), benchmark, meta


def grade_many(
    items: Iterable[Any],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    mv_timeout: int | None = MV_TIMEOUT_S,
) -> list[Verdict]:
    """Grade many responses; the verdicts come back in input order.

    Args:
        items: mappings with keys `response`, `gold` (or `answer`), optional `benchmark`, `meta`
            (a benchmark record, or its `extra` dict), or tuples `(response, gold[, benchmark[,
            meta]])`.
        timeout_s: hard limit per item in a worker; an overrunning worker is killed and the
            item ends as reason "timeout" while the others go on.
        workers: size of the process pool (default: usable CPUs, at most 4).
        mv_timeout: math-verify's own per-call timeout inside the workers, in seconds.
    """
    jobs = [_prepare(*_unpack(item)) for item in items]
    waiting: dict[CacheKey, Future[Outcome]] = {}
    todo = [job for job in jobs if job.verdict is None]
    if todo:
        pool = shared_pool(workers)
        for job in todo:
            assert job.key is not None and job.normalized is not None
            if job.key not in waiting:
                payload = {
                    "gold": job.gold,
                    "pred": job.normalized,
                    "opts": job.opts.to_dict(),
                    "mv_timeout": mv_timeout,
                }
                waiting[job.key] = pool.submit(payload, timeout_s)
    for job in todo:
        assert job.key is not None
        out = waiting[job.key].result()
        if out.reason != "timeout":  # a timeout may be load-dependent: try again next time
            CACHE.put(job.key, out)
        job.verdict = Verdict.from_outcome(out, job.extracted, job.normalized)
    return [job.verdict for job in jobs if job.verdict is not None]


def grade(
    response: str,
    gold: str,
    *,
    benchmark: str | None = None,
    meta: Mapping[str, Any] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Verdict:
    """Grade one response against one gold answer (thread-safe; see `grade_many`).

    `response` is the agent's own text (assistant turns); tool outputs in it are ignored.
    `meta` is the benchmark record (its `extra` gives unit, tolerance and multi-answer flags).
    """
    return grade_many([(response, gold, benchmark, meta)], timeout_s=timeout_s)[0]
