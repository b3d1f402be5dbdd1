"""The wire path (topology/wire.py): plain batches packed by hiredis, replies read by cachex.

Against real servers: the same replies as the driver's pipelines, the driver's path when the
wire path is off (no hiredis), and connections that are dropped, never reused, when a batch's
replies are left unread (timeout, cancellation) or the node turns out to be a replica.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from cachex import testing
from cachex.exceptions import CommandTimeout, ReadOnlyNode
from cachex.topology import wire
from tests import labs

DRIVERS = ["redis", "valkey"]
pytestmark = pytest.mark.skipif(not wire.enabled, reason="hiredis is not installed")


def count_wire(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, the size of every batch read on the wire path (sync or async)."""
    used: list[int] = []
    real_read, real_aread = wire.read, wire.aread

    async def aread(*a: Any) -> Any:
        used.append(len(a[1]))
        return await real_aread(*a)

    monkeypatch.setattr(wire, "read", lambda *a: used.append(len(a[1])) or real_read(*a))
    monkeypatch.setattr(wire, "aread", aread)
    return used


def _batch(prefix: str) -> list[tuple[Any, ...]]:
    a, b, h = f"{prefix}:a", f"{prefix}:b", f"{prefix}:h"
    return [
        ("SET", a, b"1", "PX", 60000), ("SET", a, b"2", "NX"), ("MGET", a, b, a),
        ("GET", a), ("GET", h), ("EXISTS", a, b), ("TOUCH", a), ("DEL", b), ("UNLINK", b),
        ("WAIT", 0, 0), ("SET", b, b"OK"), ("GET", b), ("DEL", a, b),
    ]


def _comparable(replies: list[Any]) -> list[Any]:
    return [(type(r).__name__, str(r)) if isinstance(r, Exception) else r for r in replies]


@pytest.mark.parametrize("driver", DRIVERS)
def test_same_replies_as_the_drivers_pipeline(single_server: Any, make_cache: Any,
                                              monkeypatch: pytest.MonkeyPatch,
                                              driver: str) -> None:
    cache = make_cache(single_server.url, driver, KEY_PREFIX=f"wire-{driver}")
    topology = cache._topology
    node = topology.primaries()[0]
    reads: list[int] = []
    real_read = wire.read
    monkeypatch.setattr(wire, "read", lambda *a: reads.append(len(a[1])) or real_read(*a))

    single_server.client().hset(f"{driver}:h", "f", "v")  # GET on it: a WRONGTYPE error
    on_wire = topology.execute_collect(node, _batch(driver))
    assert reads == [13], "the plain batch did not take the wire path"

    monkeypatch.setattr(wire, "enabled", False)
    by_driver = topology.execute_collect(node, _batch(driver))
    assert reads == [13], "with the wire path off, the driver's pipeline must be used"

    assert _comparable(on_wire) == _comparable(by_driver)
    assert on_wire[:2] == [True, None]  # SET's OK is True, as the driver's callback makes it
    assert on_wire[2] == [b"1", None, b"1"]
    assert "WRONGTYPE" in str(on_wire[4])
    assert isinstance(on_wire[4], topology.driver.response_error)
    assert on_wire[10:12] == [True, b"OK"]  # a *value* b"OK" stays bytes


@pytest.mark.parametrize("driver", DRIVERS)
def test_error_reply_in_an_early_chunk_is_not_lost(single_server: Any, make_cache: Any,
                                                   driver: str) -> None:
    """The error comes in the first bytes read, a 1 MB value after it in many more reads:
    the batch still raises (``execute``) and is not marked error-free (``execute_collect``)."""
    cache = make_cache(single_server.url, driver)
    topology = cache._topology
    node = topology.primaries()[0]
    client = single_server.client()
    client.hset(f"{driver}:early:h", "f", "v")
    client.set(f"{driver}:early:big", b"x" * (1 << 20))
    batch = [("GET", f"{driver}:early:h"), ("GET", f"{driver}:early:big")]
    with pytest.raises(topology.driver.response_error, match="WRONGTYPE"):
        topology.execute(node, batch)
    replies = topology.execute_collect(node, batch)
    assert type(replies) is not wire.Clean
    assert isinstance(replies[0], topology.driver.response_error)
    assert replies[1] == b"x" * (1 << 20)
    clean = topology.execute_collect(node, batch[1:])
    assert type(clean) is wire.Clean and clean == [b"x" * (1 << 20)]


