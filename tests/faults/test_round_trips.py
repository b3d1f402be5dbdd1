"""Round-trips per request while one of 3 shards is dead and its circuit is open.

Counted, not timed: a hook on the driver's connection classes counts every request sent
(one per round-trip: a command, a pipeline, a wire batch) per node, and every attempt to
connect to the dead node. Each request runs once with all nodes up, then again with one node
SIGKILLed and its circuit open. Bounds, per failover mode:

- every mode: no more round-trips than with every node up, and none to the dead node. Under
  reroute that holds for multi-key requests too: the dead node's share of the keys rides in
  the round-trips its stand-ins make for their own share (the issue allowed one more per
  rerouted key group; before this, sync and async made one more per stand-in node).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cachex.drivers import redis_driver
from cachex.exceptions import CachexError
from cachex.testing import Server, servers
from cachex.topology import wire
from tests.faults._util import identity, keys_per_node, make_cache

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def shards() -> Iterator[list[Server]]:
    with servers(3) as nodes:
        yield nodes


class Exchanges:
    """Requests sent per port, and connect attempts per port (sync and async drivers), by
    the cache under test only.

    The hook is on the driver's classes, so it sees every connection in the process: a
    background thread another test left running (a near-cache channel's PING) would be
    counted too. Only connections to ``ports`` named ``client_name`` (the cache's own) count.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, ports: set[int],
                 client_name: str) -> None:
        self.sent: Counter[int] = Counter()
        self.connects: Counter[int] = Counter()
        self.ignored: Counter[tuple[int, str | None]] = Counter()

        def ours(conn: Any) -> bool:
            if conn.port in ports and getattr(conn, "client_name", None) == client_name:
                return True
            self.ignored[conn.port, getattr(conn, "client_name", None)] += 1
            return False
        driver = redis_driver()
        sync, aconn = driver.connection, driver.async_connection
        send, asend_packed = sync.send_packed_command, aconn.send_packed_command
        connect, aconnect = sync.connect, aconn.connect
        wire_asend = wire.asend
        me = self

        # A new connection's handshake (HELLO, CLIENT SETNAME, ...) is connection set-up,
        # counted in ``connects``; ``sent`` counts the requests' own round-trips.
        def counted_send(conn: Any, *args: Any, **kw: Any) -> Any:
            if not getattr(conn, "_counting_connect", False) and ours(conn):
                me.sent[conn.port] += 1
            return send(conn, *args, **kw)

        async def counted_asend_packed(conn: Any, *args: Any, **kw: Any) -> Any:
            if not getattr(conn, "_counting_connect", False) and ours(conn):
                me.sent[conn.port] += 1
            return await asend_packed(conn, *args, **kw)

        async def counted_wire_asend(conn: Any, payload: Any, commands: Any, errors: Any
                                     ) -> None:
            if ours(conn):
                me.sent[conn.port] += 1
            await wire_asend(conn, payload, commands, errors)

        def counted_connect(conn: Any, *args: Any, **kw: Any) -> Any:
            if conn._sock is None and ours(conn):
                me.connects[conn.port] += 1
            conn._counting_connect = True
            try:
                return connect(conn, *args, **kw)
            finally:
                conn._counting_connect = False

        async def counted_aconnect(conn: Any, *args: Any, **kw: Any) -> Any:
            if not conn.is_connected and ours(conn):
                me.connects[conn.port] += 1
            conn._counting_connect = True
            try:
                return await aconnect(conn, *args, **kw)
            finally:
                conn._counting_connect = False

        monkeypatch.setattr(sync, "send_packed_command", counted_send)
        monkeypatch.setattr(aconn, "send_packed_command", counted_asend_packed)
        monkeypatch.setattr(wire, "asend", counted_wire_asend)
        monkeypatch.setattr(sync, "connect", counted_connect)
        monkeypatch.setattr(aconn, "connect", counted_aconnect)

    def reset(self) -> None:
        self.sent.clear()
        self.connects.clear()
        self.ignored.clear()


def requests(victim_keys: list[str], other_keys: list[str], fresh: str
             ) -> dict[str, Callable[[Any], Any]]:
    """(name -> call on a cache): single-key ones on a dead node's key and on a live one
    (``fresh``: a key of the dead node never set, for add), multi-key ones over every node;
    the same list for sync and async."""
    v, o = victim_keys[0], other_keys[0]
    mixed = victim_keys[:5] + other_keys[:5] + other_keys[10:15]  # every node
    return {
        "get dead": lambda c: c.get(v),
        "get live": lambda c: c.get(o),
        "set dead": lambda c: c.set(v, 1),
        "set live": lambda c: c.set(o, 1),
        "add dead": lambda c: c.add(fresh, 1),
        "delete dead": lambda c: c.delete(v),
        "has_key dead": lambda c: c.has_key(v),
        "touch dead": lambda c: c.touch(v, 30),
        "get_many": lambda c: c.get_many(mixed),
        "set_many": lambda c: c.set_many(dict.fromkeys(mixed, 1)),
        "delete_many": lambda c: c.delete_many(mixed),
    }


def arequests(victim_keys: list[str], other_keys: list[str], fresh: str
              ) -> dict[str, Callable[[Any], Any]]:
    v, o = victim_keys[0], other_keys[0]
    mixed = victim_keys[:5] + other_keys[:5] + other_keys[10:15]  # every node
    return {
        "get dead": lambda c: c.aget(v),
        "get live": lambda c: c.aget(o),
        "set dead": lambda c: c.aset(v, 1),
        "set live": lambda c: c.aset(o, 1),
        "add dead": lambda c: c.aadd(fresh, 1),
        "delete dead": lambda c: c.adelete(v),
        "has_key dead": lambda c: c.ahas_key(v),
        "touch dead": lambda c: c.atouch(v, 30),
        "get_many": lambda c: c.aget_many(mixed),
        "set_many": lambda c: c.aset_many(dict.fromkeys(mixed, 1)),
        "delete_many": lambda c: c.adelete_many(mixed),
    }


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("mode", ["raise", "fail_open", "reroute"])
def test_round_trips_with_a_dead_shard(shards: list[Server], monkeypatch: pytest.MonkeyPatch,
                                       mode: str, flavour: str) -> None:
    victim = shards[0]
    if not victim.is_running:
        victim.restart()
    client_name = f"rt-{mode}-{flavour}"
    cache = make_cache([s.url for s in shards],  # a client_name of its own: its own router
                       failover={"mode": mode, "threshold": 1, "cooldown": 120},
                       # a live node's read is never cut short by a loaded machine (that
                       # would be retried and counted as an extra round-trip); the dead
                       # node refuses connections at once
                       pool={"socket_timeout": 5.0, "socket_connect_timeout": 0.5,
                             "client_name": client_name})
    per_node = keys_per_node(cache, 10, prefix=client_name)
    victim_keys = per_node[identity(victim)]
    other_keys = [k for s in shards[1:] for k in per_node[identity(s)]]
    calls = (requests if flavour == "sync" else arequests)(
        victim_keys, other_keys, victim_keys[8])
    dead_calls = (requests if flavour == "sync" else arequests)(
        victim_keys, other_keys, victim_keys[9])

    def run(call: Callable[[Any], Any]) -> None:
        try:
            if flavour == "sync":
                call(cache)
            else:
                loop.run_until_complete(call(cache))
        except CachexError:
            if mode != "raise":
                raise

    loop = asyncio.new_event_loop()
    try:
        count = Exchanges(monkeypatch, {s.port for s in shards}, client_name)
        for call in calls.values():  # warm every pool (connections opened here)
            run(call)
        up: dict[str, int] = {}
        for name, call in calls.items():
            count.reset()
            run(call)
            up[name] = sum(count.sent.values())
        assert all(up.values()), f"the counter missed the cache's own requests: {up}"
        victim.kill()
        run(calls["get dead"])  # the failure that opens the circuit (threshold 1)
        assert cache._router.breaker.open_nodes()
        down: dict[str, int] = {}
        detail: dict[str, Any] = {}
        for name, call in dead_calls.items():
            count.reset()
            before = cache._router.stats.snapshot()
            run(call)
            down[name] = sum(count.sent.values())
            after = cache._router.stats.snapshot()
            detail[name] = (dict(count.sent), {k: after[k] - before.get(k, 0) for k in after
                                               if after[k] != before.get(k, 0)},
                            dict(count.ignored))
            assert not count.sent[victim.port] and not count.connects[victim.port], (
                f"{name}: the dead node was tried while its circuit was open")
    finally:
        loop.run_until_complete(cache.aclose()) if hasattr(cache, "aclose") else None
        loop.close()
        victim.restart()
    print(f"\n[measure] {mode} {flavour}: round-trips all up {up}\n"
          f"[measure] {mode} {flavour}: one dead         {down}")
    for name in calls:
        assert down[name] <= up[name], (name, up[name], down[name], detail[name])
