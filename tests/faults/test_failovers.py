"""Sentinel and Cluster failovers under load, with a retry policy: callers of idempotent
operations see no error at all; the longest stall is measured and printed (``-s``).

The policy below retries every error class a failover produces (refused and reset
connections, READONLY from a demoted primary, CLUSTERDOWN/TRYAGAIN) for up to 15 s. The
failover options are left at their defaults, which for sentinel and cluster mean no circuit
breaker: a failover moves the role to another server, so there is no node to stop calling
(see docs/policies.md).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cachex.testing import Cluster, SentinelSet, cluster, sentinel
from tests.faults._util import Log, async_load, make_cache, sync_load

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

RIDE_THROUGH: dict[str, Any] = {
    "retry": {"attempts": 100, "backoff": 0.05, "max_backoff": 0.5, "deadline": 15,
              "on": ["connection", "timeout", "readonly", "cluster_down"]},
}
KEYS = [f"user:{i}" for i in range(50)]


def needs(module: str) -> Any:
    found = importlib.util.find_spec(f"cachex.topology.{module}") is not None
    return pytest.mark.skipif(not found, reason=f"cachex.topology.{module} is not there yet")


def sync_ops() -> dict[str, Callable[[Any, str, int], Any]]:
    return {"get": lambda c, k, i: c.get(k), "set": lambda c, k, i: c.set(k, i),
            "delete": lambda c, k, i: c.delete(k),
            "get_many": lambda c, k, i: c.get_many([k, "user:0"])}


def async_ops() -> dict[str, Callable[[Any, str, int], Any]]:
    async def get(c: Any, k: str, i: int) -> Any:
        return await c.aget(k)

    async def set_(c: Any, k: str, i: int) -> Any:
        return await c.aset(k, i)

    async def delete(c: Any, k: str, i: int) -> Any:
        return await c.adelete(k)

    async def get_many(c: Any, k: str, i: int) -> Any:
        return await c.aget_many([k, "user:0"])

    return {"get": get, "set": set_, "delete": delete, "get_many": get_many}


def ride_sync(location: str, fault: Callable[[], Any], what: str) -> Log:
    log, stop = Log(), threading.Event()
    workers = sync_load(lambda: make_cache(location, timeout=1.0, **RIDE_THROUGH), KEYS,
                        sync_ops(), threads=6, stop=stop, log=log, pause=0.005)
    time.sleep(0.5)
    started = time.monotonic()
    fault()
    took = time.monotonic() - started
    time.sleep(1.0)
    stop.set()
    for w in workers:
        w.join(30)
    print(f"\n[measure] {what} (sync, fault took {took:.1f}s): {log.summary()}")
    return log


def ride_async(location: str, fault: Callable[[], Any], what: str) -> Log:
    log = Log()

    async def scenario() -> float:
        stop = asyncio.Event()
        load = asyncio.create_task(async_load(
            lambda: make_cache(location, timeout=1.0, **RIDE_THROUGH), KEYS, async_ops(),
            tasks=12, stop=stop, log=log, pause=0.005))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await asyncio.to_thread(fault)
        took = time.monotonic() - started
        await asyncio.sleep(1.0)
        stop.set()
        await load
        return took

    took = asyncio.run(scenario())
    print(f"\n[measure] {what} (async, fault took {took:.1f}s): {log.summary()}")
    return log


# -- Sentinel --------------------------------------------------------------------------------
@pytest.fixture
def sentinel_set() -> Iterator[SentinelSet]:
    with sentinel() as lab:
        yield lab


@needs("sentinel")
@pytest.mark.parametrize("ride", [ride_sync, ride_async], ids=["sync", "async"])
def test_sentinel_failover_under_load(sentinel_set: SentinelSet, ride: Any) -> None:
    old = sentinel_set.primary_node
    log = ride(sentinel_set.url, sentinel_set.failover, "SENTINEL FAILOVER")
    assert sentinel_set.primary_node is not old
    assert len(log.records) > 100
    assert not log.errors(), log.error_kinds()


@needs("sentinel")
@pytest.mark.parametrize("ride", [ride_sync, ride_async], ids=["sync", "async"])
def test_sentinel_primary_killed_under_load(sentinel_set: SentinelSet, ride: Any) -> None:
    old = sentinel_set.primary_node

    def kill() -> None:
        old.kill()
        sentinel_set.wait_for_new_primary(old, 60)

    log = ride(sentinel_set.url, kill, "sentinel primary SIGKILL")
    assert len(log.records) > 100
    assert not log.errors(), log.error_kinds()


# -- Cluster ---------------------------------------------------------------------------------
@pytest.fixture
def cluster_lab() -> Iterator[Cluster]:
    with cluster() as lab:
        yield lab


def victim(lab: Cluster) -> Any:
    from cachex.routing import key_slot

    return lab.slot_owner(key_slot(KEYS[1]))


@needs("cluster")
@pytest.mark.parametrize("ride", [ride_sync, ride_async], ids=["sync", "async"])
def test_cluster_failover_under_load(cluster_lab: Cluster, ride: Any) -> None:
    primary = victim(cluster_lab)
    log = ride(cluster_lab.url, lambda: cluster_lab.failover(primary), "CLUSTER FAILOVER")
    assert victim(cluster_lab) is not primary
    assert len(log.records) > 100
    assert not log.errors(), log.error_kinds()


@needs("cluster")
@pytest.mark.parametrize("ride", [ride_sync, ride_async], ids=["sync", "async"])
def test_cluster_primary_killed_under_load(cluster_lab: Cluster, ride: Any) -> None:
    primary = victim(cluster_lab)

    def kill() -> None:
        primary.kill()
        cluster_lab.wait_for_new_primary(primary, 60)

    log = ride(cluster_lab.url, kill, "cluster primary SIGKILL")
    assert len(log.records) > 100
    assert not log.errors(), log.error_kinds()
