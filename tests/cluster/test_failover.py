"""Primaries changing under cachex (GitHub issue 4): CLUSTER FAILOVER, and SIGKILL of a primary
followed by the cluster's own failover.

Correctness is asserted: the values read are the values written, and once the new primary
serves the slots every operation succeeds. The longest stall and the errors a steady caller saw
while the failover ran are measured with the default OPTIONS and printed (run with ``-s``),
never asserted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from cachex.exceptions import CachexError
from cachex.testing import Cluster, Server, cluster
from tests import labs
from tests.faults._util import SETTLE, Rider
from tests.faults._util import ride_async as aride_loop
from tests.faults._util import ride_sync as ride_loop

from .conftest import DRIVERS, build, one_key_per_slot, slot_of, wait_replicated

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A cluster of the test's own (these tests change roles or kill nodes), of the flavour
    the test's ``driver`` meets."""
    with cluster(flavor=labs.flavor_for(labs.driver_of(request))) as own:
        yield own


def keys_on(lab: Cluster, cache: Any, node: Server, count: int, prefix: str) -> list[str]:
    """``count`` cache keys whose slots ``node`` serves."""
    ranges = next(e.slots for e in lab.view().values() if e.port == node.port)
    out: list[str] = []
    i = 0
    while len(out) < count:
        key = f"{prefix}:{i}"
        slot = slot_of(cache, key)
        if any(lo <= slot <= hi for lo, hi in ranges):
            out.append(key)
        i += 1
    return out


class Scene:
    """Data over every slot, plus keys of the primary that is about to go."""

    def __init__(self, lab: Cluster, cache: Any) -> None:
        self.lab, self.cache = lab, cache
        self.victim = lab.primaries()[0]
        self.spread = one_key_per_slot(cache, "fo")[::64]  # 256 keys, every node
        self.mine = keys_on(lab, cache, self.victim, 20, "victim")
        self.data: dict[str, Any] = {k: f"{k}=v" for k in self.spread + self.mine}

    def address_of(self, key: str) -> str:
        return str(self.cache._topology.locate(self.cache.make_key(key)))


def check_sync(scene: Scene, new: Server, round_: str, n: int = 0) -> None:
    cache, data = scene.cache, scene.data
    assert cache.get(scene.mine[0]) == data[scene.mine[0]]
    assert cache.get_many(list(data)) == data
    cache.set(scene.mine[1], round_)
    data[scene.mine[1]] = round_
    update = {k: f"{k}={round_}" for k in scene.mine[2:8] + scene.spread[:20]}
    cache.set_many(update)
    data.update(update)
    assert cache.get_many(list(data)) == data
    assert cache.get(scene.mine[1]) == round_
    cache.delete_many(scene.mine[8:10])
    for key in scene.mine[8:10]:
        data.pop(key, None)
    assert cache.get_many(scene.mine) == {k: data[k] for k in scene.mine if k in data}
    versioned = scene.mine[10 + n]
    assert cache.incr_version(versioned) == 2
    assert cache.get(versioned, version=2) == data.pop(versioned)
    with new.client() as direct:  # the writes really landed on the new primary
        assert direct.exists(cache.make_key(scene.mine[1])) == 1
    assert scene.address_of(scene.mine[0]) == new.address  # the slot map followed


async def check_async(scene: Scene, new: Server, round_: str) -> None:
    cache, data = scene.cache, scene.data
    assert await cache.aget(scene.mine[0]) == data[scene.mine[0]]
    assert await cache.aget_many(list(data)) == data
    await cache.aset(scene.mine[1], round_)
    data[scene.mine[1]] = round_
    update = {k: f"{k}={round_}" for k in scene.mine[2:8] + scene.spread[:20]}
    await cache.aset_many(update)
    data.update(update)
    assert await cache.aget_many(list(data)) == data
    await cache.adelete_many(scene.mine[8:10])
    for key in scene.mine[8:10]:
        data.pop(key, None)
    assert await cache.aget_many(scene.mine) == {k: data[k] for k in scene.mine if k in data}
    with new.client() as direct:
        assert direct.exists(cache.make_key(scene.mine[1])) == 1
    assert scene.address_of(scene.mine[0]) == new.address


