"""``python -m benchmarks.stampede``: one hot key expires under 200 concurrent callers.

Each round stores a value, then releases 200 callers at the moment it expires (100 threads
and 100 asyncio tasks in one process; then the same 200 spread over 4 processes). Every
caller asks for the key and, on a miss, recomputes it (a 100 ms computation). Counted: the
recomputations, and each caller's wait from its release to its answer (p50/p99).

Contenders, all on the same server in the same run:

* Django's RedisCache: ``get_or_set`` (threads); ``aget``/compute/``aset`` (tasks, since
  Django's ``aget_or_set`` cannot await a computation).
* django-redis's HerdClient: ``get``/compute/``set``, its documented pattern (tasks go
  through Django's ``aget``/``aset``, i.e. ``sync_to_async``).
* cachex with ``OPTIONS["stampede"]`` herd, early (XFetch) and lock: ``get_or_set`` /
  ``aget_or_set``. XFetch only helps callers that come *before* expiry, so it runs twice:
  released at expiry, and with the 200 callers arriving uniformly over the last second
  before expiry (steady traffic, which is what XFetch is for).

Every contender first runs one uncounted round (connections, imports). Not a timed test: a
benchmark on whatever machine runs it. The numbers (waits especially)
move with the load on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

COMPUTE = 0.1
TIMEOUT = 1.0  # the value's life: the callers come when it ends
HERD_GRACE = 60
FRESH, STALE = "fresh", "stale"


@dataclass(frozen=True)
class Contender:
    name: str
    alias: str
    style: str  # "get_or_set": cachex/Django API; "get_set": get, compute, set
    spread_ms: int = 0  # callers arrive uniformly over this long before expiry, not at once
    whole_seconds: bool = False  # django-redis's herd keeps its soft expiry in whole seconds


CONTENDERS = [
    Contender("Django RedisCache (no protection)", "django", "django"),
    Contender("django-redis HerdClient", "djredis_herd", "get_set", whole_seconds=True),
    Contender("cachex herd", "cx_herd", "get_or_set"),
    Contender("cachex lock", "cx_lock", "get_or_set"),
    Contender("cachex early, at expiry", "cx_early", "get_or_set"),
    Contender("cachex early, traffic over the last second", "cx_early", "get_or_set",
              spread_ms=1000),
]


def caches_setting(url: str) -> dict[str, Any]:
    cx = "cachex.backends.redis.RedisCache"
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "django": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                   "KEY_PREFIX": "dj"},
        "djredis_herd": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url,
                         "KEY_PREFIX": "dr",
                         "OPTIONS": {"CLIENT_CLASS": "django_redis.client.HerdClient"}},
        "cx_herd": {"BACKEND": cx, "LOCATION": url, "KEY_PREFIX": "ch",
                    "OPTIONS": {"stampede": {"mode": "herd"}}},
        "cx_lock": {"BACKEND": cx, "LOCATION": url, "KEY_PREFIX": "cl",
                    "OPTIONS": {"stampede": {"mode": "lock", "poll": 0.01}}},
        "cx_early": {"BACKEND": cx, "LOCATION": url, "KEY_PREFIX": "ce",
                     "OPTIONS": {"stampede": {"mode": "early"}}},
    }


def configure(url: str) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(CACHES=caches_setting(url), CACHE_HERD_TIMEOUT=HERD_GRACE,
                           USE_TZ=True)
        django.setup()


# ---------------------------------------------------------------- one caller
def sync_compute(counter: list[int]) -> str:
    counter.append(1)
    time.sleep(COMPUTE)
    return FRESH


async def async_compute(counter: list[int]) -> str:
    counter.append(1)
    await asyncio.sleep(COMPUTE)
    return FRESH


def sync_call(c: Contender, key: str, counter: list[int]) -> Any:
    from django.core.cache import caches

    cache = caches[c.alias]
    if c.style == "get_set":
        value = cache.get(key)
        if value is None:
            value = sync_compute(counter)
            cache.set(key, value, TIMEOUT)
        return value
    return cache.get_or_set(key, lambda: sync_compute(counter), TIMEOUT)


async def async_call(c: Contender, key: str, counter: list[int]) -> Any:
    from django.core.cache import caches

    cache = caches[c.alias]
    if c.style == "get_or_set":
        return await cache.aget_or_set(key, lambda: async_compute(counter), TIMEOUT)
    value = await cache.aget(key)
    if value is None:
        value = await async_compute(counter)
        await cache.aset(key, value, TIMEOUT)
    return value


# ---------------------------------------------------------------- one burst in one process
_loop: asyncio.AbstractEventLoop | None = None


def event_loop() -> asyncio.AbstractEventLoop:
    """One long-lived event loop per process, in its own thread, as an ASGI server has:
    async clients (per loop) stay connected from one round to the next."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        threading.Thread(target=_loop.run_forever, daemon=True).start()
    return _loop


