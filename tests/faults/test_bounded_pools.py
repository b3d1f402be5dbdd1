"""``OPTIONS['pool']['max_connections']`` bounds the pool and makes callers wait.

A burst far larger than the pool against a server that stalls: every caller waits its turn
(none fails), and the server never sees more connections than the bound per process (sync)
or per event loop (async). A full pool raises ``PoolExhausted`` only after ``pool_timeout``,
is not retried and does not open the circuit; a dead server still fails at once.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cachex.backends.redis import RedisCache
from cachex.exceptions import ConnectionFailed, PoolExhausted
from cachex.testing import Server, server, servers
from cachex.testing.faults import client_pause

pytestmark = pytest.mark.timeout(60)
BOUND = 10
_names = itertools.count()


@pytest.fixture
def node() -> Iterator[Server]:
    with server() as s:
        yield s


def bounded(location: str, name: str, **pool: Any) -> RedisCache:
    """A cache whose connections carry ``name`` (to count them on the server)."""
    options = {"socket_timeout": 2.0, "socket_connect_timeout": 0.5,
               "max_connections": BOUND, "pool_timeout": 5.0, "client_name": name, **pool}
    return RedisCache(location, {"OPTIONS": {"pool": options}})


class Peak:
    """Polls CLIENT LIST (allowed during a WRITE pause) for connections named ``name``."""

    def __init__(self, node: Server, name: str) -> None:
        self.node, self.name, self.peak = node, name, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.node.client() as admin:
            while not self._stop.is_set():
                listing = admin.execute_command("CLIENT", "LIST")
                text = listing if isinstance(listing, str) else str(listing)
                self.peak = max(self.peak, text.count(f"name={self.name} "))
                time.sleep(0.005)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def burst_sync(cache_for: Callable[[], RedisCache], n: int, threads: int
               ) -> list[BaseException]:
    """``n`` sets from ``threads`` threads (each with its own backend instance, as Django
    gives each thread); the errors they saw."""
    errors: list[BaseException] = []
    todo = iter(range(n))
    lock = threading.Lock()
    go = threading.Event()

    def worker() -> None:
        cache = cache_for()
        go.wait()
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                cache.set(f"burst:{i}", i, 60)
            except Exception as exc:
                with lock:
                    errors.append(exc)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    go.set()
    for w in workers:
        w.join(30)
    return errors


async def burst_async(cache_for: Callable[[], RedisCache], n: int) -> list[BaseException]:
    """``n`` concurrent ``aset`` tasks on one event loop, each with its own backend."""

    async def one(i: int) -> BaseException | None:
        try:
            await cache_for().aset(f"burst:{i}", i, 60)
        except Exception as exc:
            return exc
        return None

    results = await asyncio.gather(*(one(i) for i in range(n)))
    return [r for r in results if r is not None]


def written(node: Server, n: int) -> int:
    client = node.client()
    return sum(1 for i in range(n) if client.exists(f":1:burst:{i}"))


@pytest.mark.parametrize("flavour", ["threads", "tasks"])
def test_burst_waits_for_the_pool_on_a_stalled_server(node: Server, flavour: str) -> None:
    """50 threads / 200 tasks against max_connections=10 while the server holds writes for
    0.3 s: no errors, every value written, at most 10 connections to the server."""
    name = f"pools{next(_names)}"
    location = node.url
    if flavour == "threads":  # (a sync pool is the process's, an async one the loop's)
        bounded(location, name).set("warm", 1)
    n = 200
    with Peak(node, name) as peak:
        client_pause(node, 300, "WRITE")
        started = time.monotonic()
        if flavour == "threads":
            errors = burst_sync(lambda: bounded(location, name), n, threads=50)
        else:
            errors = asyncio.run(burst_async(lambda: bounded(location, name), n))
        took = time.monotonic() - started
        time.sleep(0.05)
    print(f"\n[measure] {flavour}: {n} sets in {took:.2f}s, {len(errors)} errors, "
          f"peak {peak.peak} connections (bound {BOUND})")
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
    assert written(node, n) == n
    assert 1 <= peak.peak <= BOUND


def test_full_pool_raises_pool_exhausted_without_retry_or_breaker(node: Server) -> None:
    """Connections held longer than pool_timeout: the callers left over get PoolExhausted
    naming the node, the pool size and the wait; no retry, and the circuit stays closed."""
    name = f"pools{next(_names)}"
    cache = bounded(node.url, name, max_connections=2, pool_timeout=0.2)
    cache.set("warm", 1)
    router = cache._router
    before = router.stats.snapshot()
    client_pause(node, 1500, "WRITE")
    errors = burst_sync(lambda: bounded(node.url, name, max_connections=2, pool_timeout=0.2),
                        12, threads=12)
    exhausted = [e for e in errors if isinstance(e, PoolExhausted)]
    assert exhausted and len(exhausted) == len(errors), [repr(e) for e in errors]
    err = exhausted[0]
    assert isinstance(err, ConnectionFailed)  # what callers caught before
    text = str(err)
    assert node.address in text and "max_connections'] = 2" in text and "0.2s" in text
    assert err.size == 2 and err.waited == 0.2
    after = router.stats.snapshot()
    assert after.get("retries", 0) == before.get("retries", 0)
    assert after.get("circuit_opens", 0) == before.get("circuit_opens", 0)
    assert router.breaker is not None and not router.breaker.suspects


def test_burst_against_a_dead_server_fails_at_once(node: Server) -> None:
    """No caller waits out the pool timeout for a server that refuses connections: every
    set fails with a connection error (or the open circuit), none with PoolExhausted."""
    name = f"pools{next(_names)}"
    location = node.url
    bounded(location, name).set("warm", 1)
    node.kill()
    started = time.monotonic()
    errors = burst_sync(lambda: bounded(location, name), 200, threads=50)
    aerrors = asyncio.run(burst_async(lambda: bounded(location, name), 200))
    took = time.monotonic() - started
    print(f"\n[measure] dead server: 400 sets failed in {took:.2f}s "
          f"(pool_timeout 5.0s, socket_connect_timeout 0.5s)")
    assert len(errors) == 200 and len(aerrors) == 200
    kinds = {type(e).__name__ for e in errors + aerrors}
    assert kinds <= {"ConnectionFailed", "NodeUnavailable"}, kinds


@pytest.mark.parametrize("bad", [0, -1, "5", float("inf"), float("nan"), True])
def test_pool_timeout_is_validated_at_start_up(bad: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="pool_timeout"):
        RedisCache("redis://127.0.0.1:1/0",
                   {"OPTIONS": {"pool": {"max_connections": 5, "pool_timeout": bad}}})


def test_multi_node_bursts_do_not_wait_on_each_other() -> None:
    """set_many over 3 bounded shards from many threads while the shards hold writes: every
    call takes its nodes' connections in the same order, so none waits out the pool
    timeout holding one node's connection while another call holds the next node's."""
    with servers(3) as shards:
        location = [s.url for s in shards]
        name = f"pools{next(_names)}"

        def cache() -> RedisCache:
            return bounded(location, name, max_connections=2, pool_timeout=3.0)

        probe = cache()
        keys = [f"m{i}" for i in range(12)]
        assert len({probe._topology.locate(probe.make_key(k)) for k in keys}) == 3
        errors: list[BaseException] = []
        lock = threading.Lock()
        go = threading.Event()

        def worker(n: int) -> None:
            c = cache()
            go.wait()
            for _ in range(5):
                # rotate so the calls' plans list the nodes in different orders
                order = keys[n % len(keys):] + keys[:n % len(keys)]
                try:
                    c.set_many(dict.fromkeys(order, n), 60)
                except Exception as exc:
                    with lock:
                        errors.append(exc)

        workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(24)]
        for w in workers:
            w.start()
        for s in shards:
            client_pause(s, 200, "WRITE")
        go.set()
        for w in workers:
            w.join(30)
        assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
