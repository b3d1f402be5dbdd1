"""Reads and writes while a slot migrates, key by key (GitHub issue 4).

A slot is marked MIGRATING/IMPORTING and its keys are MIGRATEd a few at a time. At every step
``get``, ``get_many``, ``set_many`` and ``delete_many`` (and their async twins) on keys of that
slot, mixed with keys of other slots, must give the right answer: the source answers ASK for
keys already moved, TRYAGAIN for a multi-key command whose keys are split between the nodes,
and cachex must re-run those key by key. After ``finish()`` the source answers MOVED and the
slot map must follow.

redis-py's own ``RedisCluster.mget_nonatomic`` is run at every step as a baseline; its
failures are printed (run with ``-s``), never asserted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from cachex.testing import Cluster, Server, SlotMigration

from .conftest import DRIVERS, build, keys_in_slot, slot_of

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
STEP = 3  # keys moved per step
IN_SLOT = 10  # keys of the migrating slot


class Scene:
    """One migration under way: the slot's keys, keys elsewhere, and what each should hold."""

    def __init__(self, lab: Cluster, cache: Any, slot: int) -> None:
        self.lab, self.cache, self.slot = lab, cache, slot
        self.moving = keys_in_slot(cache, slot, IN_SLOT, prefix=f"mig{slot}")
        self.others = [k for k in (f"other{slot}:{i}" for i in range(40))
                       if slot_of(cache, k) != slot]
        self.fresh = keys_in_slot(cache, slot, 40, prefix=f"new{slot}")  # never set before
        self.expected: dict[str, Any] = {}
        self.source: Server = lab.slot_owner(slot)
        self.target: Server = next(p for p in lab.primaries() if p is not self.source)
        self.migration: SlotMigration | None = None
        self.baseline_errors: Counter[str] = Counter()
        self.baseline_runs = 0

    @property
    def keys(self) -> list[str]:
        """Slot keys interleaved with other keys, so every request mixes both kinds."""
        out: list[str] = []
        for i, key in enumerate(self.moving):
            out += [key, *self.others[i * 4:i * 4 + 4]]
        return out

    def begin(self) -> None:
        self.migration = self.lab.begin_slot_migration(self.slot, self.target)

    def move_some(self) -> bool:
        assert self.migration is not None
        left = {k.decode() for k in self.migration.keys_left()}
        todo = [self.cache.make_key(k) for k in self.moving if self.cache.make_key(k) in left]
        self.migration.move_keys(todo[:STEP])
        return bool(todo[STEP:])

    def where(self, key: str) -> list[str]:
        """Which of source/target really hold ``key`` (asked with plain connections)."""
        made = self.cache.make_key(key)
        out = []
        for node in (self.source, self.target):
            with node.client() as direct:
                pipe = direct.pipeline(transaction=False)
                pipe.execute_command("ASKING")  # the target answers for an importing slot so
                pipe.exists(made)  # (the source answers ASK for a key it does not hold)
                if pipe.execute(raise_on_error=False)[1] == 1:
                    out.append(node.name)
        return out

    def split(self) -> tuple[int, int]:
        """(keys of the slot on the source, on the target)."""
        places = [self.where(k) for k in self.moving + self.fresh if k in self.expected]
        assert all(len(p) == 1 for p in places), f"a key is in two places or none: {places}"
        return (sum(p == [self.source.name] for p in places),
                sum(p == [self.target.name] for p in places))

    def baseline(self) -> None:
        """redis-py's own cluster client on the same keys (recorded, not asserted)."""
        rc = self.lab.client()
        self.baseline_runs += 1
        try:
            rc.mget_nonatomic([self.cache.make_key(k) for k in self.keys])
        except Exception as exc:
            self.baseline_errors[f"{type(exc).__name__}: {str(exc)[-40:]}"] += 1
        finally:
            rc.close()

    def report(self, label: str) -> None:
        errors = sum(self.baseline_errors.values())
        print(f"[migration] {label}: redis-py RedisCluster.mget_nonatomic raised in {errors} of "
              f"{self.baseline_runs} steps {dict(self.baseline_errors)}")


def check_sync(scene: Scene, step: int) -> None:
    cache, keys = scene.cache, scene.keys
    assert cache.get_many(list(scene.expected)) == scene.expected, f"get_many at step {step}"
    for key in scene.moving:
        assert cache.get(key) == scene.expected.get(key), f"get {key} at step {step}"
    fresh: dict[str, Any] = {k: f"{k}@{step}" for k in keys}
    fresh[scene.fresh[step]] = step  # a key of the slot that no node holds yet
    cache.set_many(fresh)
    scene.expected.update(fresh)
    assert cache.get_many(list(scene.expected)) == scene.expected, f"after set_many {step}"
    assert cache.get(scene.fresh[step]) == step
    doomed = [scene.moving[step % IN_SLOT], scene.moving[(step + 5) % IN_SLOT], scene.others[step]]
    cache.delete_many(doomed)
    for key in doomed:
        del scene.expected[key]
    assert cache.get_many(list(scene.expected)) == scene.expected, f"after delete_many {step}"
    assert cache.get(doomed[0]) is None
    cache.set_many({k: f"{k}@{step}" for k in doomed})  # back, for the next step to move
    scene.expected.update({k: f"{k}@{step}" for k in doomed})
    scene.split()


