"""OPTIONS['retry'] -> RetryOptions. Pure validation with messages that name the fix."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import ClusterDown, CommandTimeout, ConnectionFailed, ReadOnlyNode

# error class names a user may list under "on"; "connection" excludes timeouts on purpose
ERROR_CLASSES: dict[str, tuple[type[Exception], ...]] = {
    "connection": (ConnectionFailed,),
    "timeout": (CommandTimeout,),
    "cluster_down": (ClusterDown,),
    "readonly": (ReadOnlyNode,),
}
RETRY_KEYS = ("attempts", "backoff", "max_backoff", "jitter", "deadline", "on", "replay_unsafe")


@dataclass(frozen=True)
class RetryOptions:
    """How an alias retries. ``attempts`` counts every try, the first one included.

    The default (2 attempts, on connection errors and failovers) retries once, at once, which
    is what a pooled connection broken by a server restart needs; timeouts are not retried
    unless asked, so a hung node costs one timeout per call, not two.
    """

    attempts: int = 2
    backoff: float = 0.05
    max_backoff: float = 1.0
    jitter: bool = True
    deadline: float | None = 2.0
    on: tuple[str, ...] = ("connection", "cluster_down", "readonly")
    replay_unsafe: bool = False

    @property
    def retry_on(self) -> tuple[type[Exception], ...]:
        out: tuple[type[Exception], ...] = ()
        for name in self.on:
            out += ERROR_CLASSES[name]
        return out


def parse_retry(raw: Any) -> RetryOptions:
    """Validate OPTIONS['retry'] (a dict, None/False for no retries, or RetryOptions)."""
    if isinstance(raw, RetryOptions):
        return raw
    if raw is None or raw is False:
        return RetryOptions(attempts=1)
    if not isinstance(raw, Mapping):
        raise ValueError(f"OPTIONS['retry'] must be a dict (or None to disable), got {raw!r}")
    unknown = [k for k in raw if k not in RETRY_KEYS]
    if unknown:
        raise ValueError(f"unknown OPTIONS['retry'] key {unknown[0]!r}; accepted: "
                         f"{', '.join(RETRY_KEYS)}")
    base = RetryOptions()
    attempts = raw.get("attempts", base.attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"OPTIONS['retry']['attempts'] must be a whole number >= 1 "
                         f"(1 = no retry), got {attempts!r}")
    on = raw.get("on", base.on)
    if isinstance(on, str) or not all(isinstance(n, str) for n in on):
        raise ValueError("OPTIONS['retry']['on'] must be a list of error class names, "
                         f"for example ['connection', 'timeout']; got {on!r}")
    bad = [n for n in on if n not in ERROR_CLASSES]
    if bad:
        raise ValueError(f"unknown error class {bad[0]!r} in OPTIONS['retry']['on']; "
                         f"known: {', '.join(ERROR_CLASSES)}")
    deadline = raw.get("deadline", base.deadline)
    return RetryOptions(
        attempts=attempts,
        backoff=_seconds(raw.get("backoff", base.backoff), "backoff"),
        max_backoff=_seconds(raw.get("max_backoff", base.max_backoff), "max_backoff"),
        jitter=bool(raw.get("jitter", base.jitter)),
        deadline=None if deadline is None else _seconds(deadline, "deadline"),
        on=tuple(on),
        replay_unsafe=bool(raw.get("replay_unsafe", False)),
    )


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or value < 0:
        raise ValueError(f"OPTIONS['retry'][{name!r}] must be a number of seconds >= 0, "
                         f"got {value!r}")
    return float(value)
