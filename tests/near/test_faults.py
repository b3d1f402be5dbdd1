"""Real faults while readers run: a shard SIGKILLed, a Sentinel failover, a Cluster failover
and a slot migration. After the event settles (a new value written and read back once), no
reader returns the value from before the event, and the near cache fills and hits again.

Each test has its own lab: these tests kill and promote servers.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cachex import testing
from cachex.backends.redis import RedisCache
from cachex.routing import key_slot
from tests.faults._util import keys_per_node
from tests.near.conftest import eventually, warm

_prefixes = itertools.count()


class Readers:
    """Threads reading ``keys`` in a loop; every read kept as (started, key, value)."""

    def __init__(self, cache: Any, keys: list[str], threads: int = 2) -> None:
        self.cache, self.keys = cache, keys
        self.reads: list[tuple[float, str, Any]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            for key in self.keys:
                started = time.monotonic()
                try:
                    value = self.cache.get(key)
                except Exception as exc:  # a dead node: an error, never an old value
                    value = type(exc).__name__
                self.reads.append((started, key, value))
            time.sleep(0.001)

    def __enter__(self) -> Readers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def old_after(self, settled: float, old: Any) -> list[tuple[float, str, Any]]:
        return [r for r in list(self.reads) if r[0] >= settled and r[2] == old]


def _near(location: Any, **options: Any) -> Any:
    opts = {"pool": {"socket_timeout": 1, "socket_connect_timeout": 1},
            "near_cache": {"max_entries": 1000}, **options}
    return RedisCache(location, {"KEY_PREFIX": f"faults{next(_prefixes)}", "OPTIONS": opts})


def _settle(cache: Any, keys: list[str], new: Any) -> float:
    """Until every key reads ``new``; the moment after which no reader may see older."""
    for key in keys:
        eventually(lambda key=key: _read(cache, key) == new, timeout=30)
    return time.monotonic()


def _wrote(cache: Any, data: dict[str, Any]) -> bool:
    try:
        return cache.set_many(data, None) == []
    except Exception:  # the node is back, its circuit not yet
        return False


def _read(cache: Any, key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:
        return None


def _refilled(cache: Any, keys: list[str]) -> None:
    warm(cache, *keys)
    hits = cache.near_stats()["hits"]
    for key in keys:
        cache.get(key)
    assert cache.near_stats()["hits"] >= hits + len(keys)


def test_a_shard_sigkilled_and_restarted(monkeypatch: Any) -> None:
    with testing.servers(3) as nodes:
        cache = _near([n.url for n in nodes])
        try:
            per_node = keys_per_node(cache, per_node=3)
            keys = [k for ks in per_node.values() for k in ks]
            cache.set_many(dict.fromkeys(keys, "old"), None)
            warm(cache, *keys)
            victim = nodes[0]
            lost = per_node[f"{victim.host}:{victim.port}"]
            with Readers(cache, keys) as readers:
                flushes = cache.near_stats()["flushes"]
                victim.kill()
                eventually(lambda: cache.near_stats()["flushes"] > flushes)
                down_since = time.monotonic()
                time.sleep(0.2)
                victim.restart()
                eventually(lambda: _wrote(cache, dict.fromkeys(keys, "new")), timeout=30)
                settled = _settle(cache, keys, "new")
                time.sleep(0.3)
            assert readers.old_after(settled, "old") == []
            # the dead shard's keys: errors, then the new value; never the one kept before
            assert [r for r in readers.reads if r[0] >= down_since and r[1] in lost
                    and r[2] == "old"] == []
            _refilled(cache, keys)
        finally:
            cache._near.close()


@pytest.fixture(scope="module")
def sentinel_lab() -> Iterator[Any]:
    with testing.sentinel() as lab:
        yield lab


def test_a_sentinel_failover(sentinel_lab: Any) -> None:
    cache = _near(sentinel_lab.url)
    try:
        keys = [f"s{i}" for i in range(5)]
        cache.set_many(dict.fromkeys(keys, "old"), None)
        warm(cache, *keys)
        with Readers(cache, keys) as readers:
            new_primary = sentinel_lab.failover()
            raw = new_primary.client()
            for key in keys:  # behind cachex's back, on the new primary
                raw.set(cache.make_key(key), b"7")
            settled = _settle(cache, keys, 7)
            time.sleep(0.3)
        assert readers.old_after(settled, "old") == []
        _refilled(cache, keys)
    finally:
        cache._near.close()


@pytest.fixture(scope="module")
def cluster_lab() -> Iterator[Any]:
    with testing.cluster() as lab:
        yield lab


def _cluster_keys(cache: Any, lab: Any) -> list[str]:
    """Two keys on every primary."""
    owners: dict[int, list[str]] = {}
    i = 0
    while len(owners) < len(lab.primaries()) or any(len(v) < 2 for v in owners.values()):
        key = f"c{i}"
        i += 1
        port = lab.slot_owner(key_slot(cache.make_key(key))).port
        if len(owners.setdefault(port, [])) < 2:
            owners[port].append(key)
    return [k for ks in owners.values() for k in ks]


def test_a_cluster_failover(cluster_lab: Any) -> None:
    cache = _near(cluster_lab.url)
    try:
        keys = _cluster_keys(cache, cluster_lab)
        cache.set_many(dict.fromkeys(keys, "old"), None)
        warm(cache, *keys)
        old = cluster_lab.slot_owner(key_slot(cache.make_key(keys[0])))
        with Readers(cache, keys) as readers:
            cluster_lab.failover(old)
            raw = cluster_lab.client()
            for key in keys:
                raw.set(cache.make_key(key), b"7")
            settled = _settle(cache, keys, 7)
            time.sleep(0.3)
        assert readers.old_after(settled, "old") == []
        _refilled(cache, keys)
    finally:
        cache._near.close()


def test_a_slot_migration(cluster_lab: Any) -> None:
    cache = _near(cluster_lab.url)
    try:
        keys = _cluster_keys(cache, cluster_lab)
        cache.set_many(dict.fromkeys(keys, "old"), None)
        warm(cache, *keys)
        moving = keys[0]
        slot = key_slot(cache.make_key(moving))
        source = cluster_lab.slot_owner(slot)
        target = next(p for p in cluster_lab.primaries() if p.port != source.port)
        with Readers(cache, keys) as readers:
            migration = cluster_lab.begin_slot_migration(slot, target)
            migration.finish()
            raw = cluster_lab.client()
            for key in keys:
                raw.set(cache.make_key(key), b"7")
            settled = _settle(cache, keys, 7)
            time.sleep(0.3)
        assert readers.old_after(settled, "old") == []
        _refilled(cache, keys)
    finally:
        cache._near.close()
