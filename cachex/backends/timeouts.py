"""Django timeouts -> Redis expiry. Pure."""

from __future__ import annotations

from typing import Any

PERSIST = None  # no expiry
GONE = 0  # a timeout <= 0: the value must not be readable afterwards


def expiry_ms(timeout: Any) -> int | None:
    """Milliseconds to live, ``None`` for no expiry, ``0`` for "do not keep".

    Milliseconds rather than Django's whole seconds, so a float timeout such as 0.5 keeps
    its meaning; anything positive lives at least 1 ms.
    """
    if timeout is None:
        return PERSIST
    ms = int(timeout * 1000)
    if ms <= 0:
        return 1 if timeout > 0 else GONE
    return ms


def set_args(key: str, value: Any, ms: int | None) -> tuple[Any, ...]:
    """The SET command for a value that must be kept (``ms`` is None or > 0)."""
    if ms is None:
        return ("SET", key, value)
    return ("SET", key, value, "PX", ms)
