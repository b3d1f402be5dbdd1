"""The executor's (cachex/router.py) retry and failover decisions, against a scripted
topology (tests/unit/fakes.py): no servers. Every scenario runs through the sync and the
async executor and must do the same thing on both: same replies, same calls, same re-reads
of the routing map."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cachex.exceptions import ConnectionFailed, NodeUnavailable
from cachex.policy.failover import FailedReplies
from cachex.topology.freshness import MapFreshness
from tests.unit.fakes import NOT_SENT, SENT, FakeTopology, router

SIDES = ["sync", "async"]


def run(r: Any, side: str, batches: list[Any], **kw: Any) -> list[list[Any]]:
    if side == "sync":
        return r.run(batches, **kw)  # type: ignore[no-any-return]
    return asyncio.run(r.arun(batches, **kw))  # type: ignore[no-any-return]


def call(r: Any, side: str, key: str, *args: Any, **kw: Any) -> Any:
    if side == "sync":
        return r.call(key, *args, **kw)
    return asyncio.run(r.acall(key, *args, **kw))


def calls(topo: FakeTopology) -> list[tuple[str, tuple[str, ...]]]:
    """The log without the side, to compare the sync run with the async one."""
    return [(node, names) for _, node, names in topo.log]


@pytest.mark.parametrize("side", SIDES)
def test_a_broken_connection_is_retried_then_served(side: str) -> None:
    topo = FakeTopology({"x": "a", "y": "b"})
    topo.data.update(x=b"1", y=b"2")
    topo.down("a", 1)
    r = router(topo)
    assert run(r, side, [("a", [("GET", "x")]), ("b", [("GET", "y")])]) == [[b"1"], [b"2"]]
    assert calls(topo) == [("a", ("GET",)), ("b", ("GET",)), ("a", ("GET",))]
    assert r.stats.snapshot()["retries"] == 1


@pytest.mark.parametrize("side", SIDES)
def test_a_connection_broken_once_up_drops_the_idle_ones_before_each_retry(side: str) -> None:
    """A reset (the connection was up) closes the node's idle pooled connections before the
    retry, on both sides and on both paths; a refused connect does not."""
    topo = FakeTopology({"x": "a", "y": "b"})
    topo.data.update(x=b"1", y=b"2")
    topo.down("a", 1)
    r = router(topo)
    assert call(r, side, "x", "GET", "x") == b"1"
    topo.down("b", 1)
    assert run(r, side, [("a", [("GET", "x")]), ("b", [("GET", "y")])]) == [[b"1"], [b"2"]]
    assert topo.dropped == [(side, "a"), (side, "b")]
    topo.down("a", 1, NOT_SENT)
    assert call(r, side, "x", "GET", "x") == b"1"
    assert topo.dropped == [(side, "a"), (side, "b")]


@pytest.mark.parametrize("side", SIDES)
def test_retries_stop_at_the_attempt_limit(side: str) -> None:
    topo = FakeTopology({"x": "a"})
    topo.down("a", 5)
    r = router(topo)
    with pytest.raises(ConnectionFailed, match="reset"):
        call(r, side, "x", "GET", "x")
    assert len(topo.log) == 3  # attempts: 3


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(("text", "attempts"), [(SENT, 1), (NOT_SENT, 2)])
def test_an_unsafe_command_is_replayed_only_when_it_was_never_sent(side: str, text: str,
                                                                    attempts: int) -> None:
    topo = FakeTopology({"n": "a"})
    topo.down("a", 1, text)
    r = router(topo)
    if attempts == 1:
        with pytest.raises(ConnectionFailed):
            call(r, side, "n", "INCR", "n", idempotent=False)
    else:
        assert call(r, side, "n", "INCR", "n", idempotent=False) == 1
    assert len(topo.log) == attempts
    assert topo.data.get("n") == (None if attempts == 1 else 1)


@pytest.mark.parametrize("side", SIDES)
def test_fail_open_answers_a_dead_node_with_misses(side: str) -> None:
    topo = FakeTopology({"x": "a", "y": "b"})
    topo.data.update(y=b"2")
    topo.down("a", 10)
    r = router(topo, failover={"mode": "fail_open", "threshold": 0})
    out = run(r, side, [("a", [("MGET", "x")]), ("b", [("MGET", "y")])], degradable=True)
    assert out == [[[None]], [[b"2"]]]
    assert isinstance(out[0], FailedReplies)
    assert r.stats.snapshot()["fail_open"] == 1


@pytest.mark.parametrize("side", SIDES)
def test_reroute_sends_a_dead_nodes_keys_to_the_fallback(side: str) -> None:
    topo = FakeTopology({"x": "b", "y": "b", "z": "a"}, reroutable=True)
    topo.data.update(x=b"1")
    topo.down("b", 10)
    r = router(topo, failover={"mode": "reroute", "threshold": 0})
    assert run(r, side, [("b", [("MGET", "x", "y")])], degradable=True) == [[[b"1", None]]]
    assert calls(topo)[-1] == ("a", ("MGET",))


@pytest.mark.parametrize("side", SIDES)
def test_an_open_circuit_refuses_without_a_call(side: str) -> None:
    topo = FakeTopology({"x": "a"})
    topo.down("a", 10, NOT_SENT)
    r = router(topo, retry={"attempts": 1}, failover={"threshold": 2, "cooldown": 60})
    for _ in range(2):
        with pytest.raises(ConnectionFailed):
            call(r, side, "x", "GET", "x")
    before = len(topo.log)
    with pytest.raises(NodeUnavailable, match="circuit open"):
        call(r, side, "x", "GET", "x")
    assert len(topo.log) == before


@pytest.mark.parametrize("side", SIDES)
def test_keys_that_move_are_replanned_on_a_map_read_once_before_the_retry(side: str) -> None:
    """A Cluster-like topology: the node died and its slots went to another node."""
    topo = FakeTopology({"x": "a", "y": "a"}, moves_keys=True)
    topo.data.update(x=b"1", y=b"2")
    topo.down("a", 10)
    topo.next_owners = {"x": "b", "y": "b"}
    r = router(topo)
    assert run(r, side, [("a", [("MGET", "x", "y")])]) == [[[b"1", b"2"]]]
    assert topo.refreshes == [side]
    assert calls(topo) == [("a", ("MGET",)), ("b", ("MGET",))]


def test_retries_that_failed_before_one_map_read_share_it() -> None:
    """Concurrent retries after one failover: the first re-reads the map, the others use it;
    a failure after that read gets a read of its own."""
    fresh = MapFreshness()
    fresh.installed()
    failed_at = time.monotonic()
    assert fresh.due_before_retry(failed_at)  # the first retry claims the re-read
    assert not fresh.due_before_retry(failed_at)  # the others wait for it
    fresh.mark()  # e.g. a MOVED: stale whatever the time
    assert fresh.due_before_retry(failed_at)
    fresh.installed()
    assert not fresh.due_before_retry(failed_at)
    assert fresh.due_before_retry(time.monotonic() + 1)
