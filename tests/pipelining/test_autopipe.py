"""Async auto-pipelining (OPTIONS["pipelining"], GitHub issue 17) on real servers.

Concurrent single-key calls on one loop share one batch per node; each caller still gets its
own reply or its own error, a task's commands keep their order, a cancelled caller disturbs
nobody, a failed node fails only its own callers (non-idempotent commands not replayed), and
Cluster redirects during a batch are followed per key.

Every test checks, through a spy on the batch I/O (``Topology.aexecute_many``), that the
calls really were batched: without the feature the spy sees nothing and the test fails.
"""

from __future__ import annotations

import asyncio
import time
from _thread import get_ident
from collections.abc import Iterator
from typing import Any

import pytest

from cachex.exceptions import CachexError, WrongType
from cachex.testing import Server, client_pause, debug_sleep, servers
from cachex.topology.base import Topology
from tests import labs
from tests.faults._util import keys_per_node, make_cache

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """Every batch the pipeliner sends: a list of (node, commands) per flush."""
    seen: list[list[Any]] = []
    original = Topology.aexecute_many

    async def spy(self: Any, sent: Any) -> Any:
        seen.append([(node, list(cmds)) for node, cmds in sent])
        return await original(self, sent)

    monkeypatch.setattr(Topology, "aexecute_many", spy)
    return seen


def calls_in(cmds: list[Any]) -> int:
    """Callers served by one node's commands: a merged MGET serves one per key, and its
    transaction's MULTI, EXISTS and EXEC serve nobody."""
    return sum(len(c) - 1 if c[0] == "MGET" else 0 if c[0] in ("MULTI", "EXISTS", "EXEC")
               else 1 for c in cmds)


def commands_in(batches: list[list[Any]]) -> int:
    return sum(calls_in(cmds) for flush in batches for _, cmds in flush)


def mgets_in(batches: list[list[Any]]) -> list[tuple[Any, ...]]:
    return [c for flush in batches for _, cmds in flush for c in cmds if c[0] == "MGET"]


def piped(make_cache: Any, topology: str, **options: Any) -> Any:
    opts = {**labs.options(topology), "pipelining": True, **options}
    return make_cache(labs.location(topology), OPTIONS=opts, KEY_PREFIX=f"ap-{topology}")


@pytest.mark.parametrize("topology", ["single", "sharded", "cluster", "sentinel"])
def test_concurrent_calls_share_batches_and_keep_each_task_in_order(
        make_cache: Any, batches: list[list[Any]], topology: str) -> None:
    cache = piped(make_cache, topology)

    async def one_task(i: int) -> list[Any]:
        key = f"order:{i}"
        seen = [await cache.aset(key, i), await cache.aget(key), await cache.aincr(key, 10),
                await cache.ahas_key(key), await cache.atouch(key, 60),
                await cache.adelete(key), await cache.aget(key, "gone")]
        return seen

    async def main() -> list[list[Any]]:
        return await asyncio.gather(*[one_task(i) for i in range(100)])

    results = asyncio.run(main())
    for i, seen in enumerate(results):
        assert seen == [None, i, i + 10, True, True, True, "gone"], (i, seen)
    # 100 tasks x 7 calls: nearly all of them rode in shared batches
    assert commands_in(batches) > 500
    assert len(batches) < 100


def test_an_error_reply_mid_batch_fails_only_its_caller(make_cache: Any,
                                                        batches: list[list[Any]]) -> None:
    cache = piped(make_cache, "single")
    cache.set_many({f"ok:{i}": i for i in range(20)})
    labs.lab("single").client().rpush(cache.make_key("a-list"), b"x")

    async def main() -> list[Any]:  # fewer GETs than MERGE_AT: each one is sent as it is
        calls = [cache.ahas_key(f"ok:{i}") for i in range(10)]
        calls += [cache.aget("a-list")]
        calls += [cache.aincr(f"ok:{i}") for i in range(10, 20)]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[10], WrongType)
    assert results[:10] + results[11:] == [True] * 10 + list(range(11, 21))
    wrong = cache.make_key("a-list")
    assert any(("GET", wrong) in cmds and len(cmds) > 1
               for flush in batches for _, cmds in flush), "the bad GET was not mid-batch"


