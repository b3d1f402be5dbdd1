"""Real faults while readers run: a shard SIGKILLed, a Sentinel failover, a Cluster failover
and a slot migration. After the event settles (a new value written and read back once), no
reader returns the value from before the event, and the near cache fills and hits again.
Each test also checks which mechanism flushed the near cache (its ``flushes_<reason>``
counters), so it fails if that mechanism is gone even when another happened to cover it.

Each test has its own lab: these tests kill and promote servers.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
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


def _flushes(cache: Any) -> dict[str, int]:
    return {k: v for k, v in cache.near_stats().items() if k.startswith("flushes_")}


def _through(cache: Any, keys: list[str], event: Callable[[], Any],
             write: Callable[[], Any], new: Any) -> tuple[Readers, dict[str, int]]:
    """Keys read in a loop while ``event`` happens and ``write`` then changes every key to
    ``new``; after that settles no reader sees "old", and the near cache fills and hits
    again. Returns the readers and how many flushes each mechanism made meanwhile."""
    cache.set_many(dict.fromkeys(keys, "old"), None)
    warm(cache, *keys)
    before = _flushes(cache)
    with Readers(cache, keys) as readers:
        event()
        write()
        settled = _settle(cache, keys, new)
        time.sleep(0.3)
    assert readers.old_after(settled, "old") == []
    _refilled(cache, keys)
    after = _flushes(cache)
    print(f"flushes during the event: {({k: after[k] - before[k] for k in after})}")
    return readers, {k[len("flushes_"):]: after[k] - before[k] for k in after}


def _raw_writes(cache: Any, client: Callable[[], Any], keys: list[str]) -> Callable[[], None]:
    """Writes ``7`` to every key behind cachex's back (plain redis-py)."""
    def write() -> None:
        raw = client()
        for key in keys:
            raw.set(cache.make_key(key), b"7")
    return write


def test_a_shard_sigkilled_and_restarted() -> None:
    """Flushed because the dead shard's channel was lost, and again when it came back."""
    with testing.servers(3) as nodes:
        cache = _near([n.url for n in nodes])
        try:
            per_node = keys_per_node(cache, per_node=3)
            keys = [k for ks in per_node.values() for k in ks]
            victim = nodes[0]
            lost = per_node[f"{victim.host}:{victim.port}"]
            down_since: list[float] = []

            def kill_and_restart() -> None:
                lost_before = _flushes(cache)["flushes_channel_lost"]
                victim.kill()
                eventually(lambda: _flushes(cache)["flushes_channel_lost"] > lost_before)
                down_since.append(time.monotonic())
                time.sleep(0.2)
                victim.restart()

            readers, flushed = _through(
                cache, keys, kill_and_restart,
                lambda: eventually(lambda: _wrote(cache, dict.fromkeys(keys, "new")),
                                   timeout=30), "new")
            assert flushed["channel_lost"] >= 1 and flushed["channel_up"] >= 1
            # the dead shard's keys: errors, then the new value; never the one kept before
            assert [r for r in readers.reads if r[0] >= down_since[0] and r[1] in lost
                    and r[2] == "old"] == []
        finally:
            cache._near.close()


def _module_lab(start: Callable[[], Any]) -> Any:
    """A lab of its own for this module's tests (they kill and promote its servers)."""
    @pytest.fixture(scope="module")
    def lab() -> Iterator[Any]:
        with start() as made:
            yield made
    return lab


sentinel_lab = _module_lab(testing.sentinel)
cluster_lab = _module_lab(testing.cluster)


def test_a_sentinel_failover(sentinel_lab: Any) -> None:
    """The demoted primary keeps its clients (and passes the new primary's writes on as
    invalidations); its channel notices the new ROLE and flushes."""
    cache = _near(sentinel_lab.url)
    try:
        keys = [f"s{i}" for i in range(5)]
        primary: list[Any] = []

        def failover() -> None:
            role_before = _flushes(cache)["flushes_role"]
            primary.append(sentinel_lab.failover())
            eventually(lambda: _flushes(cache)["flushes_role"] > role_before)

        _, flushed = _through(cache, keys, failover,
                              _raw_writes(cache, lambda: primary[0].client(), keys), 7)
        assert flushed["role"] >= 1
    finally:
        cache._near.close()


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
    """The promoted replica takes the slots (a new owner) and the old primary leaves the
    map (its channel stopped)."""
    cache = _near(cluster_lab.url)
    try:
        keys = _cluster_keys(cache, cluster_lab)
        old = cluster_lab.slot_owner(key_slot(cache.make_key(keys[0])))
        _, flushed = _through(cache, keys, lambda: cluster_lab.failover(old),
                              _raw_writes(cache, cluster_lab.client, keys), 7)
        assert flushed["slots"] >= 1 and flushed["primaries"] >= 1
    finally:
        cache._near.close()


def test_a_slot_migration(cluster_lab: Any) -> None:
    """No channel is lost and no primary changes: the new slot owner is what flushes."""
    cache = _near(cluster_lab.url)
    try:
        keys = _cluster_keys(cache, cluster_lab)
        slot = key_slot(cache.make_key(keys[0]))
        source = cluster_lab.slot_owner(slot)
        target = next(p for p in cluster_lab.primaries() if p.port != source.port)
        _, flushed = _through(
            cache, keys, lambda: cluster_lab.begin_slot_migration(slot, target).finish(),
            _raw_writes(cache, cluster_lab.client, keys), 7)
        assert flushed["slots"] >= 1
    finally:
        cache._near.close()
