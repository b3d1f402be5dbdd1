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
from cachex.backends.valkey import ValkeyCache
from cachex.exceptions import ConnectionFailed, PoolExhausted
from cachex.testing import Server, server, servers
from cachex.testing.faults import client_pause
from tests import labs
from tests.cluster.test_keys import wait_replicas_announced
from tests.faults._util import keys_per_node

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
    """Polls CLIENT LIST (allowed during a WRITE pause) on each of ``nodes`` for connections
    named ``name``; ``peak`` is the most any one node saw at once."""

    def __init__(self, nodes: Server | list[Server], name: str) -> None:
        self.nodes = nodes if isinstance(nodes, list) else [nodes]
        self.name, self.peak = name, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        admins = [node.client() for node in self.nodes]
        try:
            while not self._stop.is_set():
                for admin in admins:
                    listing = admin.execute_command("CLIENT", "LIST")
                    text = listing if isinstance(listing, str) else str(listing)
                    self.peak = max(self.peak, text.count(f"name={self.name} "))
                time.sleep(0.005)
        finally:
            for admin in admins:
                admin.close()

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def burst_sync(cache_for: Callable[[], RedisCache], n: int, threads: int,
               prefix: str = "burst", read: bool = False) -> list[BaseException]:
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
                if read:
                    assert cache.get(f"{prefix}:{i}") == i
                else:
                    cache.set(f"{prefix}:{i}", i, 60)
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


async def burst_async(cache_for: Callable[[], RedisCache], n: int, prefix: str = "burst",
                      read: bool = False) -> list[BaseException]:
    """``n`` concurrent ``aset`` tasks on one event loop, each with its own backend."""

    async def one(i: int) -> BaseException | None:
        try:
            if read:
                assert await cache_for().aget(f"{prefix}:{i}") == i
            else:
                await cache_for().aset(f"{prefix}:{i}", i, 60)
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


@pytest.mark.parametrize("flavour", ["threads", "tasks"])
@pytest.mark.parametrize("kind", ["cluster", "sentinel"])
def test_burst_waits_for_cluster_and_sentinel_pools(kind: str, flavour: str) -> None:
    """The same burst on a Cluster alias (every primary holding writes) and a Sentinel alias
    (the primary holding writes): no errors, every value written, at most 10 connections
    from this process (or loop) to any node."""
    lab = labs.lab(kind)
    nodes = lab.primaries() if kind == "cluster" else [lab.primary_node]
    name = f"pools{next(_names)}"
    location = lab.url
    if flavour == "threads":
        bounded(location, name).set("warm", 1)
    n = 200
    with Peak(nodes, name) as peak:
        for node in nodes:
            client_pause(node, 300, "WRITE")
        if flavour == "threads":
            errors = burst_sync(lambda: bounded(location, name), n, 50, prefix=name)
        else:
            errors = asyncio.run(burst_async(lambda: bounded(location, name), n, prefix=name))
        time.sleep(0.05)
    print(f"\n[measure] {kind} {flavour}: {len(errors)} errors, peak {peak.peak} connections "
          f"per node (bound {BOUND})")
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
    check = bounded(location, f"{name}check")
    got = check.get_many([f"{name}:{i}" for i in range(n)])
    assert len(got) == n
    assert 1 <= peak.peak <= BOUND


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[Any]:
    """A cluster of this module's own: the session's shared one may still be settling from
    another module's failover (a demoted primary closes its clients' connections)."""
    from cachex.testing import cluster

    with cluster() as lab:
        yield lab


@pytest.mark.parametrize("flavour", ["threads", "tasks"])
def test_burst_waits_for_the_cluster_client_on_replica_reads(flavour: str,
                                                             own_cluster: Any) -> None:
    """Replica reads go through the driver's cluster client: the same burst of reads while
    every replica holds all commands for 0.3 s waits its turn, and no replica sees more
    than 10 connections from this process (or loop)."""
    lab = own_cluster
    replicas = lab.replicas()
    assert replicas, "the cluster lab has no replicas"
    name = f"pools{next(_names)}"
    location, n = lab.url, 200

    options = {"read_from_replicas": True, "pool": {
        "socket_timeout": 2.0, "max_connections": BOUND, "pool_timeout": 5.0,
        "client_name": name}}

    def reader() -> RedisCache:
        return RedisCache(location, {"OPTIONS": options})

    writer = bounded(location, f"{name}w")
    writer.set_many({f"{name}:{i}": i for i in range(n)}, 60)
    wait_replicas_announced(lab)  # else the driver's client never reads from replicas
    for node in lab.primaries():
        node.execute("WAIT", 1, 2000)
    if flavour == "threads":
        reader().get("warm")
    with Peak(replicas, name) as peak:
        for node in replicas:
            client_pause(node, 300, "ALL")
        if flavour == "threads":
            errors = burst_sync(reader, n, 50, prefix=name, read=True)
        else:
            errors = asyncio.run(burst_async(reader, n, prefix=name, read=True))
        time.sleep(0.05)
    print(f"\n[measure] cluster replica reads {flavour}: {len(errors)} errors, peak "
          f"{peak.peak} connections per replica (bound {BOUND})")
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
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


@pytest.mark.parametrize("driver", ["redis", "valkey"])
@pytest.mark.parametrize("kind", ["sentinel", "cluster-replica-reads"])
def test_full_sentinel_or_cluster_client_pool_raises_pool_exhausted(kind: str, driver: str
                                                                     ) -> None:
    """Sentinel's pool and the Cluster client's gate say the same as a single server's pool
    when full, with either driver: PoolExhausted naming the pool, its size and the wait."""
    lab = labs.lab(kind.split("-")[0], labs.flavor_for(driver))
    backend = ValkeyCache if driver == "valkey" else RedisCache
    name = f"pools{next(_names)}"
    options: dict[str, Any] = {"pool": {"socket_timeout": 3.0, "max_connections": 2,
                                        "pool_timeout": 0.2, "client_name": name}}
    if kind == "sentinel":
        nodes, mode, label = [lab.primary_node], "WRITE", "sentinel service 'mymaster' primary"
    else:
        wait_replicas_announced(lab)
        options["read_from_replicas"] = True
        # every node holds all commands: the gate fills whichever node the driver picks
        nodes, mode, label = lab.nodes, "ALL", "cluster client (replica reads)"

    def cache() -> RedisCache:
        return backend(lab.url, {"OPTIONS": options})

    cache().set_many({f"{name}:{i}": i for i in range(12)}, 60)
    for node in lab.primaries() if kind != "sentinel" else []:
        node.execute("WAIT", 1, 2000)
    cache().get(f"{name}:0")  # the driver's cluster client reads its slot map at creation
    for node in nodes:
        client_pause(node, 1500, mode)
    errors = burst_sync(cache, 12, 12, prefix=name, read=kind != "sentinel")
    exhausted = [e for e in errors if isinstance(e, PoolExhausted)]
    assert exhausted and len(exhausted) == len(errors), [repr(e) for e in errors]
    text = str(exhausted[0])
    assert label in text and "max_connections'] = 2" in text and "0.2s" in text, text
    assert exhausted[0].size == 2 and exhausted[0].waited == 0.2


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
        # 4 keys on each shard whatever ports the lab got, interleaved node by node
        keys = [k for row in zip(*keys_per_node(probe, 4, "m").values()) for k in row]
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
