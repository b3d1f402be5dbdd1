"""Connections parked between multi-key batches (topology/idle.py), on real servers.

A parked connection must never be handed out when the pool would not hand it out: closed by
the server, inherited through fork, or after its pool was disconnected.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from cachex import testing
from cachex.topology import idle, seam

DRIVERS = ["redis", "valkey"]


def _pool(cache: Any) -> Any:
    topology = cache._topology
    return topology.node_client(topology.primaries()[0]).connection_pool


@pytest.mark.parametrize("driver", DRIVERS)
def test_connection_closed_by_the_server_is_not_reused(make_cache: Any, driver: str) -> None:
    with testing.server() as server:
        cache = make_cache(server.url, driver, OPTIONS={"retry": None})
        data = {f"k{i}": i for i in range(20)}
        cache.set_many(data)
        assert cache.get_many(data) == data  # a connection is parked now
        parked = cache._topology._idle.parked(_pool(cache))
        assert parked
        server.client().execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        time.sleep(0.1)
        # No retry configured: a parked dead connection would fail this call.
        assert cache.get_many(data) == data


def test_parked_connection_check_reads_socket_and_parser_directly(make_cache: Any) -> None:
    """``seam.quiet``'s own check (a poll of the socket and a look at the hiredis parser's
    buffer, learned after one call through the driver's ``can_read``) refuses a connection
    with stray bytes on its socket or in its parser, or reset by the server, as the driver's
    check does."""
    pytest.importorskip("hiredis")
    with testing.server() as server:
        cache = make_cache(server.url, "redis", OPTIONS={"retry": None})
        data = {f"k{i}": i for i in range(20)}
        cache.set_many(data)
        for _ in range(3):  # the second take learns the parser class; the third uses it
            assert cache.get_many(data) == data
        conn = cache._topology._idle.parked(_pool(cache))[-1]
        # redis-py 8's hiredis parser: the direct check; older ones take the driver's
        direct = seam._hiredis_parser(type(conn._parser))
        assert (type(conn._parser) in seam._plain) == direct
        assert seam.quiet(conn)
        conn.send_command("PING")  # a reply nobody reads: stray bytes on the socket
        time.sleep(0.05)
        assert not seam.quiet(conn)
        assert conn.read_response() == b"PONG"
        assert seam.quiet(conn)
        if direct:
            conn._parser._reader.feed(b"+PONG\r\n")  # bytes in the parser's buffer
            assert not seam.quiet(conn)
            assert conn.read_response() == b"PONG"
            assert seam.quiet(conn)
        server.client().execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        time.sleep(0.1)
        assert not seam.quiet(conn)  # reset while parked
        assert cache.get_many(data) == data  # no retry configured: a fresh connection


@pytest.mark.parametrize("driver", DRIVERS)
def test_parking_is_bounded_and_disconnect_hands_connections_back(make_cache: Any,
                                                                   driver: str) -> None:
    with testing.server() as server:
        cache = make_cache(server.url, driver)
        topology = cache._topology
        pool = _pool(cache)
        conns = [topology._idle.take(pool) for _ in range(idle.PARK + 3)]
        for conn in conns:
            conn.connect()
            topology._idle.give(pool, conn)
        assert len(topology._idle.parked(pool)) == idle.PARK
        assert len(pool._in_use_connections) == idle.PARK  # the rest went back to the pool
        cache.disconnect()
        assert not topology._idle.parked(pool)
        assert not pool._in_use_connections


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("driver", DRIVERS)
def test_forked_child_never_uses_the_parents_parked_connection(make_cache: Any,
                                                                driver: str) -> None:
    with testing.server() as server:
        cache = make_cache(server.url, driver)
        data = {f"k{i}": "x" * i for i in range(50)}
        cache.set_many(data)
        assert cache.get_many(data) == data  # parked in the parent
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: hammer the alias, report whether every answer was right
            ok = True
            try:
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    ok = ok and cache.get_many(data) == data
            except BaseException:
                ok = False
            os.write(write_end, b"1" if ok else b"0")
            os._exit(0)
        os.close(write_end)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert cache.get_many(data) == data
        child_ok = os.read(read_end, 1)
        os.close(read_end)
        os.waitpid(pid, 0)
        assert child_ok == b"1"


@pytest.mark.parametrize("driver", DRIVERS)
def test_async_connection_closed_by_the_server_is_not_reused(make_cache: Any,
                                                             driver: str) -> None:
    with testing.server() as server:
        cache = make_cache(server.url, driver, OPTIONS={"retry": None})
        data = {f"k{i}": i for i in range(20)}
        cache.set_many(data)

        async def scenario() -> None:
            assert await cache.aget_many(data) == data  # a connection is parked now
            pool = cache._topology.anode_client(cache._topology.primaries()[0]).connection_pool
            assert pool.__dict__.get("_cachex_parked")
            server.client().execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            await asyncio.sleep(0.1)  # the loop sees the close
            # No retry configured: a parked dead connection would fail this call.
            assert await cache.aget_many(data) == data
            parked = pool.__dict__["_cachex_parked"]
            assert 1 <= len(parked) <= idle.PARK

        asyncio.run(scenario())