async def check_async(scene: Scene, step: int) -> None:
    cache, keys = scene.cache, scene.keys
    assert await cache.aget_many(list(scene.expected)) == scene.expected, f"aget_many {step}"
    for key in scene.moving:
        assert await cache.aget(key) == scene.expected.get(key), f"aget {key} at step {step}"
    fresh: dict[str, Any] = {k: f"{k}@a{step}" for k in keys}
    fresh[scene.fresh[step]] = step
    await cache.aset_many(fresh)
    scene.expected.update(fresh)
    assert await cache.aget_many(list(scene.expected)) == scene.expected, f"after aset_many {step}"
    assert await cache.aget(scene.fresh[step]) == step
    doomed = [scene.moving[step % IN_SLOT], scene.moving[(step + 5) % IN_SLOT], scene.others[step]]
    await cache.adelete_many(doomed)
    for key in doomed:
        del scene.expected[key]
    assert await cache.aget_many(list(scene.expected)) == scene.expected, f"after adelete {step}"
    assert await cache.aget(doomed[0]) is None
    await cache.aset_many({k: f"{k}@a{step}" for k in doomed})
    scene.expected.update({k: f"{k}@a{step}" for k in doomed})
    scene.split()


def check_map_follows(scene: Scene) -> None:
    """After finish(): one request meets MOVED, the next one uses the refreshed map."""
    made = scene.cache.make_key(scene.moving[1])
    topology = scene.cache._topology
    scene.cache.get_many(scene.keys)
    scene.cache.get(scene.moving[1])
    assert topology.locate(made) == scene.target.address


@pytest.mark.parametrize("driver", DRIVERS)
def test_sync_api_through_a_slot_migration(make_cache: Any, lab: Cluster, driver: str) -> None:
    cache = build(make_cache, lab, driver)
    scene = Scene(lab, cache, slot=1000 + DRIVERS.index(driver))
    scene.expected = {k: f"{k}@start" for k in scene.keys}
    cache.set_many(scene.expected)
    scene.begin()
    step, more = 0, True
    splits = []
    while more:
        check_sync(scene, step)
        scene.baseline()
        splits.append(scene.split())
        more = scene.move_some()
        step += 1
    check_sync(scene, step)  # every key moved, slot still migrating
    assert scene.split()[0] == 0
    assert any(s > 0 and t > 0 for s, t in splits), f"never split between nodes: {splits}"
    assert scene.migration is not None
    scene.migration.finish()
    check_sync(scene, step + 1)
    check_map_follows(scene)
    scene.report(f"sync {driver}")


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_async_api_through_a_slot_migration(make_cache: Any, lab: Cluster,
                                                  driver: str) -> None:
    cache = build(make_cache, lab, driver)
    scene = Scene(lab, cache, slot=2000 + DRIVERS.index(driver))
    scene.expected = {k: f"{k}@start" for k in scene.keys}
    await cache.aset_many(scene.expected)
    scene.begin()
    step, more = 0, True
    while more:
        await check_async(scene, step)
        more = scene.move_some()
        step += 1
    await check_async(scene, step)
    assert scene.migration is not None
    scene.migration.finish()
    await check_async(scene, step + 1)
    await cache.aget_many(scene.keys)
    await cache.aget(scene.moving[1])
    assert cache._topology.locate(cache.make_key(scene.moving[1])) == scene.target.address
    await cache.adisconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_concurrent_async_reads_of_a_migrating_slot(make_cache: Any, lab: Cluster,
                                                          driver: str) -> None:
    """Several tasks of one event loop read keys of the slot while half of them have moved:
    each read that meets ASK must still return its value."""
    cache = build(make_cache, lab, driver)
    scene = Scene(lab, cache, slot=3000 + DRIVERS.index(driver))
    data = {k: f"{k}!" for k in scene.moving}
    await cache.aset_many(data)
    scene.begin()
    assert scene.migration is not None
    scene.migration.move_keys([cache.make_key(k) for k in scene.moving[:IN_SLOT // 2]])

    got = await asyncio.gather(*(cache.aget(k) for k in scene.moving), return_exceptions=True)
    assert got == [data[k] for k in scene.moving]
    many = await asyncio.gather(*(cache.aget_many(scene.moving) for _ in range(4)),
                                return_exceptions=True)
    assert many == [data] * 4
    scene.migration.finish()
    await cache.adisconnect()
