"""Values over the server's request limit (``proto-max-bulk-len``). Pure.

A server refuses a bulk argument longer than ``proto-max-bulk-len`` (512 MB unless set lower,
never below 1 MB) with "Protocol error: invalid bulk length" and closes the connection; a
client still sending a large value then sees "Connection reset by peer". Retrying such a
command re-sends the same megabytes to the same refusal. So after a command carrying an
argument of at least 1 MB fails that way, the router asks the node for its limit once (the
only I/O, done by the router) and, if the argument is over it, raises ``ValueTooLarge``
naming the size and the limit instead of retrying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import (
    CachexError,
    CommandError,
    ConnectionFailed,
    NodeUnavailable,
    PoolExhausted,
    ValueTooLarge,
)

FLOOR = 1 << 20  # the lowest proto-max-bulk-len a server accepts
DEFAULT_LIMIT = 512 << 20  # the servers' default, assumed when the node does not tell
LIMIT_QUERY = ("CONFIG", "GET", "proto-max-bulk-len")


def largest_argument(commands: Sequence[Sequence[Any]]) -> int:
    """Length of the longest bytes/str argument among ``commands``."""
    return max((len(a) for c in commands for a in c if isinstance(a, (bytes, str))), default=0)


def may_be_oversize(err: CachexError, commands: Sequence[Sequence[Any]]) -> int:
    """The longest argument's size when ``err`` may be the server refusing it, else 0."""
    if isinstance(err, (NodeUnavailable, PoolExhausted)):
        return 0
    if isinstance(err, ConnectionFailed) or (
            isinstance(err, CommandError) and "invalid bulk length" in str(err)):
        size = largest_argument(commands)
        return size if size > FLOOR else 0
    return 0


def parse_limit(reply: Any) -> int:
    """proto-max-bulk-len from a CONFIG GET reply (a dict, a flat list, or per-node dicts
    from a cluster client); the default when it cannot be read."""
    if isinstance(reply, dict):
        for key, value in reply.items():
            if isinstance(value, dict):
                return parse_limit(value)
            if _text(key) == "proto-max-bulk-len":
                return _int(value)
    if isinstance(reply, (list, tuple)) and len(reply) >= 2:
        return _int(reply[1])
    return DEFAULT_LIMIT


def too_large(size: int, limit: int, where: str, cause: CachexError) -> CachexError:
    """``ValueTooLarge`` when ``size`` is over ``limit``, else ``cause`` unchanged."""
    if size <= limit:
        return cause
    err = ValueTooLarge(
        f"{where}: a value of {size} bytes is over the server's request limit "
        f"(proto-max-bulk-len = {limit} bytes); the server refused it and closed the "
        "connection. Store smaller values (compress them, or split them), or raise "
        "proto-max-bulk-len on the server", size=size, limit=limit)
    err.__cause__ = cause
    return err


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    try:
        return int(_text(value))
    except ValueError:
        return DEFAULT_LIMIT
