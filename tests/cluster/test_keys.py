"""The Django cache API on a real cluster (GitHub issue 4): keys in every slot, hash tags,
``incr_version`` across nodes, node-grouped multi-key reads, ``clear`` and replica reads.

"Where a value really is" is always checked against the servers themselves: a plain
(non-cluster) connection to the owning node, CLUSTER NODES/GETKEYSINSLOT, INFO commandstats,
and redis-py's own cluster client. None of it goes through cachex.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from typing import Any

import pytest
from redis.crc import key_slot as redis_key_slot

from cachex.routing import SLOTS
from cachex.testing import Cluster

from .conftest import (
    DRIVERS,
    build,
    command_calls,
    dbsize,
    node_at,
    one_key_per_slot,
    port_of,
    reset_stats,
    slot_of,
    slot_owners,
    wait_replicated,
)

pytestmark = pytest.mark.timeout(180)


def check_placement(lab: Cluster, cache: Any, keys: list[str], data: dict[str, Any]) -> None:
    """Key ``i`` (slot ``i``) is on the node cachex's slot map names, which is the node the
    cluster names, and nowhere else; redis-py's cluster client reads the same values back."""
    owners = slot_owners(lab)
    topology = cache._topology
    rc = lab.client()
    by_port: dict[int, list[tuple[str, str]]] = {}
    for slot, key in enumerate(keys):
        made = cache.make_key(key)
        assert redis_key_slot(made.encode()) == slot
        assert port_of(topology.locate(made)) == owners[slot], f"cachex map wrong for {slot}"
        assert rc.get_node_from_key(made).port == owners[slot]
        by_port.setdefault(owners[slot], []).append((key, made))
    assert len(by_port) == 3
    for port, pairs in by_port.items():
        node = node_at(lab, port)
        with node.client() as direct:  # a plain connection: a wrong node would answer MOVED
            pipe = direct.pipeline(transaction=False)
            for _, made in pairs:
                pipe.get(made)
            raw = pipe.execute()
        assert [pickle.loads(r) for r in raw] == [data[key] for key, _ in pairs]
        assert dbsize(node) == len(pairs)  # nothing else landed there
    made_all = [cache.make_key(k) for k in keys]
    back = rc.mget_nonatomic(made_all)
    assert [pickle.loads(r) for r in back if r is not None] == [data[k] for k in keys]
    rc.close()


def total_keys(lab: Cluster) -> int:
    return sum(dbsize(p) for p in lab.primaries())


# ------------------------------------------------------------------ 1. every slot


@pytest.mark.parametrize("driver", DRIVERS)
def test_keys_in_all_16384_slots_sync(make_cache: Any, lab: Cluster, driver: str) -> None:
    cache = build(make_cache, lab, driver)
    keys = one_key_per_slot(cache)
    data = {key: f"value-{slot}" for slot, key in enumerate(keys)}

    cache.set_many(data, timeout=600)
    check_placement(lab, cache, keys, data)
    assert [cache.get(k) for k in keys] == [data[k] for k in keys]
    assert cache.get_many(keys) == data
    assert cache.get_many([*keys[::1000], "never-set"]) == {k: data[k] for k in keys[::1000]}

    cache.delete_many(keys)
    assert total_keys(lab) == 0
    assert cache.get_many(keys) == {}


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_keys_in_all_16384_slots_async(make_cache: Any, lab: Cluster, driver: str) -> None:
    cache = build(make_cache, lab, driver)
    keys = one_key_per_slot(cache)
    data = {key: f"avalue-{slot}" for slot, key in enumerate(keys)}

    await cache.aset_many(data, timeout=600)
    check_placement(lab, cache, keys, data)
    got: list[Any] = []
    for start in range(0, SLOTS, 64):  # several single-key reads in flight at once
        chunk = keys[start:start + 64]
        got += await asyncio.gather(*(cache.aget(k) for k in chunk))
    assert got == [data[k] for k in keys]
    assert await cache.aget_many(keys) == data
    assert cache.get_many(keys) == data  # the sync side sees the same

    await cache.adelete_many(keys)
    assert total_keys(lab) == 0
    assert await cache.aget_many(keys) == {}
    await cache.adisconnect()


# ------------------------------------------------------------------ 3. node-grouped reads


def spread_keys(cache: Any) -> list[str]:
    """1,000 keys over every node: 900 plain ones, and 10 hash tags of 10 keys each (so
    several keys share a slot and must travel in one MGET)."""
    plain = [f"spread:{i}" for i in range(900)]
    tagged = [f"spread:{{tag{t}}}:{i}" for t in range(10) for i in range(10)]
    return plain + tagged


