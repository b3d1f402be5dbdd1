"""RetryPolicy decisions and its two tenacity loops, with stand-in attempts (no servers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from cachex.exceptions import (
    CachexError,
    CommandError,
    CommandTimeout,
    ConnectionFailed,
    NodeUnavailable,
)
from cachex.policy import RetryOptions, RetryPolicy
from cachex.stats import Stats
from cachex.translate import sent_before_failure, unreachable

# What translate() makes of redis-py's errors (the driver text is kept in the message).
REFUSED = ("GET 'k' on n1: connection failed (Error 111 connecting to localhost:1. "
           "Connection refused.)")
RESET = ("GET 'k' on n1: connection failed (Error while reading from localhost:1 : "
         "(104, 'Connection reset by peer'))")


def policy(**kw: object) -> RetryPolicy:
    options = RetryOptions(**{"backoff": 0.0, "jitter": False, **kw})  # type: ignore[arg-type]
    return RetryPolicy(options, "unit", Stats("unit"))


def failing(errors: list[CachexError], then: object = "ok") -> tuple[Callable[[], object],
                                                                      list[int]]:
    """An attempt that raises ``errors`` in turn, then returns ``then``."""
    calls = [0]

    def attempt() -> object:
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        return then

    return attempt, calls


def test_sent_before_failure_reads_the_driver_text() -> None:
    assert not sent_before_failure(ConnectionFailed(REFUSED))
    assert not sent_before_failure(NodeUnavailable("circuit open"))
    assert sent_before_failure(ConnectionFailed(RESET))
    assert sent_before_failure(CommandTimeout("GET: timed out (Timeout reading from socket)"))


def test_idempotent_commands_retry_on_listed_errors_only() -> None:
    p = policy(attempts=3)
    assert p.should_retry(ConnectionFailed(RESET), idempotent=True)
    assert not p.should_retry(CommandTimeout("t"), idempotent=True)  # not in the default "on"
    assert not p.should_retry(CommandError("WRONGTYPE"), idempotent=True)
    assert not p.should_retry(NodeUnavailable("open"), idempotent=True)
    assert policy(attempts=3, on=("timeout",)).should_retry(CommandTimeout("t"), True)


def test_unsafe_commands_replay_only_when_never_sent_or_allowed() -> None:
    p = policy(attempts=3)
    assert not p.should_retry(ConnectionFailed(RESET), idempotent=False)
    assert p.should_retry(ConnectionFailed(REFUSED), idempotent=False)
    assert policy(attempts=3, replay_unsafe=True).should_retry(ConnectionFailed(RESET), False)


def test_one_attempt_means_no_retry() -> None:
    assert not policy(attempts=1).should_retry(ConnectionFailed(REFUSED), True)
    assert not policy(attempts=3, deadline=0).should_retry(ConnectionFailed(REFUSED), True)


def test_recover_retries_until_success_and_counts() -> None:
    p = policy(attempts=4)
    again, calls = failing([ConnectionFailed(RESET), ConnectionFailed(RESET)])
    assert p.recover(ConnectionFailed(RESET), again, idempotent=True, where="w") == "ok"
    assert calls[0] == 3
    assert p.stats.snapshot()["retries"] == 3
    assert p.stats.snapshot()["give_ups"] == 0


def test_recover_stops_after_attempts_and_raises_the_last_error() -> None:
    p = policy(attempts=3)
    last = ConnectionFailed(RESET + " last")
    again, calls = failing([ConnectionFailed(RESET), last])
    with pytest.raises(ConnectionFailed) as info:
        p.recover(ConnectionFailed(RESET), again, idempotent=True, where="w")
    assert info.value is last
    assert calls[0] == 2  # attempts counts the first (bare) try too
    assert p.stats.snapshot()["give_ups"] == 1


def test_recover_reraises_the_first_error_when_not_retryable() -> None:
    p = policy(attempts=3)
    first = ConnectionFailed(RESET)
    again, calls = failing([])
    with pytest.raises(ConnectionFailed) as info:
        p.recover(first, again, idempotent=False, where="w")
    assert info.value is first and calls[0] == 0


def test_an_open_circuit_ends_the_retries_at_once() -> None:
    p = policy(attempts=10)
    again, calls = failing([NodeUnavailable("open"), ConnectionFailed(RESET)])
    with pytest.raises(NodeUnavailable):
        p.recover(ConnectionFailed(RESET), again, idempotent=True, where="w")
    assert calls[0] == 1


def test_the_deadline_stops_retries_that_would_start_too_late() -> None:
    p = policy(attempts=100, backoff=0.05, max_backoff=0.05, deadline=0.2)
    errors = [ConnectionFailed(RESET) for _ in range(100)]
    again, calls = failing(errors)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed):
        p.recover(ConnectionFailed(RESET), again, idempotent=True, where="w")
    took = time.monotonic() - started
    assert 2 <= calls[0] <= 5  # ~0.2 s of 0.05 s sleeps, not 99 attempts
    assert took < 1.0


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    p = RetryPolicy(RetryOptions(backoff=0.1, max_backoff=0.25, jitter=True), "unit", Stats("u"))
    assert p.wait_before(1) == (0.1, 0.2)
    assert p.wait_before(2) == (0.2, 0.25)
    assert p.wait_before(3) == (0.25, 0.25)


def test_arecover_runs_the_same_policy() -> None:
    p = policy(attempts=3)
    calls = [0]

    async def again() -> str:
        calls[0] += 1
        if calls[0] == 1:
            raise ConnectionFailed(RESET)
        return "ok"

    assert asyncio.run(p.arecover(ConnectionFailed(RESET), again, idempotent=True,
                                  where="w")) == "ok"
    assert calls[0] == 2

    async def never() -> str:
        raise AssertionError("must not be called")

    with pytest.raises(ConnectionFailed):
        asyncio.run(p.arecover(ConnectionFailed(RESET), never, idempotent=False, where="w"))


def test_only_current_unreachability_feeds_the_breaker() -> None:
    assert unreachable(ConnectionFailed(REFUSED))
    assert unreachable(CommandTimeout("GET: timed out (Timeout reading from socket)"))
    assert not unreachable(ConnectionFailed(RESET))  # a stale pooled connection, maybe
    assert not unreachable(NodeUnavailable("open"))
    assert not unreachable(CommandError("WRONGTYPE"))
