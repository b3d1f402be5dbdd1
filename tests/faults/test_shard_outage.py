"""Three shards, one SIGKILLed under sync and async load, in each failover mode.

raise:     only the dead node's keys fail; the others never notice.
fail_open: no exceptions at all; the dead node's keys read as misses, writes are dropped.
reroute:   every key keeps being served (the dead node's keys by the next node on the ring).
After a restart the node's circuit closes and its keys go back to it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cachex.exceptions import ConnectionFailed
from cachex.testing import Server, servers
from tests.faults._util import (
    Log,
    all_keys,
    async_load,
    identity,
    keys_per_node,
    make_cache,
    sync_load,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)
COOLDOWN = 0.5
MODES = ["raise", "fail_open", "reroute"]


@pytest.fixture
def shards() -> Iterator[list[Server]]:
    with servers(3) as nodes:
        yield nodes


def options(mode: str) -> dict[str, Any]:
    return {"failover": {"mode": mode, "threshold": 3, "cooldown": COOLDOWN}}


def check_outage(mode: str, log: Log, victim_keys: set[str], killed_at: float) -> None:
    print(f"\n[measure] {mode}: {log.summary()}")
    errors = log.errors()
    if mode == "raise":
        assert errors, "the dead node's keys must fail in raise mode"
        live_errors = [f"{r.op} {r.key} {r.error} at kill{r.started - killed_at:+.3f}s "
                       f"after {r.seconds:.3f}s" for r in errors if r.key not in victim_keys]
        assert not live_errors, f"a live node's key failed: {live_errors}"
        assert set(log.error_kinds()) <= {"ConnectionFailed", "NodeUnavailable"}
    else:
        assert not errors, f"{mode} must not raise: {log.error_kinds()}"
    late_victim_gets = [r for r in log.records if r.op == "get" and r.key in victim_keys
                        and r.started > killed_at + 0.2 and r.error is None]
    assert late_victim_gets or mode == "raise"
    if mode == "fail_open":  # misses: nothing answers for those keys
        assert all(r.result is None for r in late_victim_gets)
    if mode == "reroute":  # served: the load's own sets landed on the next node
        assert any(r.result is not None for r in late_victim_gets)


def check_return(cache: Any, victim: Server, victim_keys: set[str]) -> None:
    """After a restart: the circuit closes and the victim's keys are stored on it again."""
    victim.restart()
    key = sorted(victim_keys)[0]

    def lands_on_victim() -> bool:
        try:
            cache.set(key, "back")
        except ConnectionFailed:
            return False  # still cooling down (raise mode)
        return victim.client().get(cache.make_key(key)) is not None

    wait_until(lands_on_victim, 10, "writes to go back to the restarted node")
    for k in victim_keys:
        cache.set(k, "back")
        assert victim.client().get(cache.make_key(k)) is not None
        assert cache.get(k) == "back"
    assert cache.policy_stats()["circuit_closes"] >= 1


@pytest.mark.parametrize("mode", MODES)
def test_sigkill_under_sync_load(shards: list[Server], mode: str) -> None:
    location = [s.url for s in shards]
    cache = make_cache(location, **options(mode))
    victim = shards[1]
    groups = keys_per_node(cache, 15)
    victim_keys = set(groups[identity(victim)])
    keys = all_keys(groups.values())
    for k in keys:
        cache.set(k, k)

    log, stop = Log(), threading.Event()
    ops = {"get": lambda c, k, i: c.get(k), "set": lambda c, k, i: c.set(k, f"{k}:{i}"),
           "has_key": lambda c, k, i: c.has_key(k)}
    workers = sync_load(lambda: make_cache(location, **options(mode)), keys, ops,
                        threads=6, stop=stop, log=log)
    time.sleep(0.3)
    victim.kill()
    killed_at = time.monotonic()
    time.sleep(1.5)
    stop.set()
    for w in workers:
        w.join(10)

    check_outage(mode, log, victim_keys, killed_at)
    stats = cache.policy_stats()
    print(f"[measure] {mode} stats: {stats}")
    assert stats["circuit_opens"] >= 1
    assert stats["short_circuits"] > 0
    if mode == "fail_open":
        assert stats["fail_open"] > 0
    if mode == "reroute":
        assert stats["reroutes"] > 0
        for k in victim_keys:  # every key is served while the node is down
            cache.set(k, f"during:{k}")
            assert cache.get(k) == f"during:{k}"
    check_return(cache, victim, victim_keys)


