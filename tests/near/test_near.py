"""The near cache on real servers: hits, invalidations from other clients, this process's
writes, flushes, server-side expiry, a lost channel; every topology, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cachex.backends.redis import RedisCache
from tests import labs
from tests.near.conftest import eventually, wait_ready, warm

TOPOLOGIES = ["single", "sharded", "cluster", "sentinel"]


def raw_client(topology: str) -> Any:
    """A plain redis-py client that writes behind cachex's back."""
    lab = labs.lab({"single": "single", "sharded": "shards", "cluster": "cluster",
                    "sentinel": "sentinel"}[topology])
    if topology == "sharded":
        return None
    if topology == "sentinel":
        return lab.primary_node.client()
    return lab.client()


def raw_set(cache: Any, topology: str, key: str, value: bytes) -> None:
    made = cache.make_key(key)
    if topology == "sharded":
        node = cache._topology.locate(made)
        host, _, port = node.rpartition(":")
        import redis

        redis.Redis(host=host, port=int(port)).set(made, value)
    else:
        raw_client(topology).set(made, value)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_hits_then_another_clients_write_is_seen(near_cache: Any, topology: str) -> None:
    cache = near_cache(topology)
    cache.set("k", 1)
    warm(cache, "k")
    assert cache.get("k") == 1
    stats = cache.near_stats()
    assert stats["hits"] >= 1 and stats["fills"] >= 1
    raw_set(cache, topology, "k", b"2")  # plain redis-py, not through cachex
    eventually(lambda: cache.get("k") == 2)
    assert cache.near_stats()["invalidations"] >= 1
    assert cache.get("k") == 2  # and stays so


@pytest.mark.parametrize("topology", ["single", "cluster"])
def test_async_reads_share_the_same_near_cache(near_cache: Any, topology: str) -> None:
    cache = near_cache(topology)
    cache.set_many({"a": "x", "b": "y"})
    warm(cache, "a", "b")

    async def main() -> None:
        assert await cache.aget_many(["a", "b"]) == {"a": "x", "b": "y"}
        hits = cache.near_stats()["hits"]
        assert await cache.aget("a") == "x"
        assert cache.near_stats()["hits"] == hits + 1
        raw_set(cache, topology, "a", b"3")
        for _ in range(2000):
            if await cache.aget("a") == 3:
                break
            await asyncio.sleep(0.005)
        assert await cache.aget("a") == 3

    asyncio.run(main())
    assert cache.get("a") == 3  # the sync side sees what the async side filled


def test_without_the_option_the_class_is_untouched(single_server: Any) -> None:
    plain = RedisCache(single_server.url, {})
    assert type(plain) is RedisCache and not hasattr(plain, "_near")


@pytest.mark.parametrize("topology", ["single", "cluster"])
def test_this_process_reads_its_own_writes_at_once(near_cache: Any, topology: str) -> None:
    cache = near_cache(topology)

    cache.set("k", 1)
    warm(cache, "k")
    cache.set("k", 2)
    assert cache.get("k") == 2
    warm(cache, "k")
    cache.incr("k", 5)
    assert cache.get("k") == 7
    warm(cache, "k")
    cache.delete("k")
    assert cache.get("k") is None
    cache.set_many({"a": 1, "b": 2})
    assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    cache.set_many({"a": 10, "b": 20})
    assert cache.get_many(["a", "b"]) == {"a": 10, "b": 20}
    warm(cache, "a")
    cache.delete_many(["a"])
    assert cache.get("a") is None and not cache.has_key("a")
    warm(cache, "b")
    cache.touch("b", 0)
    assert cache.get("b") is None
    cache.set("c", 1)
    warm(cache, "c")
    cache.expire("c", 0)
    assert cache.get("c") is None
    cache.set("d", 1)
    warm(cache, "d")
    cache.clear()
    assert cache.get("d") is None
    cache.set("e", 1, version=2)
    warm(cache, "e", version=2)
    cache.set("e", 3, 300, 2)  # the version passed by position
    assert cache.get("e", version=2) == 3

    async def main() -> None:
        await cache.aset("f", 1)
        warm(cache, "f")
        await cache.aset("f", 2)
        assert await cache.aget("f") == 2
        await cache.aincr("f")
        assert await cache.aget("f") == 3
        await cache.adelete("f")
        assert await cache.aget("f") is None

    asyncio.run(main())