def test_merged_gets_answer_each_caller_exactly(make_cache: Any,
                                                batches: list[list[Any]]) -> None:
    """Concurrent GETs of one node go as one MGET; each caller still gets its own value,
    its own miss (default), and a GET of a list its own WRONGTYPE (MGET alone would have
    answered nil: the transaction's EXISTS gives it away); the others are not affected."""
    cache = piped(make_cache, "single")
    cache.set_many({f"m:{i}": {"n": i} for i in range(20)})
    cache.delete_many([f"gone:{i}" for i in range(5)])
    labs.lab("single").client().rpush(cache.make_key("m-list"), b"x")
    wanted = [f"m:{i}" for i in range(20)] + [f"gone:{i}" for i in range(5)] + ["m:3", "m:3"]

    async def flush(extra: list[str]) -> list[Any]:
        return await asyncio.gather(*[cache.aget(k, "miss") for k in wanted + extra],
                                    return_exceptions=True)

    expected = [{"n": i} for i in range(20)] + ["miss"] * 5 + [{"n": 3}, {"n": 3}]
    assert asyncio.run(flush([])) == expected
    assert len(batches) == 1 and mgets_in(batches), "the GETs were not merged"
    assert len(mgets_in(batches)[0]) - 1 == len(wanted) - 1  # all but the lone first call

    results = asyncio.run(flush(["m-list"]))
    assert isinstance(results[-1], WrongType)
    assert results[:-1] == expected
    assert len(mgets_in(batches)) == 2


def test_merged_gets_stay_within_one_slot_in_a_cluster(make_cache: Any,
                                                       batches: list[list[Any]]) -> None:
    cache = piped(make_cache, "cluster")
    tagged = [f"{{user:7}}:{i}" for i in range(12)]
    spread = [f"spread:{i}" for i in range(12)]
    cache.set_many({k: k for k in tagged + spread})

    async def main() -> list[Any]:
        return await asyncio.gather(*[cache.aget(k) for k in tagged + spread])

    assert asyncio.run(main()) == tagged + spread
    mgets = mgets_in(batches)
    assert len(mgets) == 1 and len(mgets[0]) - 1 >= len(tagged) - 1  # one slot's keys
    assert all("user:7" in key for key in mgets[0][1:])


def test_a_cancelled_caller_disturbs_nobody(make_cache: Any, batches: list[list[Any]]) -> None:
    cache = piped(make_cache, "single")
    cache.set_many({f"c:{i}": i for i in range(60)})
    node = labs.lab("single")

    async def main() -> None:
        client_pause(node, 300, "ALL")  # the batch sits at the server while we cancel
        tasks = [asyncio.ensure_future(cache.aget(f"c:{i}")) for i in range(60)]
        await asyncio.sleep(0)
        for task in tasks[::3]:  # some before the flush left, all while it waits
            task.cancel()
        await asyncio.sleep(0.05)
        for task in tasks[1::3]:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for i, result in enumerate(results):
            if i % 3 == 2:
                assert result == i
            else:
                assert isinstance(result, asyncio.CancelledError)
        # the connections are still sound: every reply lands with its own caller
        assert await asyncio.gather(*[cache.aget(f"c:{i}") for i in range(60)]) == list(
            range(60))

    asyncio.run(main())
    assert len(batches) >= 2 and max(commands_in([b]) for b in batches) > 30


def test_a_lone_call_goes_direct_and_its_concurrent_calls_queue(
        make_cache: Any, batches: list[list[Any]]) -> None:
    """A call alone on its loop runs in ``Router.acall`` as with the switch off, counted
    in the pipeliner's ``busy`` while in flight, so a concurrent call queues behind it; the
    count drops after a reply, an error reply and a cancellation alike (a count left
    behind would send every later call through the queue)."""
    cache = piped(make_cache, "single")
    busy = cache._router._pipeliner.busy
    cache.set("lone", 1)
    labs.lab("single").client().rpush(cache.make_key("lone-list"), b"x")

    async def main() -> None:
        assert await cache.aget("lone") == 1
        with pytest.raises(WrongType):
            await cache.aget("lone-list")
        client_pause(labs.lab("single"), 200, "ALL")  # the lone call waits at the server
        task = asyncio.ensure_future(cache.aget("lone"))
        await asyncio.sleep(0.05)
        assert busy[get_ident()] == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert busy[get_ident()] == 0
        assert await cache.aget("lone") == 1
        assert not batches, "a lone call went through a batch"
        # the first goes direct, the second finds it in flight and is queued
        assert await asyncio.gather(cache.aget("lone"), cache.aget("lone", "second")) == [
            1, 1]
        assert [[cmds for _, cmds in flush] for flush in batches] == [
            [[("GET", cache.make_key("lone"))]]]
        assert busy[get_ident()] == 0

    asyncio.run(main())