@pytest.mark.parametrize("mode", MODES)
def test_sigkill_under_async_load(shards: list[Server], mode: str) -> None:
    # Live nodes get 5 s: a killed node refuses at once, so a short timeout buys nothing,
    # and an asyncio read times out whenever the whole loop stalls past it (a loaded
    # machine), even with the reply waiting in the socket.
    location = [s.url for s in shards]
    probe = make_cache(location, timeout=5, **options(mode))
    victim = shards[2]
    groups = keys_per_node(probe, 15)
    victim_keys = set(groups[identity(victim)])
    keys = all_keys(groups.values())
    log = Log()

    async def scenario() -> float:
        cache = make_cache(location, timeout=5, **options(mode))
        for k in keys:
            await cache.aset(k, k)
        stop = asyncio.Event()

        async def aget(c: Any, k: str, i: int) -> Any:
            return await c.aget(k)

        async def aset(c: Any, k: str, i: int) -> Any:
            return await c.aset(k, f"{k}:{i}")

        async def ahas_key(c: Any, k: str, i: int) -> Any:
            return await c.ahas_key(k)

        load = asyncio.create_task(async_load(
            lambda: make_cache(location, timeout=5, **options(mode)), keys,
            {"get": aget, "set": aset, "has_key": ahas_key}, tasks=12, stop=stop, log=log))
        await asyncio.sleep(0.3)
        victim.kill()
        killed_at = time.monotonic()
        await asyncio.sleep(1.5)
        stop.set()
        await load
        if mode == "reroute":
            for k in victim_keys:
                await cache.aset(k, f"during:{k}")
                assert await cache.aget(k) == f"during:{k}"
        return killed_at

    killed_at = asyncio.run(scenario())
    check_outage(mode, log, victim_keys, killed_at)
    stats = probe.policy_stats()
    print(f"[measure] {mode} async stats: {stats}")
    assert stats["circuit_opens"] >= 1
    check_return(probe, victim, victim_keys)


def test_fail_open_answers_with_djangos_miss_values(shards: list[Server]) -> None:
    location = [s.url for s in shards]
    cache = make_cache(location, **options("fail_open"))
    victim = shards[0]
    groups = keys_per_node(cache, 4)
    dead = groups[identity(victim)]
    live = [k for node, ks in groups.items() if node != identity(victim) for k in ks]
    for k in dead + live:
        cache.set(k, 1)
    victim.kill()
    k = dead[0]
    assert cache.get(k, "dflt") == "dflt"
    assert cache.set(k, 2) is None
    assert cache.add(k, 3) is False
    assert cache.delete(k) is False
    assert cache.has_key(k) is False
    assert cache.touch(k, 10) is False
    assert cache.touch(k, None) is False
    assert cache.get_or_set(k, "computed") == "computed"
    assert cache.get_many(dead + live) == dict.fromkeys(live, 1)
    failed = cache.set_many({key: 5 for key in dead + live})
    assert sorted(failed) == sorted(dead)  # Django: set_many returns the keys not stored
    assert cache.get_many(live) == dict.fromkeys(live, 5)
    assert cache.delete_many(dead + live) == len(live)  # the count; the dead node adds 0
    with pytest.raises(ConnectionFailed):  # the caller of incr must know
        cache.incr(k)
    with pytest.raises(ConnectionFailed):
        cache.incr_version(k)
    with pytest.raises(ConnectionFailed):
        cache.clear()

    async def async_side() -> None:
        assert await cache.aget(k, "dflt") == "dflt"
        assert await cache.aadd(k, 3) is False
        assert await cache.adelete(k) is False
        assert await cache.ahas_key(k) is False
        assert await cache.aget_many(dead + live) == {}
        assert sorted(await cache.aset_many({key: 6 for key in dead + live})) == sorted(dead)
        assert await cache.aget_many(live) == dict.fromkeys(live, 6)
        with pytest.raises(ConnectionFailed):
            await cache.aincr(k)

    asyncio.run(async_side())
    assert cache.policy_stats()["fail_open"] >= 15