@pytest.mark.parametrize("topology", ["single", "sharded", "cluster"])
def test_cache_api_without_the_wire_path(topology: str, make_cache: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """What a machine without hiredis runs: the driver's pipelines, same results."""
    monkeypatch.setattr(wire, "enabled", False)
    cache = make_cache(labs.location(topology), KEY_PREFIX=f"nowire-{topology}")
    data = {f"k{i}": i for i in range(200)}
    assert cache.set_many(data) == []
    assert cache.get_many([*data, "missing"]) == data
    cache.delete_many(list(data)[:100])
    assert cache.get_many(data) == dict(list(data.items())[100:])

    async def scenario() -> None:
        assert await cache.aset_many(data) == []
        assert await cache.aget_many([*data, "missing"]) == data
        await cache.adelete_many(list(data))
        assert await cache.aget_many(data) == {}

    asyncio.run(scenario())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("driver", DRIVERS)
def test_timed_out_batch_never_leaves_its_replies_to_the_next_caller(make_cache: Any,
                                                                      driver: str) -> None:
    with testing.server() as server:
        cache = make_cache(server.url, driver, OPTIONS={
            "pool": {"max_connections": 1, "socket_timeout": 0.2}, "retry": None})
        cache.set_many({"a1": "first", "a2": "first"})
        cache.set_many({"b1": "second", "b2": "second"})
        stalled = testing.debug_sleep(server, 0.6)
        with pytest.raises(CommandTimeout):
            cache.get_many(["a1", "a2"])
        stalled.join()
        # One connection: had it gone back to the pool, the late reply to the first MGET
        # would be read here.
        assert cache.get_many(["b1", "b2"]) == {"b1": "second", "b2": "second"}

        async def scenario() -> None:
            stalled = testing.debug_sleep(server, 0.6)
            with pytest.raises(CommandTimeout):
                await cache.aget_many(["a1", "a2"])
            stalled.join()
            assert await cache.aget_many(["b1", "b2"]) == {"b1": "second", "b2": "second"}

        asyncio.run(scenario())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("driver", DRIVERS)
def test_cancelled_multi_node_aget_many_leaves_connections_usable(make_cache: Any,
                                                                   driver: str) -> None:
    with testing.servers(2) as nodes:
        cache = make_cache([n.url for n in nodes], driver,
                           OPTIONS={"pool": {"max_connections": 1}})
        first = {f"a{i}": "first" for i in range(40)}
        second = {f"b{i}": "second" for i in range(40)}
        cache.set_many({**first, **second})
        topology = cache._topology
        assert len(topology.plan([cache.make_key(k) for k in first])) == 2

        async def scenario() -> None:
            await cache.aget_many(second)  # connections exist before the stall
            stalled = testing.debug_sleep(nodes[1], 0.5)  # one node stops answering
            task = asyncio.create_task(cache.aget_many(first))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            stalled.join()
            assert await cache.aget_many(second) == second
            assert await cache.aget_many(first) == first

        asyncio.run(scenario())


@pytest.mark.parametrize("driver", DRIVERS)
def test_readonly_reply_drops_the_connection(make_cache: Any, driver: str) -> None:
    """A node that answers READONLY is a replica now: its connection is closed, so the
    driver's next connect (a Sentinel-managed pool asks for the primary) starts afresh."""
    _, replica = labs.lab("replicated")
    cache = make_cache(replica.url, driver, OPTIONS={"retry": None})
    with pytest.raises(ReadOnlyNode):
        cache.set_many({"x": 1, "y": 2})
    pool = cache._topology.node_client(cache._topology.primaries()[0]).connection_pool
    idle = list(pool._available_connections)
    assert idle and all(c._sock is None for c in idle)
    assert cache.get_many(["x", "y"]) == {}  # reads on the replica still work


@pytest.mark.parametrize("driver", DRIVERS)
def test_unix_socket_batches(make_cache: Any, driver: str) -> None:
    """The wire path reads from the driver's unix-socket connections too, sync and async."""
    sock = f"/tmp/cachex-wire-{os.getpid()}-{driver}.sock"  # short: sun_path is ~100 bytes
    with testing.server(extra_config={"unixsocket": sock, "unixsocketperm": "700"}):
        cache = make_cache(f"unix://{sock}?db=0", driver)
        assert cache._topology.endpoint.path == sock
        data = {f"u{i}": i for i in range(50)}
        assert cache.set_many(data) == []
        assert cache.get_many([*data, "missing"]) == data
        cache.delete_many(list(data)[:25])
        assert cache.get_many(data) == dict(list(data.items())[25:])

        async def scenario() -> None:
            assert await cache.aset_many(data) == []
            assert await cache.aget_many(data) == data

        asyncio.run(scenario())


def test_pack_keeps_big_commands_apart() -> None:
    import hiredis

    small = [("SET", f"s{i}", b"x" * 10) for i in range(5)]
    big = [("SET", "b1", b"y" * (wire.BIG + 1)), ("SET", "b2", b"z" * (1 << 20))]
    commands = [small[0], big[0], *small[1:3], big[1], *small[3:]]
    chunks = wire.pack(commands)
    assert b"".join(chunks) == b"".join(hiredis.pack_command(c) for c in commands)
    assert len(chunks) == 5  # small / big / small, small / big / small, small
    assert wire.pack(small) == [b"".join(hiredis.pack_command(c) for c in small)]


@pytest.mark.parametrize("topology", ["single", "sharded", "cluster"])
def test_big_and_small_values_in_one_batch(topology: str, make_cache: Any) -> None:
    cache = make_cache(labs.location(topology), KEY_PREFIX=f"bigwire-{topology}")
    data = {"tiny": 1, "mid": "m" * 20_000, "huge": b"h" * (3 << 20),
            **{f"s{i}": i for i in range(20)}}
    assert cache.set_many(data) == []
    assert cache.get_many(data) == data

    async def scenario() -> None:
        await cache.adelete_many(data)
        assert await cache.aset_many(data) == []
        assert await cache.aget_many(data) == data

    asyncio.run(scenario())


def test_bytes_that_are_not_resp_are_a_connection_error() -> None:
    from types import SimpleNamespace

    from cachex.drivers import redis_driver

    driver = redis_driver()
    replies = wire.Replies(driver.parse_error, driver.readonly_error)
    conn = SimpleNamespace(host="10.0.0.9", port=6379, path=None)
    out: list[Any] = []
    assert wire._feed(wire.new_reader(), b"$1\r\na\r\n", conn, driver, replies, out) == 0
    assert out == [b"a"]
    with pytest.raises(driver.connection_error, match=r"Protocol error from 10\.0\.0\.9:6379"):
        wire._feed(wire.new_reader(), b"?what\r\n", conn, driver, replies, [])


@pytest.mark.parametrize("topology", ["single", "sharded"])
def test_single_key_plain_commands_take_the_wire_path(topology: str, make_cache: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """get/set/delete/has_key are one-command batches on the wire; incr (a script) is not."""
    cache = make_cache(labs.location(topology), KEY_PREFIX=f"single-wire-{topology}")
    reads: list[int] = []
    real_read = wire.read
    monkeypatch.setattr(wire, "read", lambda *a: reads.append(len(a[1])) or real_read(*a))
    cache.set("k", {"v": 1})
    assert cache.get("k") == {"v": 1}
    assert cache.has_key("k") and cache.delete("k") and cache.get("k", "gone") == "gone"
    assert reads == [1] * 5
    cache.set("n", 1)
    assert cache.incr("n") == 2  # EVALSHA: the driver's own path
    assert reads == [1] * 6

    async def scenario() -> None:
        await cache.aset("a", "async")
        assert await cache.aget("a") == "async"

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sentinel_batches_take_the_wire_path_through_a_failover(make_cache: Any, mode: str,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """Sentinel multi-key batches go on the wire; after SENTINEL FAILOVER the connections
    parked for the old primary (now a replica: closed by Sentinel, or answering READONLY) are
    dropped and the next batch reaches the new primary, with no error for the caller."""
    used = count_wire(monkeypatch)
    keys = [f"s{i}" for i in range(20)]
    with testing.sentinel(replicas=1, sentinels=3) as lab:
        cache = make_cache(lab.url, KEY_PREFIX=f"sent-{mode}")

        async def batches(tag: str) -> dict[str, Any]:
            await cache.aset_many({k: f"{k}@{tag}" for k in keys})
            return await cache.aget_many(keys)  # type: ignore[no-any-return]

        def round_trip(tag: str) -> dict[str, Any]:
            if mode == "async":
                return asyncio.run(batches(tag))
            cache.set_many({k: f"{k}@{tag}" for k in keys})
            return cache.get_many(keys)  # type: ignore[no-any-return]

        assert round_trip("before") == {k: f"{k}@before" for k in keys}
        assert used, "Sentinel batches did not take the wire path"
        old = lab.primary_node
        new = lab.failover()
        assert new is not old
        assert round_trip("after") == {k: f"{k}@after" for k in keys}
        made = cache.make_key(keys[0])
        assert new.client().get(made) is not None  # written on the new primary
