"""The one error tree cachex raises.

Driver exceptions (redis-py, valkey-py) are translated at the topology boundary so that
callers can catch ``CachexError`` whatever driver or topology an alias uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


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

    #: the command, key and node as the alias shows them (``OPTIONS['log_keys']``)
    where: str = ""


class CrossSlotError(CachexError, ValueError):
    """A multi-key command that must be atomic spans several nodes or slots."""


class CommandError(CachexError):
    """The server rejected a command for a reason cachex does not translate further."""


class LockError(CachexError):
    """A lock could not be acquired in time, or was used wrongly."""


class LockNotOwned(LockError):
    """Release or extend of a lock this holder no longer owns (it expired, or was taken)."""


class PoolExhausted(ConnectionFailed):
    """Every connection of a bounded pool (``OPTIONS['pool']['max_connections']``) stayed busy
    for the whole ``pool_timeout``.

    The node itself is fine: this is back-pressure from this process, so it is neither
    retried nor counted by the circuit breaker. It subclasses ``ConnectionFailed`` because
    that is what callers caught for an exhausted pool before (the driver's "Too many
    connections").
    """

    def __init__(self, message: str, *, node: str | None = None, size: int = 0,
                 waited: float | None = None) -> None:
        super().__init__(message, node=node)
        self.size = size
        self.waited = waited


class PartialFailure(CachexError):
    """A request over several nodes was applied on some of them and not on others.

    ``applied`` and ``not_applied`` list the caller's keys (for ``clear``: node labels);
    ``errors`` maps each failed node's label to its error. "Not applied" means "not
    confirmed": a node that timed out may have applied some of its keys. The message names
    nodes and counts only, never keys.

    The instance raised also subclasses the class of the first node's error
    (``ConnectionFailed``, ``CommandError``, ...), so ``except`` clauses written for the
    error a multi-node request raised before keep catching it.
    """

    applied: list[object]
    not_applied: list[object]
    errors: dict[str, BaseException]
    node: str | None
    failed_batches: list[int]  # the router's batch indexes that failed (for the facade)

    def __init__(self, message: str, *, applied: Sequence[object] | None = None,
                 not_applied: Sequence[object] | None = None,
                 errors: dict[str, BaseException] | None = None) -> None:
        Exception.__init__(self, message)
        self.applied = list(applied or [])
        self.not_applied = list(not_applied or [])
        self.errors = dict(errors or {})
        self.node = next(iter(self.errors), None)
        self.failed_batches = []

    def for_keys(self, what: str, keys_per_batch: Sequence[Sequence[object]],
                 caller: Mapping[object, object] | None = None) -> PartialFailure:
        """The same failure told in the caller's keys: ``keys_per_batch`` lists each
        batch's keys (as sent), ``caller`` maps them back to the keys the caller gave."""
        failed = set(self.failed_batches)

        def mine(keys: Sequence[object]) -> list[object]:
            return list(keys) if caller is None else [caller.get(k, k) for k in keys]

        applied = [k for i, keys in enumerate(keys_per_batch) if i not in failed
                   for k in mine(keys)]
        not_applied = [k for i in sorted(failed) for k in mine(keys_per_batch[i])]
        per_node = ", ".join(
            f"{len(keys_per_batch[i])} on {node}"
            for i, node in zip(sorted(failed), self.errors, strict=False))
        err = type(self)(
            f"{what}: {len(not_applied)} of {len(applied) + len(not_applied)} keys not "
            f"applied ({per_node}), {len(applied)} applied. {self.args[0]}",
            applied=applied, not_applied=not_applied, errors=self.errors)
        err.failed_batches = self.failed_batches
        err.__cause__ = self.__cause__
        return err

    _cause: type[BaseException] = CachexError  # the error class this one also is

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_partial, (self._cause, self.args[0], self.applied,
                                   self.not_applied, self.errors))


_partial_classes: dict[type[BaseException], type[PartialFailure]] = {}


def partial_failure_class(cause: type[BaseException]) -> type[PartialFailure]:
    """The ``PartialFailure`` subclass that is also a ``cause`` (one class per cause)."""
    if issubclass(cause, PartialFailure):
        cause = cause._cause
    if not issubclass(cause, CachexError) or cause is CachexError:
        return PartialFailure
    cls = _partial_classes.get(cause)
    if cls is None:
        cls = _partial_classes[cause] = type(
            f"Partial{cause.__name__}", (PartialFailure, cause),
            {"__module__": __name__, "__doc__": PartialFailure.__doc__, "_cause": cause})
    return cls


def _rebuild_partial(cause: type[BaseException], message: str, applied: list[object],
                     not_applied: list[object], errors: dict[str, BaseException]
                     ) -> PartialFailure:
    return partial_failure_class(cause)(message, applied=applied, not_applied=not_applied,
                                        errors=errors)


class ValueTooLarge(CommandError, ValueError):
    """A value is over the server's request limit (``proto-max-bulk-len``); not retried."""

    def __init__(self, message: str, *, size: int = 0, limit: int = 0) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit
