"""Pure pieces of bounded pools, partial failures and the request-size limit."""

from __future__ import annotations

import pickle

import pytest

from cachex.exceptions import (
    CachexError,
    CommandError,
    ConnectionFailed,
    NodeUnavailable,
    PartialFailure,
    PoolExhausted,
    ValueTooLarge,
    partial_failure_class,
)
from cachex.policy.failover import FAIL_OPEN, RAISE, decide
from cachex.policy.options import error_class
from cachex.policy.oversize import DEFAULT_LIMIT, FLOOR, may_be_oversize, parse_limit, too_large
from cachex.translate import sent_before_failure, unreachable


def test_pool_exhausted_is_neither_retried_nor_a_node_failure() -> None:
    err = PoolExhausted("n: full", node="n", size=3, waited=1.0)
    assert error_class(err) == "pool"
    assert not unreachable(err) and not sent_before_failure(err)
    kw = {"idempotent": True, "degradable": True, "replay_unsafe": False, "can_reroute": True}
    assert decide("fail_open", err, **kw) == FAIL_OPEN
    assert decide("reroute", err, **kw) == RAISE
    assert decide("raise", err, **kw) == RAISE


@pytest.mark.parametrize("cause", [ConnectionFailed, NodeUnavailable, CommandError])
def test_partial_failure_is_also_the_node_error(cause: type[CachexError]) -> None:
    cls = partial_failure_class(cause)
    assert cls is partial_failure_class(cause) and partial_failure_class(cls) is cls
    err = cls("2 of 3 nodes", applied=["a"], not_applied=["b"], errors={"n1": cause("x")})
    assert isinstance(err, PartialFailure) and isinstance(err, cause)
    assert err.node == "n1"
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls and again.not_applied == ["b"] and again.applied == ["a"]


def test_partial_failure_for_keys_counts_without_keys() -> None:
    err = partial_failure_class(ConnectionFailed)(
        "cachex 'x': 1 of 3 nodes failed", errors={"10.0.0.2:6379": ConnectionFailed("down")})
    err.failed_batches = [1]
    told = err.for_keys("set_many", [[":1:a", ":1:b"], [":1:secret-c"], [":1:d"]],
                        {":1:a": "a", ":1:b": "b", ":1:secret-c": "secret-c", ":1:d": "d"})
    assert isinstance(told, ConnectionFailed)
    assert told.not_applied == ["secret-c"] and told.applied == ["a", "b", "d"]
    assert "1 of 4 keys not applied (1 on 10.0.0.2:6379), 3 applied" in str(told)
    assert "secret" not in str(told)


def test_oversize_needs_a_big_argument_and_a_telling_failure() -> None:
    big = b"x" * (FLOOR + 1)
    assert may_be_oversize(ConnectionFailed("reset"), [("SET", "k", big)]) == FLOOR + 1
    assert may_be_oversize(CommandError("ERR Protocol error: invalid bulk length"),
                           [("SET", "k", big)]) == FLOOR + 1
    assert may_be_oversize(ConnectionFailed("reset"), [("SET", "k", b"small")]) == 0
    assert may_be_oversize(NodeUnavailable("open"), [("SET", "k", big)]) == 0
    assert may_be_oversize(CommandError("WRONGTYPE"), [("SET", "k", big)]) == 0
    assert parse_limit({"proto-max-bulk-len": "1048576"}) == 1 << 20
    assert parse_limit([b"proto-max-bulk-len", b"2097152"]) == 2 << 20
    assert parse_limit({"n1": {"proto-max-bulk-len": "1048576"}}) == 1 << 20
    assert parse_limit(None) == parse_limit({}) == DEFAULT_LIMIT
    cause = ConnectionFailed("reset")
    assert too_large(10, 20, "n", cause) is cause
    err = too_large(30, 20, "n", cause)
    assert isinstance(err, ValueTooLarge) and err.size == 30 and err.limit == 20
