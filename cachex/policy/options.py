"""OPTIONS['retry'] and OPTIONS['failover'] -> frozen option records. Pure validation.

Every message names the offending key and what would be accepted; ``build_policy`` callers turn
the ``ValueError`` into ``ImproperlyConfigured`` naming the alias.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import (
    ClusterDown,
    CommandTimeout,
    ConnectionFailed,
    NodeUnavailable,
    PoolExhausted,
    ReadOnlyNode,
)
from ..optioncheck import reject_unknown

# The error class names a user may list under OPTIONS['retry']['on'].
ERROR_CLASSES = ("connection", "timeout", "cluster_down", "readonly")
RETRY_KEYS = ("attempts", "backoff", "max_backoff", "jitter", "deadline", "on", "replay_unsafe")
FAILOVER_KEYS = ("mode", "threshold", "cooldown")
MODES = ("raise", "fail_open", "reroute")


def error_class(exc: BaseException) -> str | None:
    """The ``on`` name an error belongs to, or None for errors no policy retries.

    A timeout is not a "connection" error here (although ``CommandTimeout`` subclasses
    ``ConnectionFailed``): retrying a timeout doubles the wait on a hung node, so it has to
    be asked for. An open circuit is "circuit_open", which users cannot list: retrying it is
    pointless where nodes are fixed servers (the circuit stays open for its cooldown), and
    only a Cluster policy retries it, because there the retry re-reads the slot map. A full
    pool is "pool", never retried either: the caller has already waited ``pool_timeout``
    for a connection, and the node is not at fault.
    """
    if isinstance(exc, NodeUnavailable):
        return "circuit_open"
    if isinstance(exc, PoolExhausted):
        return "pool"
    if isinstance(exc, CommandTimeout):
        return "timeout"
    if isinstance(exc, ConnectionFailed):
        return "connection"
    if isinstance(exc, ClusterDown):
        return "cluster_down"
    if isinstance(exc, ReadOnlyNode):
        return "readonly"
    return None


@dataclass(frozen=True)
class RetryOptions:
    """How an alias retries. ``attempts`` counts every try, the first one included.

    The default (2 attempts, on connection errors and failovers) retries once, which is what a
    pooled connection broken by a server restart needs; timeouts are not retried unless asked,
    so a hung node costs one timeout per call, not two.
    """

    attempts: int = 2
    backoff: float = 0.05
    max_backoff: float = 1.0
    jitter: bool = True
    deadline: float | None = 2.0
    on: tuple[str, ...] = ("connection", "cluster_down", "readonly")
    replay_unsafe: bool = False


@dataclass(frozen=True)
class FailoverOptions:
    """What an alias does when a node stays unreachable.

    ``threshold`` consecutive failures to reach a node open its circuit (0 disables the
    breaker; the default is 3, or 0 for sentinel and cluster); for ``cooldown`` seconds the
    node gets no traffic, then one probe is let through. ``mode`` says what callers see
    meanwhile: the error (``raise``), a miss or a dropped write (``fail_open``), or the next
    shard's answer (``reroute``).
    """

    mode: str = "raise"
    threshold: int = 3
    cooldown: float = 5.0


def parse_retry(raw: Any) -> RetryOptions:
    """Validate OPTIONS['retry'] (a dict, None/False for no retries, or RetryOptions)."""
    if isinstance(raw, RetryOptions):
        return raw
    if raw is None or raw is False:
        return RetryOptions(attempts=1)
    if not isinstance(raw, Mapping):
        raise ValueError(f"OPTIONS['retry'] must be a dict (or None to disable), got {raw!r}")
    reject_unknown(raw, RETRY_KEYS, "OPTIONS['retry']")
    base = RetryOptions()
    attempts = raw.get("attempts", base.attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"OPTIONS['retry']['attempts'] must be a whole number >= 1 "
                         f"(1 = no retry), got {attempts!r}")
    on = raw.get("on", base.on)
    if isinstance(on, (str, bytes)) or not isinstance(on, (list, tuple, set, frozenset)) \
            or not all(isinstance(n, str) for n in on):
        raise ValueError("OPTIONS['retry']['on'] must be a list of error class names, "
                         f"for example ['connection', 'timeout']; got {on!r}")
    bad = [n for n in on if n not in ERROR_CLASSES]
    if bad:
        raise ValueError(f"unknown error class {bad[0]!r} in OPTIONS['retry']['on']; "
                         f"known: {', '.join(ERROR_CLASSES)}")
    deadline = raw.get("deadline", base.deadline)
    return RetryOptions(
        attempts=attempts,
        backoff=_seconds(raw.get("backoff", base.backoff), "retry", "backoff"),
        max_backoff=_seconds(raw.get("max_backoff", base.max_backoff), "retry", "max_backoff"),
        jitter=_flag(raw.get("jitter", base.jitter), "retry", "jitter"),
        deadline=None if deadline is None else _seconds(deadline, "retry", "deadline"),
        on=tuple(dict.fromkeys(on)),
        replay_unsafe=_flag(raw.get("replay_unsafe", False), "retry", "replay_unsafe"),
    )


def default_threshold(topology: str) -> int:
    """3 where a node is a fixed server; 0 (no breaker) for sentinel and cluster, where a
    failover moves the role to another server within seconds: an open circuit would go on
    refusing calls for its whole cooldown after that, while retries ride through."""
    return 0 if topology in ("sentinel", "cluster") else FailoverOptions.threshold


def parse_failover(raw: Any, topology: str) -> FailoverOptions:
    """Validate OPTIONS['failover'] (a dict, None for the default, or FailoverOptions)."""
    if raw is None:
        options = FailoverOptions(threshold=default_threshold(topology))
    elif isinstance(raw, FailoverOptions):
        options = raw
    elif isinstance(raw, Mapping):
        reject_unknown(raw, FAILOVER_KEYS, "OPTIONS['failover']")
        base = FailoverOptions()
        threshold = raw.get("threshold", default_threshold(topology))
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise ValueError("OPTIONS['failover']['threshold'] must be a whole number >= 0 "
                             f"(0 turns the circuit breaker off), got {threshold!r}")
        options = FailoverOptions(
            mode=raw.get("mode", base.mode), threshold=threshold,
            cooldown=_seconds(raw.get("cooldown", base.cooldown), "failover", "cooldown"),
        )
    else:
        raise ValueError("OPTIONS['failover'] must be a dict such as "
                         f"{{'mode': 'fail_open', 'threshold': 3, 'cooldown': 5.0}}, got {raw!r}")
    if options.mode not in MODES:
        raise ValueError(f"OPTIONS['failover']['mode'] = {options.mode!r} is not a mode; "
                         f"use one of {', '.join(MODES)}")
    if options.mode == "reroute" and topology != "sharded":
        raise ValueError(f"OPTIONS['failover']['mode'] = 'reroute' needs client-side shards "
                         f"(a list of server URLs); the {topology} topology has no other node "
                         "to take over a node's keys. Use 'raise' or 'fail_open'")
    return options


def _seconds(value: Any, section: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or value < 0 or math.isinf(value):
        raise ValueError(f"OPTIONS[{section!r}][{name!r}] must be a number of seconds >= 0, "
                         f"got {value!r}")
    return float(value)


def _flag(value: Any, section: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"OPTIONS[{section!r}][{name!r}] must be True or False, got {value!r}")
    return value