@pytest.mark.parametrize("topology", ["single", "cluster"])
def test_flushall_elsewhere_and_clear_flush_the_near_cache(near_cache: Any,
                                                           topology: str) -> None:
    cache = near_cache(topology)
    cache.set("k", 1)
    warm(cache, "k")
    if topology == "cluster":
        for node in labs.lab("cluster").primaries():
            node.client().flushall()
    else:
        raw_client(topology).flushall()
    eventually(lambda: cache.get("k") is None)
    assert cache.near_stats()["flushes_flushdb"] >= 1  # the null invalidation, not a timeout


def test_a_value_is_never_served_past_the_servers_expiry(near_cache: Any) -> None:
    """With active expiry off, the server tells nobody that a key expired until someone
    touches it; the near cache must stop serving it at the TTL it read along."""
    cache = near_cache("single")
    server = labs.lab("single")
    server.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        cache.set("k", "v", timeout=0.5)
        warm(cache, "k")
        eventually(lambda: cache.get("k") is None, timeout=5)
        assert cache.near_stats()["expired"] == 1
    finally:
        server.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_a_returned_value_mutated_by_the_caller_does_not_change_the_cache(
        near_cache: Any) -> None:
    cache = near_cache("single")
    cache.set("d", {"a": [1]})
    warm(cache, "d")
    got = cache.get("d")
    got["a"].append(2)
    assert cache.get("d") == {"a": [1]}
    many = cache.get_many(["d"])
    many["d"]["a"].append(3)
    assert cache.get_many(["d"]) == {"d": {"a": [1]}}


def test_keys_outside_the_tracked_prefixes_are_never_kept(near_cache: Any) -> None:
    cache = near_cache("single", ready=False, prefixes=["elsewhere:"])
    cache.set("k", 1)
    for _ in range(3):
        assert cache.get("k") == 1
    assert cache.near_stats()["hits"] == 0 and cache.near_stats()["fills"] == 0


@pytest.mark.parametrize("topology", ["single", "sentinel"])
def test_a_lost_channel_flushes_and_the_cache_refills(near_cache: Any, topology: str
                                                      ) -> None:
    cache = near_cache(topology)
    cache.set("k", 1)
    warm(cache, "k")
    client = raw_client(topology)
    flushes = cache.near_stats()["flushes"]
    client.client_kill_filter(_type="pubsub")  # every subscriber: our channel among them
    eventually(lambda: cache.near_stats()["flushes"] > flushes)
    raw_set(cache, topology, "k", b"5")  # perhaps while no channel listens
    assert cache.get("k") == 5
    wait_ready(cache)
    fills = cache.near_stats()["fills"]
    eventually(lambda: cache.get("k") == 5 and cache.near_stats()["fills"] > fills)
    hits = cache.near_stats()["hits"]
    assert cache.get("k") == 5 and cache.near_stats()["hits"] == hits + 1


def test_near_stats_by_alias_and_in_the_stats_command(near_cache: Any) -> None:
    from cachex import stats
    from tests.ops._util import run

    cache = near_cache("single", max_entries=50)
    cache.set("k", "v")
    warm(cache, "k")
    cache.get("k")
    assert cache.near_stats()["hits"] >= 1
    assert stats.near(cache.alias)["hits"] >= cache.near_stats()["hits"]
    code, report = run("stats", labs.location("single"), {"near_cache": {"max_entries": 50}},
                       "--key-prefix", cache.key_prefix)
    assert code == 0 and report["near_cache"]["hits"] >= 1
    assert report["near_cache"]["channels_up"] >= 1


def test_get_or_set_answers_from_the_near_cache(near_cache: Any) -> None:
    cache = near_cache("single")
    calls = []
    assert cache.get_or_set("k", lambda: calls.append(1) or "v") == "v"
    warm(cache, "k")
    hits = cache.near_stats()["hits"]
    assert cache.get_or_set("k", "other") == "v"
    assert cache.near_stats()["hits"] == hits + 1 and calls == [1]

    async def main() -> None:
        assert await cache.aget_or_set("k", "other") == "v"

    asyncio.run(main())
    assert cache.near_stats()["hits"] == hits + 2


def test_a_forked_child_starts_with_an_empty_near_cache_and_its_own_channel(
        near_cache: Any) -> None:
    import multiprocessing

    cache = near_cache("single")
    cache.set("k", "v")
    warm(cache, "k")

    def child(out: Any) -> None:
        stats = cache.near_stats()
        fresh = stats["entries"] == 0 and stats["channels_up"] == 0
        warm(cache, "k")  # the child's own channel comes up and the child fills
        out.put((fresh, cache.near_stats()["fills"] >= 1, cache.get("k")))

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=child, args=(queue,))
    proc.start()
    got = queue.get(timeout=30)
    proc.join(10)
    assert got == (True, True, "v")
    assert cache.get("k") == "v" and cache.near_stats()["channels_up"] == 1