def burst(c: Contender, key: str, release: float, threads: int, tasks: int
          ) -> tuple[int, list[float], int]:
    """Callers released at ``release`` (time.time()), or spread over the ``spread_ms`` after
    it: (recomputations, waits, errors)."""
    spread = c.spread_ms / 1000
    counter: list[int] = []
    waits: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def thread_caller() -> None:
        time.sleep(max(0.0, release + random.uniform(0, spread) - time.time()))
        start = time.perf_counter()
        try:
            sync_call(c, key, counter)
        except BaseException as exc:
            errors.append(exc)
        with lock:
            waits.append(time.perf_counter() - start)

    async def task_caller() -> None:
        await asyncio.sleep(max(0.0, release + random.uniform(0, spread) - time.time()))
        start = time.perf_counter()
        try:
            await async_call(c, key, counter)
        except BaseException as exc:
            errors.append(exc)
        with lock:
            waits.append(time.perf_counter() - start)

    async def all_tasks() -> None:
        await asyncio.gather(*(task_caller() for _ in range(tasks)))

    workers = [threading.Thread(target=thread_caller) for _ in range(threads)]
    for w in workers:
        w.start()
    if tasks:
        asyncio.run_coroutine_threadsafe(all_tasks(), event_loop()).result()
    for w in workers:
        w.join()
    if errors:
        print(f"  {c.name}: {len(errors)} errors, first: {errors[0]!r}")
    return len(counter), waits, len(errors)


def _worker(url: str, inbox: Any, out: Any) -> None:
    """A spawned process (a fork of a process with threads and pools could deadlock):
    runs the bursts it is sent until it gets None."""
    configure(url)
    out.put("ready")
    while (job := inbox.get()) is not None:
        out.put(burst(*job))


class Workers:
    """``count`` spawned processes, started once per run."""

    def __init__(self, url: str, count: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.out = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(count)]
        self.procs = [ctx.Process(target=_worker, args=(url, q, self.out), daemon=True)
                      for q in self.inboxes]
        for p in self.procs:
            p.start()
        for _ in self.procs:
            assert self.out.get(timeout=120) == "ready"

    def burst(self, c: Contender, key: str, release: float, callers: int
              ) -> tuple[int, list[float], int]:
        per = callers // len(self.procs)
        for q in self.inboxes:
            q.put((c, key, release, per // 2, per - per // 2))
        parts = [self.out.get(timeout=120) for _ in self.procs]
        return (sum(n for n, _, _ in parts), [w for _, ws, _ in parts for w in ws],
                sum(e for _, _, e in parts))

    def close(self) -> None:
        for q in self.inboxes:
            q.put(None)
        for p in self.procs:
            p.join(30)


def seed(c: Contender, key: str) -> float:
    """Store the value; the moment (time.time()) to release the callers."""
    from django.core.cache import caches

    cache = caches[c.alias]
    cache.set(key, STALE, TIMEOUT)
    stored = time.time()
    if c.whole_seconds:  # HerdClient: stale once int(now) passes int(stored) + timeout
        return float(int(stored) + int(TIMEOUT) + 1)
    return stored + TIMEOUT - c.spread_ms / 1000


def one_round(c: Contender, key: str, workers: Workers | None, callers: int
              ) -> tuple[int, list[float], int]:
    # a value's timeout is 1 s: far more than sending the jobs to the workers takes
    release = seed(c, key)
    if workers is None:
        return burst(c, key, release, callers // 2, callers - callers // 2)
    return workers.burst(c, key, release, callers)


# ---------------------------------------------------------------- report
def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(url: str, rounds: int, callers: int, processes_runs: Sequence[int],
        only: Callable[[Contender], bool]) -> list[dict[str, Any]]:
    rows = []
    for processes in processes_runs:
        workers = Workers(url, processes) if processes > 1 else None
        for i, c in enumerate(x for x in CONTENDERS if only(x)):
            one_round(c, f"warm:{processes}:{i}", workers, callers)  # connections, imports
            counts, waits, errors = [], [], 0
            for r in range(rounds):
                n, w, e = one_round(c, f"hot:{processes}:{i}:{r}", workers, callers)
                counts.append(n)
                waits.extend(w)
                errors += e
            row = {"contender": c.name, "processes": processes, "recomputes": counts,
                   "p50_ms": pct(waits, 0.5) * 1000, "p99_ms": pct(waits, 0.99) * 1000,
                   "max_ms": max(waits) * 1000, "errors": errors}
            rows.append(row)
            print(f"{row['contender']:<32} procs={processes} recomputes/expiry={counts} "
                  f"p50={row['p50_ms']:.0f} ms p99={row['p99_ms']:.0f} ms "
                  f"max={row['max_ms']:.0f} ms errors={errors}", flush=True)
        if workers is not None:
            workers.close()
    return rows


def table(rows: list[dict[str, Any]], rounds: int, callers: int) -> str:
    lines = [f"| contender | processes | recomputations per expiry ({rounds} expiries) | "
             "median | p50 wait | p99 wait | max wait |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        counts = r["recomputes"]
        where = ("1 process: 100 threads + 100 tasks" if r["processes"] == 1
                 else f"{r['processes']} processes x (25 threads + 25 tasks)")
        lines.append(f"| {r['contender']} | {where} | {', '.join(map(str, counts))} | "
                     f"{statistics.median(counts):g} | {r['p50_ms']:.0f} ms | "
                     f"{r['p99_ms']:.0f} ms | {r['max_ms']:.0f} ms |")
    lines.append("")
    lines.append(f"{callers} callers per expiry, {COMPUTE * 1000:.0f} ms computation; a wait "
                 "is a caller's time from its release to its answer.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stampede",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rounds", type=int, default=3, help="expiries per contender and run")
    p.add_argument("--callers", type=int, default=200)
    p.add_argument("--only", default="", help="substring of the contenders to run")
    p.add_argument("--no-processes", action="store_true", help="skip the 4-process run")
    args = p.parse_args(argv)

    from cachex import testing

    with testing.server() as server:
        configure(server.url)
        rows = run(server.url, args.rounds, args.callers, [1] if args.no_processes else [1, 4],
                   lambda c: args.only.lower() in c.name.lower())
    print()
    print(table(rows, args.rounds, args.callers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