def expected_mgets(lab: Cluster, cache: Any, keys: list[str]) -> dict[int, int]:
    """Per primary port: how many distinct slots of ``keys`` it owns."""
    owners = slot_owners(lab)
    slots: dict[int, set[int]] = {}
    for key in keys:
        slot = slot_of(cache, key)
        slots.setdefault(owners[slot], set()).add(slot)
    return {port: len(s) for port, s in slots.items()}


def check_grouped(lab: Cluster, cache: Any, keys: list[str]) -> None:
    expected = expected_mgets(lab, cache, keys)
    assert len(expected) == 3  # every primary serves some of them
    assert sum(expected.values()) < len(keys)  # some slots hold several keys
    for primary in lab.primaries():
        assert command_calls(primary, "mget") == expected[primary.port], primary.name
        assert command_calls(primary, "get") == 0, f"{primary.name} got per-key GETs"


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_aget_many_1000_keys_is_one_mget_per_slot(make_cache: Any, lab: Cluster,
                                                         driver: str) -> None:
    cache = build(make_cache, lab, driver)
    keys = spread_keys(cache)
    data = {key: i for i, key in enumerate(keys)}
    await cache.aset_many(data)
    await cache.aget("warm-up")  # the slot map is fetched before the counters start
    reset_stats(lab.primaries())

    wanted = [*keys, "absent-1", "absent-2"]
    assert await cache.aget_many(wanted) == data

    check_grouped(lab, cache, wanted)
    await cache.adisconnect()


@pytest.mark.parametrize("driver", DRIVERS)
def test_get_many_1000_keys_is_one_mget_per_slot(make_cache: Any, lab: Cluster,
                                                 driver: str) -> None:
    cache = build(make_cache, lab, driver)
    keys = spread_keys(cache)
    data = {key: str(i) for i, key in enumerate(keys)}
    cache.set_many(data)
    reset_stats(lab.primaries())
    assert cache.get_many(keys) == data
    check_grouped(lab, cache, keys)


def test_get_many_of_every_slot_sends_one_mget_per_slot(make_cache: Any, lab: Cluster) -> None:
    cache = build(make_cache, lab, "redis")
    keys = one_key_per_slot(cache, "every")
    cache.set_many(dict.fromkeys(keys, 1))
    reset_stats(lab.primaries())
    assert cache.get_many(keys) == dict.fromkeys(keys, 1)
    owners = slot_owners(lab)
    for primary in lab.primaries():
        assert command_calls(primary, "mget") == owners.count(primary.port)
        assert command_calls(primary, "get") == 0


# ------------------------------------------------------------------ 2. hash tags, incr_version


@pytest.mark.parametrize("driver", DRIVERS)
def test_hash_tagged_keys_share_one_slot_and_node(make_cache: Any, lab: Cluster,
                                                  driver: str) -> None:
    cache = build(make_cache, lab, driver)
    cache.set_many({"user:{42}:a": "A", "user:{42}:b": "B", "user:{43}:a": "other"})
    a, b = cache.make_key("user:{42}:a"), cache.make_key("user:{42}:b")
    slot = redis_key_slot(b"42")  # only the tag is hashed
    assert slot_of(cache, "user:{42}:a") == slot_of(cache, "user:{42}:b") == slot
    owner = lab.slot_owner(slot)
    assert cache._topology.locate(a) == owner.address
    in_slot = owner.execute("CLUSTER", "GETKEYSINSLOT", slot, 10)
    assert sorted(in_slot) == sorted([a, b])

    reset_stats(lab.primaries())
    assert cache.get_many(["user:{42}:a", "user:{42}:b"]) == {"user:{42}:a": "A",
                                                             "user:{42}:b": "B"}
    assert command_calls(owner, "mget") == 1  # both keys in one MGET
    assert sum(command_calls(p, "mget") for p in lab.primaries()) == 1
    cache.delete_many(["user:{42}:a", "user:{42}:b"])
    assert owner.execute("CLUSTER", "COUNTKEYSINSLOT", slot) == 0


def find_version_key(lab: Cluster, cache: Any, case: str) -> str:
    """A key whose version-1 and version-2 made keys are placed as ``case`` says."""
    owners = slot_owners(lab)
    for i in range(100_000):
        key = f"user:{{{i}}}:profile" if case == "same-slot" else f"ver:{i}"
        s1, s2 = slot_of(cache, key, 1), slot_of(cache, key, 2)
        placed = ("same-slot" if s1 == s2 else
                  "same-node" if owners[s1] == owners[s2] else "other-node")
        if placed == case:
            return key
    raise AssertionError(f"no key found for {case}")


VERSION_CASES = ["other-node", "same-node", "same-slot"]


