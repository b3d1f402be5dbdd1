"""Django timeouts -> Redis expiry, and the incr delta check. Pure."""

from __future__ import annotations

import math
from typing import Any

PERSIST = None  # no expiry
GONE = 0  # a timeout <= 0: the value must not be readable afterwards
# Redis refuses an expiry whose absolute time overflows a signed 64-bit count of ms; this
# bound (about 146 million years) leaves room for any clock.
MAX_MS = 2**62


def expiry_ms(timeout: Any) -> int | None:
    """Milliseconds to live, ``None`` for no expiry, ``0`` for "do not keep".

    Milliseconds rather than Django's whole seconds, so a float timeout such as 0.5 keeps
    its meaning; anything positive lives at least 1 ms. A timeout that is not a number, is
    not finite or is beyond what Redis can store raises here, naming the problem, instead of
    coming back from the server as an unrelated error.
    """
    if timeout is None:
        return PERSIST
    kind = type(timeout)
    if kind is int or (kind is float and _finite(timeout)):
        ms = int(timeout * 1000)
    else:
        ms = _other_ms(timeout)
    if ms <= 0:
        return 1 if timeout > 0 else GONE
    if ms > MAX_MS:
        raise ValueError(f"timeout={timeout!r} seconds is beyond what Redis can store "
                         f"(at most {MAX_MS // 1000} s); use timeout=None for no expiry")
    return ms


_finite = math.isfinite


def _other_ms(timeout: Any) -> int:
    """Milliseconds for any other number type (bool, Decimal, Fraction, subclasses)."""
    try:
        if isinstance(timeout, (str, bytes)):  # "10" * 1000 would be a 2000-char string
            raise TypeError
        ms = int(timeout * 1000)
        if not _finite(timeout):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise _bad_timeout(timeout) from None
    return ms


def _bad_timeout(timeout: Any) -> Exception:
    if isinstance(timeout, (int, float)):  # nan, inf
        return ValueError(f"timeout={timeout!r} is not a finite number of seconds; use "
                          "timeout=None for no expiry")
    return TypeError(f"timeout must be a number of seconds or None, not "
                     f"{type(timeout).__name__} {timeout!r}")


def set_args(key: str, value: Any, ms: int | None) -> tuple[Any, ...]:
    """The SET command for a value that must be kept (``ms`` is None or > 0)."""
    if ms is None:
        return ("SET", key, value)
    return ("SET", key, value, "PX", ms)


INT64 = 2**63


def check_delta(delta: Any) -> None:
    """``incr``/``decr`` add a whole number within Redis's signed 64-bit range; say so here
    rather than let the server answer "value is not an integer" about the stored value."""
    if not isinstance(delta, int):
        raise TypeError(f"incr()/decr() delta must be an int, not {type(delta).__name__} "
                        f"{delta!r}")
    if not -INT64 <= delta < INT64:
        raise ValueError(f"incr()/decr() delta {delta} is outside Redis's signed 64-bit "
                         "integer range")
