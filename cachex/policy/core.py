"""One alias's policy: retries, circuit breaker, failover mode and counters, built from OPTIONS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..stats import Stats, register
from .breaker import CircuitBreaker
from .failover import decide
from .options import FailoverOptions, RetryOptions, parse_failover, parse_retry
from .retry import RetryPolicy


@dataclass
class Policy:
    """Everything the router consults once a call failed; nothing of it runs before."""

    alias: str
    retry: RetryPolicy
    failover: FailoverOptions
    breaker: CircuitBreaker | None
    stats: Stats

    @classmethod
    def from_retry(cls, retry: RetryPolicy, failover: FailoverOptions | None = None) -> Policy:
        failover = failover or FailoverOptions()
        return cls(retry.alias, retry, failover, make_breaker(failover), retry.stats)

    def decide(self, err: BaseException, *, idempotent: bool, degradable: bool,
               can_reroute: bool) -> str:
        """raise / fail_open / reroute for a step whose retries are exhausted."""
        return decide(self.failover.mode, err, idempotent=idempotent, degradable=degradable,
                      replay_unsafe=self.retry.options.replay_unsafe, can_reroute=can_reroute)


def make_breaker(failover: FailoverOptions) -> CircuitBreaker | None:
    if failover.threshold < 1:
        return None
    return CircuitBreaker(failover.threshold, failover.cooldown)


def policy_options(options: Mapping[str, Any],
                   topology: str) -> tuple[RetryOptions, FailoverOptions]:
    """The checked retry and failover options, nothing built (what the system checks run)."""
    raw_retry = options.get("retry", {})
    retry = raw_retry.options if isinstance(raw_retry, RetryPolicy) else parse_retry(raw_retry)
    return retry, parse_failover(options.get("failover"), topology)


def build_policy(options: Mapping[str, Any], alias: str, topology: str) -> Policy:
    """The policy for one alias from its OPTIONS; ValueError (naming the key) when invalid.

    ``OPTIONS['retry']`` may be a dict, None/False (no retries), a ``RetryOptions`` or a ready
    ``RetryPolicy``; ``OPTIONS['failover']`` a dict, None or a ``FailoverOptions``.
    """
    retry_options, failover = policy_options(options, topology)
    stats = register(alias)
    retry = RetryPolicy(retry_options, alias, stats, follow_moves=topology == "cluster")
    return Policy(alias, retry, failover, make_breaker(failover), stats)
