"""Failover decisions, neutral replies and reroute planning. Pure, no servers."""

from __future__ import annotations

import pytest

from cachex.exceptions import CommandError, CommandTimeout, ConnectionFailed, NodeUnavailable
from cachex.policy.failover import (
    FAIL_OPEN,
    RAISE,
    REROUTE,
    FailedReplies,
    NoNeutralReply,
    decide,
    neutral_replies,
    neutral_reply,
)
from cachex.policy.reroute import NotReroutable, command_key, reroute
from cachex.routing import Ring, RingNode

SENT = ConnectionFailed("GET: connection failed (Error while reading from x: reset)")
NOT_SENT = ConnectionFailed("SET: connection failed (Error 111 connecting to x. refused.)")


def choose(mode: str, err: Exception, *, idempotent: bool = True, degradable: bool = True,
           replay_unsafe: bool = False, can_reroute: bool = True) -> str:
    return decide(mode, err, idempotent=idempotent, degradable=degradable,
                  replay_unsafe=replay_unsafe, can_reroute=can_reroute)


def test_raise_mode_always_raises() -> None:
    assert choose("raise", SENT) == RAISE
    assert choose("raise", NodeUnavailable("open")) == RAISE


def test_server_answers_are_never_failed_over() -> None:
    assert choose("fail_open", CommandError("WRONGTYPE")) == RAISE
    assert choose("reroute", CommandError("WRONGTYPE")) == RAISE


def test_only_degradable_steps_fail_over() -> None:
    # incr, incr_version, clear, locks: their caller must know
    assert choose("fail_open", SENT, degradable=False) == RAISE
    assert choose("reroute", NodeUnavailable("open"), degradable=False) == RAISE
    assert choose("fail_open", SENT) == FAIL_OPEN
    assert choose("fail_open", CommandTimeout("t"), idempotent=False) == FAIL_OPEN


def test_reroute_never_replays_an_unsafe_command_that_may_have_been_sent() -> None:
    assert choose("reroute", SENT) == REROUTE
    assert choose("reroute", SENT, idempotent=False) == RAISE
    assert choose("reroute", NOT_SENT, idempotent=False) == REROUTE
    assert choose("reroute", NodeUnavailable("open"), idempotent=False) == REROUTE
    assert choose("reroute", SENT, idempotent=False, replay_unsafe=True) == REROUTE
    assert choose("reroute", SENT, can_reroute=False) == RAISE


def test_neutral_replies_read_as_django_misses() -> None:
    assert neutral_reply(("GET", "k")) is None
    assert neutral_reply(("MGET", "a", "b", "c")) == [None, None, None]
    assert neutral_reply(("SET", "k", b"v", "PX", 10, "NX")) is None  # add -> False
    assert neutral_reply(("EXISTS", "k")) == 0
    assert neutral_reply(("DEL", "k")) == 0
    replies = neutral_replies([("PERSIST", "k"), ("EXISTS", "k")], "n1")
    assert isinstance(replies, FailedReplies) and replies == [0, 0] and replies.node == "n1"


@pytest.mark.parametrize("command", [("EVAL", "return 1", 1, "k", 1), ("RENAME", "a", "b"),
                                     ("FLUSHDB",), ("INCRBY", "k", 1), ("LPUSH", "k", "v")])
def test_commands_whose_caller_must_know_have_no_neutral_reply(command: tuple) -> None:
    with pytest.raises(NoNeutralReply):
        neutral_reply(command)


def test_command_key() -> None:
    assert command_key(("SET", "k", "v")) == "k"
    assert command_key(("EVAL", "script", 1, "k", 5)) == "k"
    for bad in [("FLUSHDB",), ("PING",), ("EVAL", "script", 0)]:
        with pytest.raises(NotReroutable):
            command_key(bad)


def test_reroute_splits_multi_key_commands_and_merges_in_order() -> None:
    owner = {"a": "n2", "b": "n3", "c": "n2", "d": "n3"}
    plan = reroute([("MGET", "a", "b", "c", "d"), ("DEL", "a", "b"), ("SET", "c", "v"),
                    ("EXISTS", "d")], owner.__getitem__)
    assert plan.batches == [
        ("n2", [("MGET", "a", "c"), ("DEL", "a"), ("SET", "c", "v")]),
        ("n3", [("MGET", "b", "d"), ("DEL", "b"), ("EXISTS", "d")]),
    ]
    replies = [[[b"A", b"C"], 1, True], [[None, b"D"], 1, 1]]
    assert plan.merge(replies) == [[b"A", None, b"C", b"D"], 2, True, 1]


def test_reroute_refuses_keyless_commands_and_an_empty_ring() -> None:
    with pytest.raises(NotReroutable):
        reroute([("FLUSHDB",)], lambda key: "n2")
    with pytest.raises(NotReroutable):
        reroute([("GET", "k")], lambda key: None)


def test_ring_without_a_node_moves_only_that_nodes_keys() -> None:
    ring = Ring([RingNode("n1"), RingNode("n2"), RingNode("n3")])
    smaller = ring.without(["n2"])
    assert smaller is not None
    keys = [f"key:{i}" for i in range(2000)]
    moved = [k for k in keys if ring.node_for(k) == "n2"]
    assert 300 < len(moved) < 1000
    for k in keys:
        if ring.node_for(k) != "n2":
            assert smaller.node_for(k) == ring.node_for(k)
        else:
            assert smaller.node_for(k) in ("n1", "n3")
    assert {smaller.node_for(k) for k in moved} == {"n1", "n3"}  # spread, not all on one
    assert ring.without(["n1", "n2", "n3"]) is None
