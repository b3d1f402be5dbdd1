"""Retries around one node round-trip, built on tenacity.

The first attempt runs bare (no tenacity on the hot path): the router calls ``recover`` only
after it failed, and a tenacity ``Retrying``/``AsyncRetrying`` runs the remaining attempts.
The decision "retry or not" is ``should_retry``, pure and shared by both loops.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)
from tenacity.stop import stop_base

from ..exceptions import CachexError
from ..stats import Stats, register
from ..translate import sent_before_failure
from .options import RetryOptions, error_class

T = TypeVar("T")
log = logging.getLogger("cachex.policy")


class RetryPolicy:
    """Decides whether and how to retry; ``recover``/``arecover`` are its two driver loops."""

    def __init__(self, options: RetryOptions, alias: str, stats: Stats | None = None, *,
                 follow_moves: bool = False) -> None:
        """``follow_moves``: the topology moves keys between nodes at run time (Cluster), so
        a call refused by an open circuit is retried like a connection error: the retry
        re-reads the slot map and follows the slot to the promoted replica."""
        self.options = options
        self.alias = alias
        self.stats = stats if stats is not None else register(alias)
        on = set(options.on)
        if follow_moves and "connection" in on:
            on.add("circuit_open")
        self._on = frozenset(on)
        self._enabled = options.attempts > 1 and bool(options.on) and options.deadline != 0

    def should_retry(self, exc: BaseException, idempotent: bool) -> bool:
        """Retry ``exc``? Only errors listed in ``on``; a command that is not idempotent only
        if it surely never reached the server, or ``replay_unsafe`` says replaying is fine."""
        if not self._enabled or error_class(exc) not in self._on:
            return False
        return idempotent or self.options.replay_unsafe or not sent_before_failure(exc)

    def wait_before(self, retry_number: int) -> tuple[float, float]:
        """The (lowest, highest) sleep before retry ``retry_number`` (1-based):
        ``backoff * 2**(n-1)``, plus up to one ``backoff`` of random jitter, capped at
        ``max_backoff``. Jitter keeps many clients from retrying in lockstep."""
        o = self.options
        low = min(o.backoff * 2 ** (retry_number - 1), o.max_backoff)
        high = min(low + (o.backoff if o.jitter else 0.0), o.max_backoff)
        return low, high

    def _wait(self, state: RetryCallState) -> float:
        low, high = self.wait_before(state.attempt_number)
        return low if high <= low else random.uniform(low, high)

    def _kwargs(self, idempotent: bool, where: str) -> dict[str, Any]:
        o = self.options
        stop: stop_base = stop_after_attempt(o.attempts - 1)
        if o.deadline is not None:
            stop = stop | stop_before_delay(o.deadline)
        stats, alias = self.stats, self.alias

        def before(state: RetryCallState) -> None:
            stats.incr("retries")

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            sleep = state.upcoming_sleep
            log.info("cachex %r: retrying %s in %.3fs after %s (attempt %d of %d)", alias,
                     where, sleep, exc, state.attempt_number + 2, o.attempts,
                     extra={"alias": alias, "node": where, "attempt": state.attempt_number + 2})

        return {"stop": stop, "wait": self._wait, "reraise": True, "before": before,
                "before_sleep": before_sleep,
                "retry": retry_if_exception(lambda e: self.should_retry(e, idempotent))}

    def _first_failure(self, first: CachexError, where: str) -> None:
        log.info("cachex %r: %s failed (%s), retrying", self.alias, where, first,
                 extra={"alias": self.alias, "node": where, "attempt": 1})

    def _gave_up(self, last: BaseException, where: str) -> None:
        self.stats.incr("give_ups")
        log.info("cachex %r: giving up on %s: %s", self.alias, where, last,
                    extra={"alias": self.alias, "node": where, "attempt": self.options.attempts})

    def recover(self, first: CachexError, again: Callable[[], T], *, idempotent: bool,
                where: str) -> T:
        """After ``first`` failed: run ``again`` under the policy, or re-raise ``first``."""
        if not self.should_retry(first, idempotent):
            raise first
        self._first_failure(first, where)
        try:
            return Retrying(**self._kwargs(idempotent, where))(again)
        except CachexError as last:
            self._gave_up(last, where)
            raise

    async def arecover(self, first: CachexError, again: Callable[[], Awaitable[T]], *,
                       idempotent: bool, where: str) -> T:
        if not self.should_retry(first, idempotent):
            raise first
        self._first_failure(first, where)

        async def attempt() -> T:  # tenacity awaits only what it sees is a coroutine function
            return await again()

        try:
            return await AsyncRetrying(**self._kwargs(idempotent, where))(attempt)
        except CachexError as last:
            self._gave_up(last, where)
            raise
