"""The replicated topology (Django's own multi-server semantics) on real servers: the first
URL is a primary, the others replicate it (``REPLICAOF``); writes go to the primary, reads to
a replica. Which server ran what is read from each server's ``INFO commandstats``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from cachex.testing import Server, flushall, servers

from .conftest import command_calls, reset_stats

pytestmark = pytest.mark.timeout(120)
DRIVERS = ["redis", "valkey"]


@pytest.fixture(scope="module")
def replicated_set() -> Iterator[list[Server]]:
    """server0 is the primary; server1 and server2 replicate it."""
    with servers(3) as nodes:
        primary, *replicas = nodes
        for replica in replicas:
            replica.execute("REPLICAOF", primary.host, primary.port)
        deadline = time.monotonic() + 30
        while not all(r.execute("INFO", "replication").get("master_link_status") == "up"
                      for r in replicas):
            assert time.monotonic() < deadline, "replicas did not sync with the primary"
            time.sleep(0.05)
        yield nodes


@pytest.fixture
def nodes(replicated_set: list[Server]) -> list[Server]:
    flushall(replicated_set[0])
    replicated(replicated_set)
    reset_stats(replicated_set)
    return replicated_set


def replicated(nodes: list[Server]) -> None:
    """Wait until every replica has what the primary has."""
    assert nodes[0].execute("WAIT", len(nodes) - 1, 5000) == len(nodes) - 1


def build(make_cache: Any, nodes: list[Server], driver: str, **options: Any) -> Any:
    return make_cache([n.url for n in nodes], driver,
                      OPTIONS={"topology": "replicated", **options})


@pytest.mark.parametrize("driver", DRIVERS)
def test_writes_on_the_primary_reads_on_replicas(make_cache: Any, nodes: list[Server],
                                                 driver: str) -> None:
    cache = build(make_cache, nodes, driver)
    primary, *replicas = nodes
    for i in range(40):
        cache.set(f"k{i}", i)
    cache.set_many({"a": 1, "b": 2})
    replicated(nodes)

    assert [cache.get(f"k{i}") for i in range(40)] == list(range(40))
    assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}

    assert command_calls(primary, "get") == command_calls(primary, "mget") == 0
    gets = [command_calls(r, "get") for r in replicas]
    assert sum(gets) == 40
    assert all(gets), f"a replica got no reads: {gets}"  # random spread over 40 reads
    assert sum(command_calls(r, "mget") for r in replicas) == 1
    # 42 SETs arrived from clients; the replicas only saw them replicated
    assert command_calls(primary, "set") == 42
    for replica in replicas:
        assert replica.client().get(cache.make_key("k0")) == b"0"


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_writes_on_the_primary_reads_on_replicas_async(make_cache: Any,
                                                             nodes: list[Server],
                                                             driver: str) -> None:
    cache = build(make_cache, nodes, driver)
    primary, *replicas = nodes
    for i in range(20):
        await cache.aset(f"k{i}", i)
    replicated(nodes)

    assert [await cache.aget(f"k{i}") for i in range(20)] == list(range(20))
    assert await cache.aget_many(["k1", "k2"]) == {"k1": 1, "k2": 2}
    assert await cache.ahas_key("k3")

    assert command_calls(primary, "get") == command_calls(primary, "exists") == 0
    assert sum(command_calls(r, "get") for r in replicas) == 20
    assert sum(command_calls(r, "exists") for r in replicas) == 1
    assert command_calls(primary, "set") == 20
    await cache.adisconnect()


def test_multi_step_writes_and_clear_run_on_the_primary(make_cache: Any,
                                                        nodes: list[Server]) -> None:
    cache = build(make_cache, nodes, "redis")
    primary, *replicas = nodes
    cache.set("n", 1)
    assert cache.incr("n", 5) == 6
    assert cache.incr_version("n") == 2  # RENAME on the primary, not on a replica
    assert cache.touch("n", 500, version=2) is True
    cache.delete_many(["nothing"])
    replicated(nodes)
    assert cache.get("n", version=2) == 6
    assert command_calls(primary, "rename") == 1
    cache.clear()
    assert command_calls(primary, "flushdb") == 1
    replicated(nodes)
    assert [r.client().dbsize() for r in replicas] == [0, 0]  # the replicas followed


def test_a_read_right_after_a_write_may_miss(make_cache: Any, nodes: list[Server]) -> None:
    """Replication is asynchronous. With the replicas cut off (standing for lag), a write is
    on the primary and invisible to reads until they catch up: Django's documented
    multi-server behaviour, not a cachex bug."""
    cache = build(make_cache, nodes, "redis")
    primary, *replicas = nodes
    for replica in replicas:
        replica.execute("REPLICAOF", "NO", "ONE")  # cut the link: replicas stop following
    try:
        cache.set("late", "value")
        assert primary.client().get(cache.make_key("late")) is not None
        assert cache.get("late") is None
    finally:
        for replica in replicas:
            replica.execute("REPLICAOF", primary.host, primary.port)
        deadline = time.monotonic() + 30
        while not all(r.execute("INFO", "replication").get("master_link_status") == "up"
                      for r in replicas):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    replicated(nodes)
    assert cache.get("late") == "value"
