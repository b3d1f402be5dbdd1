"""Retries around one node round-trip, built on tenacity.

The first attempt runs bare (no tenacity on the hot path); only when it fails with an error
the policy covers does a tenacity ``Retrying``/``AsyncRetrying`` take over the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_exponential_jitter,
)

from ..exceptions import CachexError
from ..translate import sent_before_failure
from .options import RetryOptions

T = TypeVar("T")
log = logging.getLogger("cachex.retry")


class RetryPolicy:
    """Decides whether and how to retry; the two driver loops below are its only I/O."""

    def __init__(self, options: RetryOptions, alias: str) -> None:
        self.options = options
        self.alias = alias
        self.retry_on = options.retry_on

    def should_retry(self, exc: BaseException, idempotent: bool) -> bool:
        if self.options.attempts < 2 or not isinstance(exc, self.retry_on):
            return False
        return idempotent or self.options.replay_unsafe or not sent_before_failure(exc)

    def _kwargs(self, idempotent: bool, where: str) -> dict[str, Any]:
        o = self.options
        stop = stop_after_attempt(o.attempts - 1)
        if o.deadline is not None:
            stop = stop | stop_after_delay(o.deadline)
        wait = (wait_exponential_jitter(initial=o.backoff, max=o.max_backoff) if o.jitter
                else wait_exponential(multiplier=o.backoff, max=o.max_backoff))

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("cachex %r: retrying %s after %s (attempt %d of %d)", self.alias,
                        where, exc, state.attempt_number + 1, o.attempts)

        return {"stop": stop, "wait": wait, "reraise": True, "before_sleep": before_sleep,
                "retry": retry_if_exception(lambda e: self.should_retry(e, idempotent))}

    def recover(self, first: CachexError, again: Callable[[], T], *, idempotent: bool,
                where: str) -> T:
        """After ``first`` failed: retry ``again`` per policy, or re-raise ``first``."""
        if not self.should_retry(first, idempotent):
            raise first
        log.info("cachex %r: %s failed (%s), retrying", self.alias, where, first)
        return Retrying(**self._kwargs(idempotent, where))(again)

    async def arecover(self, first: CachexError, again: Callable[[], Awaitable[T]], *,
                       idempotent: bool, where: str) -> T:
        if not self.should_retry(first, idempotent):
            raise first
        log.info("cachex %r: %s failed (%s), retrying", self.alias, where, first)
        return await AsyncRetrying(**self._kwargs(idempotent, where))(again)