def prepared(make_cache: Any, lab: Cluster, driver: str) -> Scene:
    cache = build(make_cache, lab, driver)
    scene = Scene(lab, cache)
    cache.set_many(scene.data)
    wait_replicated(lab)  # nothing acknowledged is lost when a replica takes over
    assert cache.get_many(list(scene.data)) == scene.data  # the slot map is loaded
    return scene


# ------------------------------------------------------------------ CLUSTER FAILOVER


@pytest.mark.parametrize("driver", DRIVERS)
def test_operations_after_cluster_failover_sync(make_cache: Any, lab: Cluster,
                                                driver: str) -> None:
    scene = prepared(make_cache, lab, driver)
    new = lab.failover(scene.victim)
    assert new is not scene.victim and scene.victim in lab.replicas()
    check_sync(scene, new, "after")
    check_sync(scene, new, "again", 1)


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_operations_after_cluster_failover_async(make_cache: Any, lab: Cluster,
                                                       driver: str) -> None:
    scene = prepared(make_cache, lab, driver)
    new = await asyncio.to_thread(lab.failover, scene.victim)
    await check_async(scene, new, "after")
    await check_async(scene, new, "again")
    await scene.cache.adisconnect()


# ------------------------------------------------------------------ SIGKILL


def kill_and_replace(lab: Cluster, victim: Server) -> Server:
    victim.kill()
    return lab.wait_for_new_primary(victim, timeout=60)


@pytest.mark.parametrize("driver", DRIVERS)
def test_operations_once_a_killed_primary_is_replaced_sync(make_cache: Any, lab: Cluster,
                                                           driver: str) -> None:
    """No request between the kill and the promotion: the first requests afterwards still
    hold a slot map naming the dead node, and must succeed all the same."""
    scene = prepared(make_cache, lab, driver)
    new = kill_and_replace(lab, scene.victim)
    failures = []
    for name, operation in [
        ("get_many", lambda: scene.cache.get_many(list(scene.data))),
        ("set_many", lambda: scene.cache.set_many({k: 1 for k in scene.mine[:3]})),
        ("delete_many", lambda: scene.cache.delete_many(scene.mine[3:5])),
        ("get", lambda: scene.cache.get(scene.mine[6])),
    ]:
        try:
            operation()
        except CachexError as exc:
            failures.append(f"{name}: {exc}")
    assert failures == []
    for key in scene.mine[3:5]:
        del scene.data[key]
    scene.data.update({k: 1 for k in scene.mine[:3]})
    check_sync(scene, new, "after")


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_operations_once_a_killed_primary_is_replaced_async(make_cache: Any, lab: Cluster,
                                                                  driver: str) -> None:
    scene = prepared(make_cache, lab, driver)
    assert await scene.cache.aget_many(list(scene.data)) == scene.data  # loop's clients ready
    new = await asyncio.to_thread(kill_and_replace, lab, scene.victim)
    failures = []
    for name, operation in [
        ("aget_many", lambda: scene.cache.aget_many(list(scene.data))),
        ("aset_many", lambda: scene.cache.aset_many({k: 1 for k in scene.mine[:3]})),
        ("adelete_many", lambda: scene.cache.adelete_many(scene.mine[3:5])),
        ("aget", lambda: scene.cache.aget(scene.mine[6])),
    ]:
        try:
            await operation()
        except CachexError as exc:
            failures.append(f"{name}: {exc}")
    assert failures == []
    for key in scene.mine[3:5]:
        del scene.data[key]
    scene.data.update({k: 1 for k in scene.mine[:3]})
    await check_async(scene, new, "after")
    await scene.cache.adisconnect()


# ------------------------------------------------------------------ riding through


