"""OPTIONS["wait_replicas"]: writes to the primary come back only once replicas have them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cachex.backends.redis import RedisCache
from cachex.backends.valkey import ValkeyCache
from tests import labs

BACKENDS = {"redis": RedisCache, "valkey": ValkeyCache}


def waits(server: Any) -> int:
    stats = server.client().info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("driver", ["redis", "valkey"])
def test_every_write_waits_and_the_replica_has_it(driver: str, mode: str) -> None:
    primary, replica = labs.lab("replicated")
    cache = BACKENDS[driver]([primary.url, replica.url], {
        "KEY_PREFIX": f"wait-{driver}-{mode}",
        "OPTIONS": {"topology": "replicated", "wait_replicas": {"count": 1, "timeout": 1}}})
    on_replica = replica.client()
    before = waits(primary)

    def check(i: int) -> None:  # read the replica directly, right after the write returned
        assert on_replica.get(cache.make_key(f"k{i}")) == str(i).encode()

    if mode == "sync":
        for i in range(200):
            cache.set(f"k{i}", i)
            check(i)
        cache.set_many({f"m{i}": i for i in range(50)})
    else:
        async def run() -> None:
            for i in range(200):
                await cache.aset(f"k{i}", i)
                check(i)
            await cache.aset_many({f"m{i}": i for i in range(50)})
        asyncio.run(run())
    assert on_replica.get(cache.make_key("m49")) == b"49"
    assert cache.get_many([f"m{i}" for i in range(50)]) == {f"m{i}": i for i in range(50)}
    # one WAIT per single-key write and one per pipelined batch; none for reads
    assert waits(primary) - before == 201


def test_without_the_option_nothing_waits() -> None:
    primary, replica = labs.lab("replicated")
    cache = RedisCache([primary.url, replica.url], {"KEY_PREFIX": "nowait",
                                                    "OPTIONS": {"topology": "replicated"}})
    before = waits(primary)
    for i in range(20):
        cache.set(f"k{i}", i)
    assert waits(primary) == before


@pytest.mark.parametrize(
    ("location", "options", "needle"),
    [
        ("redis://127.0.0.1:6379/0", {"wait_replicas": 1}, "needs replicas"),
        (["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"], {"wait_replicas": 1},
         "needs replicas"),
        (["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"],
         {"topology": "replicated", "wait_replicas": 0}, "count >= 1"),
        (["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"],
         {"topology": "replicated", "wait_replicas": {"count": 1, "timeout": -1}}, "timeout"),
        (["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"],
         {"topology": "replicated", "wait_replicas": {"replicas": 1}}, "unknown"),
    ],
)
def test_bad_wait_replicas(location: Any, options: dict[str, Any], needle: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        RedisCache(location, {"OPTIONS": options})
    assert needle in str(info.value)
