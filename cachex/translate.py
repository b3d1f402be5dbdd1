"""Driver exceptions -> cachex exceptions, at the topology boundary. Pure."""

from __future__ import annotations

from .drivers import Driver
from .exceptions import (
    CachexError,
    ClusterDown,
    CommandError,
    CommandTimeout,
    ConnectionFailed,
    NodeUnavailable,
    NotAnInteger,
    PoolExhausted,
    ReadOnlyNode,
    WrongType,
)


def translate(exc: BaseException, driver: Driver, where: str) -> CachexError:
    """A cachex error that says what failed and where; the driver error stays as __cause__."""
    text = str(exc)
    if isinstance(exc, driver.timeout_error):
        err: CachexError = CommandTimeout(f"{where}: timed out ({text})", node=where)
    elif isinstance(exc, driver.connection_error):
        err = ConnectionFailed(f"{where}: connection failed ({text})", node=where)
    elif isinstance(exc, driver.readonly_error):
        err = ReadOnlyNode(f"{where}: write reached a read-only replica ({text})")
    elif isinstance(exc, (driver.cluster_down_error, driver.try_again_error)):
        err = ClusterDown(f"{where}: cluster cannot serve the request right now ({text})")
    elif text.startswith("WRONGTYPE"):
        err = WrongType(f"{where}: {text}")
        err.where = where
    elif "not an integer" in text or "increment or decrement would overflow" in text:
        err = NotAnInteger(f"{where}: the stored value is not an integer ({text})")
    else:
        err = CommandError(f"{where}: {text}")
    err.__cause__ = exc
    return err


def sent_before_failure(exc: BaseException) -> bool:
    """Whether a failed command may have reached the server (then replay is unsafe).

    Refused or timed-out *connects* and open circuits never sent anything; a failure after
    the connection was up might have. A full pool never got a connection to send on.
    """
    if isinstance(exc, (NodeUnavailable, PoolExhausted)):
        return False
    text = str(exc.__cause__ or exc)
    return not ("connecting to" in text or "Timeout connecting" in text)


def broke_once_up(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection that failed after it was up (reset, closed by the
    peer), not a connect that failed, a full pool, an open circuit or a timeout."""
    return (isinstance(exc, ConnectionFailed)
            and not isinstance(exc, (NodeUnavailable, PoolExhausted))
            and sent_before_failure(exc))


def unreachable(exc: BaseException) -> bool:
    """Whether a failure shows the node cannot be reached *now* (what the circuit breaker
    counts): a connect that failed, or a command that timed out. A reset or closed pooled
    connection is not counted by itself: it is often a stale connection from before a
    restart, and the retry's fresh connect tells whether the node is really gone.
    """
    if isinstance(exc, (NodeUnavailable, PoolExhausted)) \
            or not isinstance(exc, ConnectionFailed):
        return False
    return isinstance(exc, CommandTimeout) or not sent_before_failure(exc)