@dataclass
class Ride(Rider):
    """What a steady caller saw while a fault ran (and after it completed)."""

    ok: int = 0
    ok_after: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    errors_after: list[str] = field(default_factory=list, repr=False)
    wrong: int = 0
    longest_stall: float = 0.0
    first_error: float | None = None
    last_error: float | None = None

    def on_ok(self, now: float, last_ok: float, i: int, result: Any, done: bool) -> None:
        self.ok += 1
        self.ok_after += done
        self.longest_stall = max(self.longest_stall, now - last_ok)
        self.wrong += not result

    def on_error(self, exc: BaseException, now: float, i: int, done: bool) -> None:
        self.errors[type(exc).__name__] += 1
        self.first_error = self.first_error or now
        self.last_error = now
        if done:
            self.errors_after.append(str(exc))

    def summary(self, label: str) -> str:
        window = (self.last_error or 0) - (self.first_error or 0)
        return (f"[failover] {label}: longest stall {self.longest_stall:.3f}s, caller-visible "
                f"errors {sum(self.errors.values())} {dict(self.errors)} over {window:.3f}s, "
                f"ok rounds {self.ok}, wrong values {self.wrong}")


BUDGET = 30.0


def one_round(scene: Scene, i: int) -> bool:
    """set + get of a key on the victim, and a get_many over every node; True if all right."""
    cache = scene.cache
    cache.set(scene.mine[0], i)
    got = cache.get(scene.mine[0])
    many = cache.get_many(scene.spread)
    return bool(got == i and many == {k: scene.data[k] for k in scene.spread})


async def one_round_async(scene: Scene, i: int) -> bool:
    cache = scene.cache
    await cache.aset(scene.mine[0], i)
    got = await cache.aget(scene.mine[0])
    many = await cache.aget_many(scene.spread)
    return bool(got == i and many == {k: scene.data[k] for k in scene.spread})


def ride_sync(scene: Scene, fault: Callable[[], Server]) -> tuple[Ride, Server]:
    ride = Ride()
    new = ride_loop(ride, fault, lambda i: one_round(scene, i), budget=BUDGET)
    return ride, new


async def ride_async(scene: Scene, fault: Callable[[], Server]) -> tuple[Ride, Server]:
    ride = Ride()
    new = await aride_loop(ride, fault, lambda i: one_round_async(scene, i), budget=BUDGET)
    return ride, new


def check_ride(ride: Ride, label: str) -> None:
    print(ride.summary(label))
    assert ride.ok_after >= SETTLE, (f"the caller did not resume after the failover: {ride}, "
                                     f"errors after: {ride.errors_after[:2]}")
    assert ride.errors_after == [], (f"{len(ride.errors_after)} operations failed after the new "
                                     f"primary was up, first: {ride.errors_after[:2]}")
    assert ride.wrong == 0


FAULTS = {
    "cluster-failover": lambda lab, victim: lab.failover(victim),
    "sigkill": kill_and_replace,
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("driver", DRIVERS)
def test_ride_through_failover_sync(make_cache: Any, lab: Cluster, driver: str,
                                    fault: str) -> None:
    scene = prepared(make_cache, lab, driver)
    ride, new = ride_sync(scene, lambda: FAULTS[fault](lab, scene.victim))
    check_ride(ride, f"sync {driver} {fault}")
    assert scene.address_of(scene.mine[0]) == new.address


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("driver", DRIVERS)
async def test_ride_through_failover_async(make_cache: Any, lab: Cluster, driver: str,
                                           fault: str) -> None:
    scene = prepared(make_cache, lab, driver)
    ride, new = await ride_async(scene, lambda: FAULTS[fault](lab, scene.victim))
    check_ride(ride, f"async {driver} {fault}")
    assert scene.address_of(scene.mine[0]) == new.address
    await scene.cache.adisconnect()


@pytest.mark.parametrize("driver", DRIVERS)
def test_ride_through_sigkill_with_a_circuit_breaker(make_cache: Any, lab: Cluster,
                                                     driver: str) -> None:
    """A user who turns the breaker on for a cluster: the dead primary's circuit opens during
    the failover, and must not go on refusing its slots once another node serves them."""
    cache = build(make_cache, lab, driver, failover={"threshold": 3, "cooldown": 10.0})
    scene = Scene(lab, cache)
    cache.set_many(scene.data)
    wait_replicated(lab)
    ride, new = ride_sync(scene, lambda: kill_and_replace(lab, scene.victim))
    check_ride(ride, f"sync {driver} sigkill, breaker threshold 3, cooldown 10 s")
    assert scene.address_of(scene.mine[0]) == new.address