def test_raise_mode_keeps_djangos_contract(shards: list[Server]) -> None:
    location = [s.url for s in shards]
    cache = make_cache(location, **options("raise"))
    victim = shards[0]
    groups = keys_per_node(cache, 3)
    dead = groups[identity(victim)]
    live = [k for node, ks in groups.items() if node != identity(victim) for k in ks]
    victim.kill()
    for op in (lambda: cache.get(dead[0]), lambda: cache.set(dead[0], 1),
               lambda: cache.get_many(dead + live), lambda: cache.set_many({dead[0]: 1})):
        with pytest.raises(ConnectionFailed):
            op()
    cache.set_many({k: 7 for k in live})
    assert cache.get_many(live) == dict.fromkeys(live, 7)


def test_reroute_serves_every_key_and_moves_only_the_dead_nodes(shards: list[Server]) -> None:
    location = [s.url for s in shards]
    cache = make_cache(location, **options("reroute"))
    victim = shards[0]
    groups = keys_per_node(cache, 10)
    dead = groups[identity(victim)]
    live = [k for node, ks in groups.items() if node != identity(victim) for k in ks]
    cache.set_many({k: "before" for k in dead + live})
    victim.kill()
    assert cache.get_many(live) == dict.fromkeys(live, "before")  # untouched
    assert cache.get_many(dead) == {}  # their values died with the node: misses, no errors
    assert cache.set_many({k: "during" for k in dead + live}) == []
    assert cache.get_many(dead + live) == dict.fromkeys(dead + live, "during")
    assert all(cache.get(k) == "during" for k in dead)
    assert cache.add(dead[0], "x") is False  # exists on its new node
    assert cache.delete(dead[0]) is True
    assert cache.add(dead[0], "x") is True
    with pytest.raises(ConnectionFailed):  # incr is not rerouted: the counter would restart
        cache.incr(dead[1])
    holders = {identity(s) for s in shards[1:]
               if any(s.client().exists(cache.make_key(k)) for k in dead)}
    assert len(holders) == 2, "ketama spreads a dead node's keys over the others"


def test_reroute_can_serve_stale_values_when_a_paused_node_returns(
        shards: list[Server]) -> None:
    """The documented risk: a node that was only unreachable (not restarted) comes back
    with the values it had; writes made meanwhile went to another node."""
    location = [s.url for s in shards]
    cache = make_cache(location, timeout=0.2,
                       failover={"mode": "reroute", "threshold": 1, "cooldown": 0.3})
    victim = shards[0]
    key = keys_per_node(cache, 1)[identity(victim)][0]
    cache.set(key, "v1")
    victim.pause()
    try:
        # A read times out and opens the circuit (and is answered by the next node: a miss).
        assert cache.get(key) is None
        cache.set(key, "v2")  # short-circuited: goes to the next node only
        assert cache.get(key) == "v2"
    finally:
        victim.resume()
    wait_until(lambda: cache.get(key) == "v1", 5, "the returning node to serve its old value")


@pytest.mark.parametrize("mode", MODES)
def test_first_multi_node_call_after_the_kill(shards: list[Server], mode: str) -> None:
    """The first call after the crash is a get_many over every node: the healthy path sends
    to all nodes before reading any reply, and one node's failure is handled on its own."""
    location = [s.url for s in shards]
    cache = make_cache(location, **options(mode))
    victim = shards[1]
    groups = keys_per_node(cache, 5)
    dead = groups[identity(victim)]
    live = [k for node, ks in groups.items() if node != identity(victim) for k in ks]
    cache.set_many({k: "v" for k in dead + live})
    victim.kill()
    assert not cache._router._suspects  # nothing failed yet: the healthy (overlapped) path
    if mode == "raise":
        with pytest.raises(ConnectionFailed):
            cache.get_many(dead + live)
    else:
        # fail_open: the dead node's keys are misses; reroute: they are misses on their
        # stand-in node (their values died with the node). No error either way.
        assert cache.get_many(dead + live) == dict.fromkeys(live, "v")
    assert cache.policy_stats()["retries"] >= 1
