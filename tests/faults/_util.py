"""Helpers for the fault suite: caches built by hand, keys per node, load with a record."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cachex.backends.redis import RedisCache


def make_cache(location: Any, *, timeout: float = 0.5, **options: Any) -> RedisCache:
    """A cachex backend with a short socket timeout (fault tests wait on timeouts)."""
    opts = {"pool": {"socket_timeout": timeout, "socket_connect_timeout": timeout}, **options}
    return RedisCache(location, {"OPTIONS": opts})


def node_of(cache: RedisCache, key: str) -> Any:
    """The node (ring identity) a cache key lives on, as the router sees it."""
    return cache._topology.locate(cache.make_key(key))


def keys_per_node(cache: RedisCache, per_node: int = 10, prefix: str = "k"
                  ) -> dict[Any, list[str]]:
    """``per_node`` cache keys for every node of a sharded cache."""
    out: dict[Any, list[str]] = {node: [] for node in cache._topology.primaries()}
    i = 0
    while any(len(v) < per_node for v in out.values()):
        key = f"{prefix}:{i}"
        i += 1
        bucket = out[node_of(cache, key)]
        if len(bucket) < per_node:
            bucket.append(key)
    return out


def identity(server: Any) -> str:
    """A lab server's ring identity (``host:port``)."""
    return f"{server.host}:{server.port}"


@dataclass
class Record:
    """One call made by a load worker."""

    op: str
    key: str
    started: float
    seconds: float
    error: str | None = None
    result: Any = None


@dataclass
class Log:
    """What a load run saw."""

    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)

    def errors(self) -> list[Record]:
        return [r for r in self.records if r.error is not None]

    def error_keys(self) -> set[str]:
        return {r.key for r in self.errors()}

    def error_kinds(self) -> Counter[str]:
        return Counter(r.error for r in self.errors() if r.error)

    def longest(self) -> float:
        return max((r.seconds for r in self.records), default=0.0)

    def longest_gap(self) -> float:
        """Longest time in which no call finished successfully: the caller-visible stall."""
        ends = sorted(r.started + r.seconds for r in self.records if r.error is None)
        return max((b - a for a, b in itertools.pairwise(ends)), default=0.0)

    def summary(self) -> str:
        n = len(self.records)
        return (f"{n} calls, {len(self.errors())} errors {dict(self.error_kinds())}, "
                f"longest call {self.longest() * 1000:.0f} ms, "
                f"longest stall {self.longest_gap() * 1000:.0f} ms")


Op = Callable[[RedisCache, str, int], Any]
AOp = Callable[[RedisCache, str, int], Awaitable[Any]]


def _one(log: Log, op_name: str, key: str, op: Op, cache: RedisCache, i: int) -> None:
    started = time.monotonic()
    try:
        result = op(cache, key, i)
    except Exception as exc:
        log.add(Record(op_name, key, started, time.monotonic() - started, type(exc).__name__))
    else:
        log.add(Record(op_name, key, started, time.monotonic() - started, None, result))


def sync_load(make: Callable[[], RedisCache], keys: list[str], ops: dict[str, Op], *,
              threads: int, stop: threading.Event, log: Log, pause: float = 0.002
              ) -> list[threading.Thread]:
    """Start ``threads`` workers, each with its own backend instance (as Django gives every
    thread its own), picking random ``keys`` and ``ops`` until ``stop`` is set."""

    def worker(seed: int) -> None:
        cache = make()
        pick = random.Random(seed)
        names = list(ops)
        i = 0
        while not stop.is_set():
            key, name = pick.choice(keys), pick.choice(names)
            _one(log, name, key, ops[name], cache, i)
            i += 1
            time.sleep(pause)

    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    return workers


async def async_load(make: Callable[[], RedisCache], keys: list[str], ops: dict[str, AOp], *,
                     tasks: int, stop: asyncio.Event, log: Log, pause: float = 0.002) -> None:
    """Like ``sync_load`` with asyncio tasks, each with its own backend instance."""

    async def worker(seed: int) -> None:
        cache = make()
        pick = random.Random(seed)
        names = list(ops)
        i = 0
        while not stop.is_set():
            key, name = pick.choice(keys), pick.choice(names)
            started = time.monotonic()
            try:
                result = await ops[name](cache, key, i)
            except Exception as exc:
                log.add(Record(name, key, started, time.monotonic() - started,
                               type(exc).__name__))
            else:
                log.add(Record(name, key, started, time.monotonic() - started, None, result))
            i += 1
            await asyncio.sleep(pause)

    await asyncio.gather(*(worker(n) for n in range(tasks)))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def all_keys(groups: Iterable[list[str]]) -> list[str]:
    return [k for group in groups for k in group]


# -- riding through a fault: a steady caller while a failover (or a kill) runs ----------------
WARM_UP = 20  # rounds before the fault starts
SETTLE = 50  # successful rounds after the fault completed, then the ride ends
PACE = 0.01  # seconds between rounds: a steady caller, not a busy loop


class Rider:
    """What a ride reports to: each test module keeps its own tally (``ok_after`` ends it)."""

    ok_after: int

    def on_ok(self, now: float, last_ok: float, i: int, result: Any, done: bool) -> None:
        raise NotImplementedError

    def on_error(self, exc: BaseException, now: float, i: int, done: bool) -> None:
        raise NotImplementedError


def ride_sync(rider: Rider, fault: Callable[[], Any], step: Callable[[int], Any], *,
              budget: float) -> Any:
    """Run ``step(i)`` every PACE seconds; start ``fault`` in a thread after WARM_UP rounds;
    stop SETTLE good rounds after it completed (or after ``budget`` seconds). Returns what
    the fault returned."""
    from cachex.exceptions import CachexError

    new: list[Any] = []
    worker = threading.Thread(target=lambda: new.append(fault()), daemon=True)
    start = last_ok = time.monotonic()
    i = 0
    while time.monotonic() - start < budget and rider.ok_after < SETTLE:
        i += 1
        if i == WARM_UP:
            worker.start()
        done = i > WARM_UP and not worker.is_alive()
        try:
            result = step(i)
        except CachexError as exc:
            rider.on_error(exc, time.monotonic(), i, done)
        else:
            now = time.monotonic()
            rider.on_ok(now, last_ok, i, result, done)
            last_ok = now
        time.sleep(PACE)
    worker.join(60)
    assert new, "the fault did not complete"
    return new[0]


async def ride_async(rider: Rider, fault: Callable[[], Any],
                     step: Callable[[int], Awaitable[Any]], *, budget: float) -> Any:
    """``ride_sync`` with an async step; the fault runs in a thread."""
    from cachex.exceptions import CachexError

    worker: asyncio.Task[Any] | None = None
    start = last_ok = time.monotonic()
    i = 0
    while time.monotonic() - start < budget and rider.ok_after < SETTLE:
        i += 1
        if i == WARM_UP:
            worker = asyncio.create_task(asyncio.to_thread(fault))
        done = worker is not None and worker.done()
        try:
            result = await step(i)
        except CachexError as exc:
            rider.on_error(exc, time.monotonic(), i, done)
        else:
            now = time.monotonic()
            rider.on_ok(now, last_ok, i, result, done)
            last_ok = now
        await asyncio.sleep(PACE)
    assert worker is not None
    return await asyncio.wait_for(worker, 60)