def check_versioned(lab: Cluster, cache: Any, key: str, case: str, ttl_s: int | None) -> None:
    old, new = cache.make_key(key, version=1), cache.make_key(key, version=2)
    owners = slot_owners(lab)
    old_node = node_at(lab, owners[slot_of(cache, key, 1)])
    new_node = node_at(lab, owners[slot_of(cache, key, 2)])
    with old_node.client() as direct:
        assert direct.exists(old) == 0  # the old version is gone
    with new_node.client() as direct:
        assert direct.get(new) is not None  # the new version is where the map says
        pttl = direct.pttl(new)
    if ttl_s is None:
        assert pttl == -1  # still persistent
    else:
        assert (ttl_s - 30) * 1000 < pttl <= ttl_s * 1000  # the expiry came along
    moved_by = "rename" if case == "same-slot" else "restore"
    assert command_calls(new_node, moved_by) == 1


@pytest.mark.parametrize("case", VERSION_CASES)
@pytest.mark.parametrize("driver", DRIVERS)
def test_incr_version_sync(make_cache: Any, lab: Cluster, driver: str, case: str) -> None:
    cache = build(make_cache, lab, driver)
    key = find_version_key(lab, cache, case)
    cache.set(key, {"name": "ada"}, timeout=500)
    reset_stats(lab.primaries())
    assert cache.incr_version(key) == 2
    check_versioned(lab, cache, key, case, 500)
    assert cache.get(key, version=2) == {"name": "ada"}
    assert cache.get(key) is None

    cache.set(key, "forever", timeout=None)
    cache.delete(key, version=2)
    reset_stats(lab.primaries())
    assert cache.incr_version(key) == 2
    check_versioned(lab, cache, key, case, None)
    assert cache.get(key, version=2) == "forever"

    with pytest.raises(ValueError):
        cache.incr_version("never-set-" + key)


@pytest.mark.asyncio
@pytest.mark.parametrize("case", VERSION_CASES)
@pytest.mark.parametrize("driver", DRIVERS)
async def test_incr_version_async(make_cache: Any, lab: Cluster, driver: str,
                                  case: str) -> None:
    cache = build(make_cache, lab, driver)
    key = find_version_key(lab, cache, case)
    await cache.aset(key, [1, 2, 3], timeout=400)
    reset_stats(lab.primaries())
    assert await cache.aincr_version(key) == 2
    check_versioned(lab, cache, key, case, 400)
    assert await cache.aget(key, version=2) == [1, 2, 3]
    assert await cache.aget(key) is None
    with pytest.raises(ValueError):
        await cache.aincr_version("never-set-" + key)
    await cache.adisconnect()


# ------------------------------------------------------------------ 7. clear, replica reads


@pytest.mark.parametrize("driver", DRIVERS)
def test_clear_empties_every_primary(make_cache: Any, lab: Cluster, driver: str) -> None:
    cache = build(make_cache, lab, driver)
    keys = one_key_per_slot(cache, "clear")
    cache.set_many(dict.fromkeys(keys, "x"))
    lab.client().set("not-from-cachex", "y")  # clear() empties the whole db, as Django's does
    assert all(dbsize(p) > 5000 for p in lab.primaries())

    cache.clear()
    assert [dbsize(p) for p in lab.primaries()] == [0, 0, 0]
    wait_replicated(lab)
    assert [dbsize(r) for r in lab.replicas()] == [0, 0, 0]
    assert cache.get_many(keys) == {}


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_aclear_empties_every_primary(make_cache: Any, lab: Cluster, driver: str) -> None:
    cache = build(make_cache, lab, driver)
    keys = one_key_per_slot(cache, "aclear")
    await cache.aset_many(dict.fromkeys(keys, "x"))
    await cache.aclear()
    assert [dbsize(p) for p in lab.primaries()] == [0, 0, 0]
    assert await cache.aget_many(keys[::100]) == {}
    await cache.adisconnect()


def wait_replicas_announced(lab: Cluster) -> None:
    """Redis 7 leaves a replica out of CLUSTER SLOTS until it has a non-zero replication
    offset (seen through gossip): write to every primary, then wait until every slot range
    lists its replica. A cluster client built before that never reads from replicas."""
    client = lab.client()
    for i in range(30):
        client.set(f"announce:{i}", i)
    client.close()
    end = time.monotonic() + 20
    while time.monotonic() < end:
        views = [node.execute("CLUSTER", "SLOTS") for node in lab.nodes]
        if all(len(ranges) == 3 and all(len(entry) >= 4 for entry in ranges)
               for ranges in views):
            return
        time.sleep(0.05)
    raise AssertionError(f"replicas never appeared in CLUSTER SLOTS: {views}")


