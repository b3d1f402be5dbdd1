"""Each stampede mode on every topology, sync (threads) and async (tasks): many callers hit
one key at the moment it needs recomputing, and the number of recomputations is counted.

Counts only, no timings: the short sleeps inside the computations only make the callers
overlap; the assertions hold however slow the machine is (the leases and waits are long).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cachex.stampede import envelope

TOPOLOGIES = ["single", "sharded", "cluster", "sentinel"]
CALLERS = 8
COMPUTE = 0.05  # makes the callers overlap the recomputation; never asserted on
OPTIONS = {
    "herd": {"mode": "herd", "grace": 30},
    # beta this large makes every caller "due" near expiry: the claim alone keeps it to one
    "early": {"mode": "early", "beta": 1000, "delta": 1},
    "lock": {"mode": "lock", "lease": 30, "wait": 30, "poll": 0.005},
}


def stored(cache: Any, key: str) -> Any:
    """The bytes stored for a cache key, read past the codec."""
    made = cache.make_key(key)
    return cache._topology.client(made, True).execute_command("GET", made)


def prepare(cache: Any, mode: str) -> None:
    """Put the key in the state where it needs recomputing: herd, soft-expired with its
    stale value still stored; early, close to expiry; lock, absent."""
    if mode == "herd":
        cache.set("hot", "stale", timeout=0.05)
        time.sleep(0.06)
        assert cache.has_key("hot")  # stale, still served within the grace
    elif mode == "early":
        cache.set("hot", "stale", timeout=20)
    else:
        cache.delete("hot")


def sync_callers(cache: Any, computes: list[int]) -> list[Any]:
    barrier = threading.Barrier(CALLERS)
    results: list[Any] = []
    errors: list[BaseException] = []

    def compute() -> str:
        computes.append(1)
        time.sleep(COMPUTE)
        return "fresh"

    def caller() -> None:
        try:
            barrier.wait()
            results.append(cache.get_or_set("hot", compute, timeout=20))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def async_callers(cache: Any, loop: asyncio.AbstractEventLoop, computes: list[int]
                  ) -> list[Any]:
    async def compute() -> str:
        computes.append(1)
        await asyncio.sleep(COMPUTE)
        return "fresh"

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(cache.aget_or_set("hot", compute, timeout=20)
                                           for _ in range(CALLERS))))

    return loop.run_until_complete(main())


@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize("mode", ["herd", "early", "lock"])
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_one_recomputation(make: Callable[..., Any], loop: asyncio.AbstractEventLoop,
                           topology: str, mode: str, how: str) -> None:
    cache = make(topology, "redis", OPTIONS={"stampede": OPTIONS[mode]})
    prepare(cache, mode)
    computes: list[int] = []
    if how == "sync":
        results = sync_callers(cache, computes)
    else:
        results = async_callers(cache, loop, computes)
    assert len(computes) == 1
    assert len(results) == CALLERS
    if mode == "lock":  # the waiters got the holder's value
        assert results == ["fresh"] * CALLERS
    else:  # the others kept the stale value meanwhile
        assert set(results) <= {"stale", "fresh"} and results.count("fresh") >= 1
    # get_many takes no part in the protocol: it reads what is stored
    assert cache.get_many(["hot"]) == {"hot": "fresh"}


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_without_protection_everyone_recomputes(make: Callable[..., Any],
                                                topology: str) -> None:
    """The baseline the test above is measured against: Django's get_or_set, and the
    per-call ``stampede=False`` on a protected alias, recompute once per caller."""
    cache = make(topology, "redis", OPTIONS={"stampede": OPTIONS["lock"]})
    cache.delete("hot")
    computes: list[int] = []
    barrier = threading.Barrier(CALLERS)

    def compute() -> str:
        computes.append(1)
        time.sleep(COMPUTE)
        return "fresh"

    def caller() -> None:
        barrier.wait()
        cache.get_or_set("hot", compute, timeout=20, stampede=False)

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(computes) > 1


@pytest.mark.parametrize("mode", ["herd", "early"])
def test_plain_get_then_set(make: Callable[..., Any], mode: str) -> None:
    """django-redis's herd pattern (get, on a miss compute and set): exactly one caller
    gets the miss; the others get the stale value."""
    cache = make("single", "redis", OPTIONS={"stampede": OPTIONS[mode]})
    prepare(cache, mode)
    got = [cache.get("hot") for _ in range(5)]
    assert got.count(None) == 1 and got.count("stale") == 4
    cache.set("hot", "fresh", timeout=20)
    assert cache.get("hot") == "fresh"


def test_per_call_modes(make: Callable[..., Any], loop: asyncio.AbstractEventLoop) -> None:
    """An alias without the option protects one call on request; a protected alias
    stores a plain value when the call turns protection off."""
    plain = make("single", "redis")
    computes: list[int] = []
    plain.delete("hot")
    barrier = threading.Barrier(CALLERS)

    def caller() -> None:
        barrier.wait()
        plain.get_or_set("hot", lambda: computes.append(1) or time.sleep(COMPUTE) or "v",
                         timeout=20, stampede={"mode": "lock", "poll": 0.005})

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(computes) == 1

    herd = make("single", "redis", OPTIONS={"stampede": {"mode": "herd"}})
    herd.get_or_set("off", "plain", timeout=20, stampede=False)
    herd.get_or_set("on", "wrapped", timeout=20)
    assert not envelope.is_wrapped(stored(herd, "off"))
    assert envelope.is_wrapped(stored(herd, "on"))
    with pytest.raises(ValueError, match="not a mode"):
        herd.get_or_set("x", 1, stampede="sometimes")


@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize("mode", ["herd", "lock"])
def test_valkey_driver(make: Callable[..., Any], loop: asyncio.AbstractEventLoop, mode: str,
                       how: str) -> None:
    cache = make("single", "valkey", OPTIONS={"stampede": OPTIONS[mode]})
    prepare(cache, mode)
    computes: list[int] = []
    if how == "sync":
        sync_callers(cache, computes)
    else:
        async_callers(cache, loop, computes)
    assert len(computes) == 1


def test_async_default_is_awaited_without_a_mode(make: Callable[..., Any],
                                                 loop: asyncio.AbstractEventLoop) -> None:
    cache = make("single", "redis")

    async def fetch() -> str:
        return "fetched"

    assert loop.run_until_complete(cache.aget_or_set("a", fetch, 30)) == "fetched"
    assert cache.get("a") == "fetched"
    with pytest.raises(TypeError, match="aget_or_set"):
        cache.get_or_set("b", fetch, 30)
    assert cache.get("b") is None
