"""The one error tree cachex raises.

Driver exceptions (redis-py, valkey-py) are translated at the topology boundary so that
callers can catch ``CachexError`` whatever driver or topology an alias uses.
"""

from __future__ import annotations


class CachexError(Exception):
    """Root of every error cachex raises."""


class ConnectionFailed(CachexError, ConnectionError):
    """A node could not be reached, or the connection broke mid-command."""

    def __init__(self, message: str, *, node: str | None = None) -> None:
        super().__init__(message)
        self.node = node


class CommandTimeout(ConnectionFailed, TimeoutError):
    """A node did not answer within the socket timeout.

    The command may or may not have been applied: that is why non-idempotent commands are
    not replayed after a timeout unless the retry policy says so.
    """


class NodeUnavailable(ConnectionFailed):
    """The circuit breaker for a node is open, so no network call was made."""


class ReadOnlyNode(CachexError):
    """A write reached a replica (for example, just after a failover demoted the primary)."""


class ClusterDown(CachexError):
    """The cluster does not serve the slot right now (CLUSTERDOWN / TRYAGAIN)."""


class NotAnInteger(CachexError, TypeError):
    """``incr``/``decr`` hit a value that is not stored as an integer.

    Subclasses ``TypeError`` because that is what Django's other backends raise for the same
    mistake (``None + 1``), so code written against Django's contract keeps working.
    """


class WrongType(CachexError, TypeError):
    """A data-structure command met a key holding another type (Redis WRONGTYPE)."""


class CrossSlotError(CachexError, ValueError):
    """A multi-key command that must be atomic spans several nodes or slots."""


class CommandError(CachexError):
    """The server rejected a command for a reason cachex does not translate further."""


class LockError(CachexError):
    """A lock could not be acquired in time, or was used wrongly."""


class LockNotOwned(LockError):
    """Release or extend of a lock this holder no longer owns (it expired, or was taken)."""
