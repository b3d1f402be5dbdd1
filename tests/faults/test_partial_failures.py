"""A multi-node write or delete with one failing node, under failover mode ``raise``.

Every healthy node gets its keys (checked on the servers themselves), including after the
failing node became a suspect of the circuit breaker, and the error raised says which keys
were applied and which were not (as lists of the caller's keys; its message gives counts and
nodes, never a key). The error still is what callers caught before: a ``ConnectionFailed``
for a dead node, a ``CommandError`` for an OOM reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from cachex.exceptions import CommandError, ConnectionFailed, PartialFailure
from cachex.testing import Server, servers
from tests.faults._util import identity, keys_per_node, make_cache

pytestmark = pytest.mark.timeout(60)
ROUNDS = 3  # the first failure makes the node a suspect; later rounds take that path


@pytest.fixture
def shards() -> Iterator[list[Server]]:
    with servers(3) as nodes:
        yield nodes


def fault(kind: str, victim: Server) -> type[Exception]:
    if kind == "dead":
        victim.kill()
        return ConnectionFailed
    victim.execute("CONFIG", "SET", "maxmemory-policy", "noeviction")
    victim.execute("CONFIG", "SET", "maxmemory", "1")
    return CommandError


def stored(server: Server, cache: Any, keys: list[str]) -> list[str]:
    client = server.client()
    return [k for k in keys if client.exists(cache.make_key(k))]


def check_error(err: PartialFailure, cls: type[Exception], applied: set[str],
                not_applied: set[str]) -> None:
    assert isinstance(err, cls), type(err).__mro__
    assert set(err.not_applied) == not_applied
    assert set(err.applied) == applied
    text = str(err)
    assert f"{len(not_applied)} of {len(applied) + len(not_applied)} keys not applied" in text
    assert not any(k in text for k in applied | not_applied), "a key in the message"


@pytest.mark.parametrize("kind", ["dead", "oom"])
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_healthy_nodes_get_their_keys_and_the_error_lists_the_rest(
        shards: list[Server], kind: str, flavour: str) -> None:
    cache = make_cache([s.url for s in shards],
                       failover={"mode": "raise", "threshold": 2, "cooldown": 30})
    per_node = keys_per_node(cache, 15, prefix=f"{kind}{flavour}")
    victim = shards[1]
    by_server = {s: per_node[identity(s)] for s in shards}
    victim_keys = set(by_server[victim])
    healthy = [s for s in shards if s is not victim]
    healthy_keys = {k for s in healthy for k in by_server[s]}
    every = sorted(victim_keys | healthy_keys)
    cls = fault(kind, victim)

    seen: list[tuple[str, BaseException | None, list[str]]] = []
    if flavour == "sync":
        for r in range(ROUNDS):
            for op in ("set_many", "delete_many"):
                err: BaseException | None = None
                try:
                    if op == "set_many":
                        cache.set_many({k: r for k in every}, 60)
                    else:
                        cache.delete_many(every)
                except Exception as exc:
                    err = exc
                seen.append((op, err, [k for s in healthy for k in stored(s, cache, every)]))
    else:
        # async: run one operation at a time so the servers can be checked in between
        for r in range(ROUNDS):
            for op in ("set_many", "delete_many"):
                err = None
                try:
                    if op == "set_many":
                        asyncio.run(cache.aset_many({k: r for k in every}, 60))
                    else:
                        asyncio.run(cache.adelete_many(every))
                except Exception as exc:
                    err = exc
                seen.append((op, err, [k for s in healthy for k in stored(s, cache, every)]))

    for op, err, on_healthy in seen:
        if op == "set_many":
            assert set(on_healthy) == healthy_keys, f"{op}: healthy keys missing"
            assert isinstance(err, PartialFailure), repr(err)
            check_error(err, cls, healthy_keys, victim_keys)
        else:
            assert not on_healthy, f"{op}: {len(on_healthy)} keys left on healthy nodes"
            if kind == "dead":
                assert isinstance(err, PartialFailure), repr(err)
                check_error(err, cls, healthy_keys, victim_keys)
            else:  # DEL is allowed at maxmemory: nothing fails
                assert err is None, repr(err)
    if kind == "oom":
        assert not stored(victim, cache, every)


def test_clear_reports_nodes(shards: list[Server]) -> None:
    cache = make_cache([s.url for s in shards], failover={"mode": "raise"})
    cache.set_many({f"c{i}": i for i in range(30)})
    shards[2].kill()
    with pytest.raises(PartialFailure) as info:
        cache.clear()
    err = info.value
    assert isinstance(err, ConnectionFailed)
    assert err.not_applied == [identity(shards[2])]
    assert sorted(err.applied) == sorted(identity(s) for s in shards[:2])
    for s in shards[:2]:
        assert s.client().dbsize() == 0