def test_a_flush_cancelled_before_it_ran_leaves_nothing_behind(
        make_cache: Any, batches: list[list[Any]]) -> None:
    """``asyncio.run`` cancels what is left when its main coroutine returns, a flush task
    that never started among them (its ``finally`` never runs): the thread's in-flight
    count and the loop's queue must still be dropped, or every later call on this thread
    would wait for a loop turn in a queue."""
    cache = piped(make_cache, "single")
    pipe = cache._router._pipeliner
    cache.set("left", 1)

    async def leave_early() -> list[Any]:  # no await: the loop stops before the flush runs
        return [asyncio.ensure_future(cache.aget("left")),  # alone: direct, counted
                asyncio.ensure_future(cache.aget("left"))]  # queued: its flush is created

    asyncio.run(leave_early())
    assert pipe.busy[get_ident()] == 0
    assert not pipe._pending

    async def alone() -> Any:
        return await cache.aget("left")

    assert asyncio.run(alone()) == 1
    assert not batches, "a lone call went through a batch"


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[list[Server]]:
    with servers(2) as started:
        yield started


def test_a_stalled_node_fails_only_its_callers_and_incr_is_not_replayed(
        two_nodes: list[Server], batches: list[list[Any]]) -> None:
    """One shard stalls (DEBUG SLEEP) while a batch of INCRs is on it: its callers time out
    and are not replayed although timeouts are retried (the server runs each INCR at most
    once when it wakes); the other shard's callers get their counts."""
    cache = make_cache([s.url for s in two_nodes], timeout=0.2, pipelining=True,
                       retry={"attempts": 5, "backoff": 0.05, "deadline": 5,
                              "on": ["connection", "timeout"]},
                       failover={"threshold": 0})
    per_node = keys_per_node(cache, 10, prefix="n")
    victim_node = next(iter(per_node))
    victim = next(s for s in two_nodes if s.address in str(victim_node))
    all_keys = [k for keys in per_node.values() for k in keys]
    for key in all_keys:
        cache.set(key, 0)
        cache.incr(key)  # the script is cached on both servers: the next INCR is the real one

    async def main() -> list[Any]:
        debug_sleep(victim, 0.8)
        return await asyncio.gather(*[cache.aincr(k) for k in all_keys],
                                    return_exceptions=True)

    results = asyncio.run(main())
    time.sleep(0.9)
    for key, result in zip(all_keys, results):
        if key in per_node[victim_node]:
            assert isinstance(result, CachexError), result
            # applied at most once (0 or 1 times, as the server saw the hang-up), never again
            assert int(victim.client().get(cache.make_key(key))) in (1, 2)
        else:
            assert result == 2
    assert commands_in(batches) >= len(all_keys) - 1


def test_a_killed_node_fails_only_its_callers(two_nodes: list[Server],
                                              batches: list[list[Any]]) -> None:
    cache = make_cache([s.url for s in two_nodes], timeout=1.0, pipelining=True,
                       failover={"threshold": 0})
    per_node = keys_per_node(cache, 10, prefix="k")
    victim_node = list(per_node)[1]
    victim = next(s for s in two_nodes if s.address in str(victim_node))
    all_keys = [k for keys in per_node.values() for k in keys]
    cache.set_many({k: k for k in all_keys})

    async def main() -> list[Any]:
        await asyncio.gather(*[cache.aget(k) for k in all_keys])  # connections open
        victim.pause()  # the batch reaches a hung node, which is then killed
        calls = asyncio.gather(*[cache.aget(k) for k in all_keys], return_exceptions=True)
        await asyncio.sleep(0.1)
        victim.kill()
        return await calls

    try:
        results = asyncio.run(main())
    finally:
        victim.restart()
    for key, result in zip(all_keys, results):
        if key in per_node[victim_node]:
            assert isinstance(result, CachexError), result
        else:
            assert result == key
    assert commands_in(batches) >= len(all_keys)