def test_a_read_that_raced_a_write_is_not_kept(near_cache: Any, monkeypatch: Any) -> None:
    """The GET's reply is in hand, another client writes the key and its invalidation is
    applied here before the reply is stored: the old reply must not be kept."""
    import time

    from cachex.near.core import NearCache

    cache = near_cache("single")
    cache.set("k", "old")
    time.sleep(0.2)  # the set's own invalidation is in
    original = NearCache.keep
    raced: list[int] = []

    def racing(self: NearCache, *args: Any) -> None:
        if not raced:
            raced.append(1)
            seq = self.store.seq
            raw_set(cache, "single", "k", b"5")
            eventually(lambda: self.store.seq != seq)  # the invalidation was applied
        original(self, *args)

    monkeypatch.setattr(NearCache, "keep", racing)
    assert cache.get("k") == "old"  # the racing read returns what it read...
    assert raced and cache.get("k") == 5  # ...but did not keep it


def test_memory_stays_bounded_reading_many_distinct_keys(near_cache: Any) -> None:
    cache = near_cache("single", max_entries=300, max_bytes=20_000)
    keys = [f"m{i}" for i in range(5000)]
    for i in range(0, len(keys), 500):
        cache.set_many({k: "x" * 40 for k in keys[i:i + 500]}, None)
    import time

    time.sleep(0.2)  # the writes' own invalidations are in
    for i in range(0, len(keys), 500):  # each key read once
        assert len(cache.get_many(keys[i:i + 500])) == 500
        stats = cache.near_stats()
        assert stats["entries"] <= 300 and stats["bytes"] <= 20_000
    for key in keys[:200]:
        assert cache.get(key) == "x" * 40
    stats = cache.near_stats()
    assert stats["fills"] > 300 and stats["evictions"] > 0
    assert stats["entries"] <= 300 and stats["bytes"] <= 20_000


def test_prometheus_shows_the_near_cache_counters(near_cache: Any) -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    cache = near_cache("single", options={"metrics": {"prometheus": {"registry": registry}}})
    cache.set("k", "v")
    warm(cache, "k")
    cache.get("k")
    text = generate_latest(registry).decode()
    hits = [line for line in text.splitlines()
            if line.startswith("cachex_near_events_total") and 'event="hits"' in line]
    assert hits and float(hits[0].rsplit(" ", 1)[1]) >= 1
    up = [line for line in text.splitlines()
          if line.startswith('cachex_near_size{alias="?",what="channels_up"}')]
    assert up and float(up[0].rsplit(" ", 1)[1]) >= 1


@pytest.mark.parametrize("topology", ["single", "cluster"])
def test_hot_batches_answered_locally_see_other_clients_writes(near_cache: Any,
                                                               topology: str) -> None:
    """A batch of hot keys is answered in process (the front); another client's write
    to one of them, or an expiry, stops that at once, sync and async."""
    cache = near_cache(topology)
    keys = [f"h{i}" for i in range(20)]
    cache.set_many(dict.fromkeys(keys, "old"), None)
    warm(cache, *keys)
    assert cache.get_many(keys) == dict.fromkeys(keys, "old")  # fills the front
    routed = cache._router.run
    cache._router.run = None  # every key is here: no call may reach the router
    try:
        assert cache.get_many(keys[5:] + keys[:5]) == dict.fromkeys(keys, "old")
        assert asyncio.run(cache.aget_many(keys)) == dict.fromkeys(keys, "old")
    finally:
        cache._router.run = routed
    raw_set(cache, topology, keys[3], b"7")
    eventually(lambda: cache.get_many(keys)[keys[3]] == 7)
    assert cache.get_many(keys) == {**dict.fromkeys(keys, "old"), keys[3]: 7}


def test_batch_reads_keep_djangos_key_rules(near_cache: Any) -> None:
    """Keys Django warns about warn on every read (never remembered); ``1`` and ``True``
    (equal dict keys) stay different cache keys, ``1`` and ``"1"`` the same one."""
    cache = near_cache("single")
    cache.set_many({"1": "str", True: "bool"}, None)
    for _ in range(3):
        assert cache.get_many(["1", True, "1"]) == {"1": "str", True: "bool"}
        assert cache.get(1) == "str" and cache.get(True) == "bool"
        assert cache.get_many([1]) == {1: "str"}
    cache.set("with space", "v")
    for _ in range(2):
        with pytest.warns(Warning, match="cause errors if used with memcached"):
            cache.get_many(["with space"])
        with pytest.warns(Warning, match="cause errors if used with memcached"):
            cache.get("with space")