@pytest.mark.parametrize("driver", DRIVERS)
def test_read_from_replicas_reads_single_keys_on_replicas(make_cache: Any, lab: Cluster,
                                                          driver: str) -> None:
    wait_replicas_announced(lab)
    cache = build(make_cache, lab, driver, read_from_replicas=True)
    keys = [f"replica-read:{i}" for i in range(30)]
    cache.set_many({k: i for i, k in enumerate(keys)})
    wait_replicated(lab)
    nodes = lab.nodes
    reset_stats(nodes)

    reads = 4
    for _ in range(reads):
        assert [cache.get(k) for k in keys] == list(range(30))

    replica_gets = sum(command_calls(r, "get") for r in lab.replicas())
    primary_gets = sum(command_calls(p, "get") for p in lab.primaries())
    print(f"[read_from_replicas] {driver}: GET on replicas {replica_gets}, "
          f"on primaries {primary_gets}")
    assert replica_gets > 0, "no single-key read reached a replica"
    assert replica_gets + primary_gets == reads * len(keys)
    for replica in lab.replicas():
        assert command_calls(replica, "get") > 0, f"{replica.name} served no read"

    cache.set("replica-write", "w")  # writes still go to the primary
    assert cache.get_many(["replica-write"]) == {"replica-write": "w"}


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_read_from_replicas_reads_single_keys_on_replicas_async(
        make_cache: Any, lab: Cluster, driver: str) -> None:
    wait_replicas_announced(lab)
    cache = build(make_cache, lab, driver, read_from_replicas=True)
    keys = [f"areplica-read:{i}" for i in range(30)]
    await cache.aset_many({k: i for i, k in enumerate(keys)})
    wait_replicated(lab)
    reset_stats(lab.nodes)
    for _ in range(4):
        assert [await cache.aget(k) for k in keys] == list(range(30))
    replica_gets = sum(command_calls(r, "get") for r in lab.replicas())
    primary_gets = sum(command_calls(p, "get") for p in lab.primaries())
    print(f"[read_from_replicas] async {driver}: GET on replicas {replica_gets}, "
          f"on primaries {primary_gets}")
    assert replica_gets > 0
    assert replica_gets + primary_gets == 4 * len(keys)
    await cache.adisconnect()


def moved_replies(nodes: list[Any]) -> int:
    """MOVED errors the nodes answered since their last CONFIG RESETSTAT."""
    total = 0
    for node in nodes:
        entry = node.execute("INFO", "errorstats").get("errorstat_MOVED")
        total += int(entry["count"]) if entry else 0
    return total


@pytest.mark.parametrize("bounded", [False, True], ids=["unbounded", "max_connections"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_concurrent_first_replica_reads_are_routed_by_slot(make_cache: Any, lab: Cluster,
                                                           driver: str, bounded: bool) -> None:
    """100 replica reads issued at once on a fresh event loop, before the driver's cluster
    client has initialised: each goes to its slot's node. (redis-py 8 routed the ones issued
    during initialisation as keyless, to a primary answering MOVED, and after a few MOVEDs
    closed every connection under the other callers.)"""
    wait_replicas_announced(lab)
    pool = {"max_connections": 10, "pool_timeout": 5.0} if bounded else {}
    cache = build(make_cache, lab, driver, read_from_replicas=True, pool=pool)
    keys = [f"first-read:{i}" for i in range(100)]
    cache.set_many({k: i for i, k in enumerate(keys)})
    wait_replicated(lab)
    reset_stats(lab.nodes)

    async def burst() -> list[Any]:
        return await asyncio.gather(*(cache.aget(k) for k in keys), return_exceptions=True)

    assert asyncio.run(burst()) == list(range(100))
    assert moved_replies(lab.nodes) == 0


def test_reads_stay_on_primaries_by_default(make_cache: Any, lab: Cluster) -> None:
    cache = build(make_cache, lab, "redis")
    keys = [f"primary-read:{i}" for i in range(30)]
    cache.set_many(dict.fromkeys(keys, 1))
    wait_replicated(lab)
    reset_stats(lab.nodes)
    assert all(cache.get(k) == 1 for k in keys)
    assert sum(command_calls(r, "get") for r in lab.replicas()) == 0
    assert sum(command_calls(p, "get") for p in lab.primaries()) == len(keys)


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_many_concurrent_async_reads_on_one_node(make_cache: Any, lab: Cluster,
                                                       driver: str) -> None:
    """An ASGI process serves many requests on one loop: 300 reads in flight against one
    node must all be answered (queued for a connection if need be), not refused."""
    cache = build(make_cache, lab, driver)
    node = lab.primaries()[0]
    owners = slot_owners(lab)
    keys = [k for k in (f"busy:{{n{i}}}" for i in range(5000))
            if owners[slot_of(cache, k)] == node.port][:300]
    await cache.aset_many({k: k for k in keys})
    got = await asyncio.gather(*(cache.aget(k) for k in keys), return_exceptions=True)
    errors = [g for g in got if isinstance(g, Exception)]
    assert errors == [], f"{len(errors)} of {len(keys)} reads failed, first: {errors[:1]}"
    assert got == keys
    await cache.adisconnect()
