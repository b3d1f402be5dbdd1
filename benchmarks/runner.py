"""Timing: calibrate each contender to a round length, then interleave rounds.

Per workload, every contender first runs a growing number of calls (which doubles as the
warm-up: connections open, code paths get hot) until one batch takes ``calibrate_s``; that
fixes its ``n`` so that one round lasts about ``round_s``. Then ``rounds`` rounds follow; in
each, every contender runs its ``n`` calls once, in an order rotated by one every round
(A B C, B C A, C A B ...), so drift in machine load hits all contenders alike. Each timed
batch runs with the garbage collector off and is timed with ``time.perf_counter``. (The
start-up objects are frozen out of the collector (``gc.freeze``) so collections between
batches stay cheap: a full collection of a Django process costs tens of milliseconds.)

Result per contender: ops/s of every round; the report takes medians, and ratios are medians
of per-round ratios (the two contenders of a ratio ran seconds apart in the same round).
"""

from __future__ import annotations

import asyncio
import gc
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from benchmarks.contenders import Contender
from benchmarks.workloads import AsyncBody, Prepared, SyncBody, Workload


@dataclass(frozen=True)
class Config:
    rounds: int
    round_s: float
    calibrate_s: float
    max_calls: int = 1_000_000

    @classmethod
    def quick(cls) -> Config:
        return cls(rounds=5, round_s=0.012, calibrate_s=0.004)

    @classmethod
    def full(cls) -> Config:
        return cls(rounds=15, round_s=0.04, calibrate_s=0.01)


@dataclass
class Measurement:
    contender: str
    calls: int = 0  # calls per round
    ops: list[float] = field(default_factory=list)  # wall-clock calls/s, per round
    cpu_us: list[float] = field(default_factory=list)  # this process's CPU µs per call
    error: str | None = None
    transient: list[str] = field(default_factory=list)  # errors that a retry got past
    spent_s: float = 0.0


Timed = Callable[[int], tuple[float, float]]


class Timer:
    """Times sync bodies directly and async bodies inside the one event loop of the run.

    Returns (wall seconds, process CPU seconds). Wall time is the result; the CPU time of
    this process (all its threads: the event loop, sync_to_async's executor) is kept beside
    it because, unlike wall time, it barely moves when other programs compete for the CPU:
    it prices the client-side work of each contender.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def sync(self, body: SyncBody, n: int) -> tuple[float, float]:
        gc.disable()
        try:
            c0, t0 = time.process_time(), time.perf_counter()
            body(n)
            t1, c1 = time.perf_counter(), time.process_time()
            return t1 - t0, c1 - c0
        finally:
            gc.enable()

    def async_(self, body: AsyncBody, n: int) -> tuple[float, float]:
        async def timed() -> tuple[float, float]:
            c0, t0 = time.process_time(), time.perf_counter()
            await body(n)
            t1, c1 = time.perf_counter(), time.process_time()
            return t1 - t0, c1 - c0

        gc.disable()
        try:
            return self.loop.run_until_complete(timed())
        finally:
            gc.enable()


def run_workload(workload: Workload, contenders: Sequence[Contender], cfg: Config,
                 timer: Timer, after: Callable[[], None] | None = None
                 ) -> dict[str, Measurement]:
    """Measure ``workload`` for every contender that supports it."""
    results: dict[str, Measurement] = {}
    runs: list[tuple[Measurement, Timed]] = []
    step = workload.tasks if workload.is_async else 1
    for c in contenders:
        if not c.available or not workload.supported_by(c):
            continue
        m = results[c.name] = Measurement(c.name)
        try:
            prepared = Prepared(workload, c)
            prepared.seed(timer.loop)
            timed: Timed = (partial(timer.async_, prepared.abody()) if workload.is_async
                            else partial(timer.sync, prepared.body()))
            try:
                m.calls = calibrate(timed, step, cfg)
            except Exception as exc:  # once more, as for rounds
                m.transient.append(_error(exc))
                m.calls = calibrate(timed, step, cfg)
            runs.append((m, timed))
        except Exception as exc:
            m.error = _error(exc)
    # A contender whose single call outlasts a round stops after MIN_ROUNDS once it has
    # used its share of time, so one very slow peer cannot stretch the whole run.
    budget = cfg.rounds * cfg.round_s * 2
    for r in range(cfg.rounds):
        order = runs[r % len(runs):] + runs[:r % len(runs)] if runs else []
        for m, timed in order:
            if m.error is not None or (len(m.ops) >= MIN_ROUNDS and m.spent_s > budget):
                continue
            for attempt in (1, 2):  # one retry: a transient driver error should not lose a row
                try:
                    wall, cpu = timed(m.calls)
                    m.spent_s += wall
                    m.ops.append(m.calls / wall if wall > 0 else math.inf)
                    m.cpu_us.append(cpu / m.calls * 1e6)
                    break
                except Exception as exc:
                    text = _error(exc)
                    m.transient.append(text)
                    if attempt == 2:
                        m.error = text
    if after is not None:
        after()
    return results


MIN_ROUNDS = 3


def calibrate(timed: Timed, step: int, cfg: Config) -> int:
    """Calls per round so one round lasts about ``cfg.round_s`` (a multiple of ``step``)."""
    n = step
    elapsed = timed(n)[0]  # first call: connects, warms up
    while True:
        elapsed = timed(n)[0]
        if elapsed >= cfg.calibrate_s or n >= cfg.max_calls:
            break
        grow = cfg.calibrate_s / elapsed if elapsed > 0 else 8.0
        n = min(cfg.max_calls, max(n * 2, int(n * min(grow * 1.2, 8.0))))
        n = max(step, n // step * step)
    per_call = elapsed / n
    wanted = int(cfg.round_s / per_call) if per_call > 0 else cfg.max_calls
    wanted = min(cfg.max_calls, max(step, wanted))
    return max(step, wanted // step * step)


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    print(f"    ! {type(exc).__name__}: {text}", file=sys.stderr)
    return f"{type(exc).__name__}: {text}"


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Median over rounds of a[r] / b[r] (per-round calls/s; for CPU µs pass them swapped)."""
    pairs = [x / y for x, y in zip(a, b, strict=False) if y > 0]
    return median(pairs)


def _iqr_pct(values: Sequence[float]) -> float | None:
    """Spread of the rounds: interquartile range as a percentage of the median (noise)."""
    if len(values) < 4:
        return None
    s = sorted(values)
    q1, q3 = s[len(s) // 4], s[(3 * len(s)) // 4]
    med = median(s)
    return round(100 * (q3 - q1) / med, 1) if med else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def summarise(results: dict[str, Measurement]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, m in results.items():
        med = median(m.ops)
        out[name] = {
            "median_ops_s": med,
            "median_us_per_call": (1e6 / med) if med else None,
            "calls_per_round": m.calls,
            "median_cpu_us_per_call": _round(median(m.cpu_us)),
            "rounds_ops_s": [round(x, 2) for x in m.ops],
            "iqr_pct": _iqr_pct(m.ops),
            "error": m.error,
            "retried_errors": m.transient or None,
        }
    return out