@pytest.mark.timeout(120)
def test_cluster_redirects_during_a_batch_are_followed_per_key(
        make_cache: Any, batches: list[list[Any]]) -> None:
    from cachex.testing import cluster
    from tests.cluster.conftest import keys_in_slot, slot_of

    with cluster() as lab:
        cache = make_cache(lab.url, OPTIONS={"pipelining": True})
        slot = slot_of(cache, "anchor")
        moving = keys_in_slot(cache, slot, 20, prefix="mv")
        others = [f"other:{i}" for i in range(40) if slot_of(cache, f"other:{i}") != slot]
        cache.set_many({k: k for k in moving + others})
        source = lab.slot_owner(slot)
        target = next(p for p in lab.primaries() if p is not source)
        migration = lab.begin_slot_migration(slot, target)
        migration.move_keys(10)  # half the slot's keys answer ASK from the source now

        async def read_all() -> list[Any]:
            return await asyncio.gather(*[cache.aget(k) for k in moving + others])

        assert asyncio.run(read_all()) == moving + others  # ASK, per key
        migration.finish()
        assert asyncio.run(read_all()) == moving + others  # MOVED, per key
        assert asyncio.run(read_all()) == moving + others  # the map followed
    assert commands_in(batches) >= 2 * len(moving + others)


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("topology", ["cluster", "sentinel"])
def test_a_thousand_concurrent_agets_end_without_errors(make_cache: Any, topology: str,
                                                         pipelining: bool) -> None:
    """1,000 concurrent ``aget``s on fresh pools: each new connection of a Sentinel alias
    asks a sentinel where the primary is, and the drivers' default cap on the sentinels'
    own pools (100) made most of them fail with "no sentinel could be asked"; on a Cluster,
    1,000 connects at once on one loop ran their timers while the loop served the others'
    handshakes ("Timeout connecting", 2 runs of 4 without the gate in connect.py)."""
    # a pool setting of its own: a fresh topology, so every connection is new
    cache = piped(make_cache, topology, pipelining=pipelining,
                  pool={"socket_timeout": 4.5 if pipelining else 4.0})
    cache.set_many({f"t:{i}": i for i in range(100)})

    async def main() -> list[Any]:
        return await asyncio.gather(*[cache.aget(f"t:{i % 100}") for i in range(1000)],
                                    return_exceptions=True)

    results = asyncio.run(main())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
    assert results == [i % 100 for i in range(1000)]


def test_the_switch_is_validated_and_on_by_default(make_cache: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    url = labs.location("single")
    assert make_cache(url)._router._pipeliner is not None
    assert make_cache(url, OPTIONS={"pipelining": False})._router._pipeliner is None
    with pytest.raises(ImproperlyConfigured, match=r"OPTIONS\['pipelining'\] must be True"):
        make_cache(url, OPTIONS={"pipelining": "yes"})


def test_replies_match_the_direct_path(make_cache: Any) -> None:
    """Each queued command's reply as the driver's own callbacks would give it."""
    url = labs.location("single")
    on = make_cache(url, OPTIONS={"pipelining": True}, KEY_PREFIX="rep")
    off = make_cache(url, OPTIONS={"pipelining": False}, KEY_PREFIX="rep")
    raw = labs.lab("single").client()
    commands = [("SET", "r:s", b"v"), ("GET", "r:s"), ("GET", "r:none"), ("EXISTS", "r:s"),
                ("PEXPIRE", "r:s", 60000), ("PERSIST", "r:s"), ("SADD", "r:set", b"a"),
                ("SISMEMBER", "r:set", b"a"), ("HSET", "r:h", b"f", b"1"),
                ("HEXISTS", "r:h", b"f"), ("HINCRBY", "r:h", b"f", 2), ("INCRBY", "r:n", 5),
                ("TTL", "r:s"), ("DEL", "r:s")]

    async def run(cache: Any) -> list[Any]:
        raw.delete("r:s", "r:set", "r:h", "r:n")
        replies = []
        for args in commands:  # behind a call in flight, so each one is queued
            replies.append((await asyncio.gather(cache._router.acall("r:other", "GET", "x"),
                                                 cache._router.acall(args[1], *args)))[1])
        return replies

    def typed(replies: list[Any]) -> list[tuple[type, Any]]:
        return [(type(r), r) for r in replies]  # True == 1: the types must match too

    assert typed(asyncio.run(run(on))) == typed(asyncio.run(run(off)))
