"""A few connections kept between wire batches, in front of the driver's sync pool.

Why: checking a connection out of redis-py 8's pool and back takes locks, a fork check and
instrumentation hooks, paid once per node per multi-key call; over several shards that is a
visible share of a ``get_many`` (see ``python -m benchmarks --profile``). A connection
parked here skips that, and is still checked the way the pool checks it: same process,
still connected, nothing unread on the socket (a closed or dirty connection goes back to the
pool, which reconnects it). The pool still owns every
connection: ``max_connections`` holds, and ``drain`` hands parked ones back (on disconnect).
A bounded pool parks nothing: callers waiting on it for a free connection would not see one
parked here.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any

from . import seam

PARK = 8  # connections parked per pool at most; more go back to the pool
QUIET_AFTER_FAILURE = 1.0  # seconds without parking once a pool's connection broke


class Idle:
    """Parked sync connections, kept on each pool object (``seam.pool_state``) behind one
    lock (threads share the pools).

    The decisions (``_pop``, ``_keep``, ``_pause``) are written once for both sides, over
    the same per-pool state; ``AsyncIdle`` differs only where the driver is awaited."""

    __slots__ = ("__weakref__", "_checkout", "_lock", "_park")
    asynchronous = False

    def __init__(self, checkout: Any, park: int = PARK) -> None:
        self._checkout = checkout  # the driver's pool checkout (its signature differs)
        self._park = park  # at most this many parked per pool (0: none, for bounded pools)
        self._reset()
        _instances.add(self)

    def _reset(self) -> None:
        """A new lock (also in a forked child: another thread may have held the old one at
        fork time); the parent's parked connections are refused by ``_pop``'s pid check."""
        self._lock = threading.Lock()

    # Twins (``take``, ``give``, ``failed`` of ``Idle``/``AsyncIdle``): the batch hot path,
    # where a step loop would cost a frame per connection; they differ only in ``await``
    # on the driver's disconnect/release/checkout.
    def take(self, pool: Any) -> Any:
        """A connection for one batch: a parked one that is still sound, else the pool's."""
        while (conn := self._pop(pool)) is not None:
            if seam.connected(conn) and _quiet(conn):
                return conn
            conn.disconnect()  # closed by the server, or unread bytes: let the pool redo it
            pool.release(conn)
        return self._checkout(pool)

    def give(self, pool: Any, conn: Any) -> None:
        """Back after a batch: parked while connected (and room is left), else to the pool."""
        if not (seam.connected(conn) and self._keep(pool, conn)):
            pool.release(conn)

    def failed(self, pool: Any, conn: Any) -> None:
        """``conn`` broke mid-batch: close it, and the parked ones too (what broke it, a
        restart or a network fault, likely broke them as well), all back to the pool."""
        conn.disconnect()
        for other in self._pause(pool):
            other.disconnect()
            pool.release(other)

    def _pop(self, pool: Any) -> Any:
        """A parked connection of ``pool`` (None: none left, or inherited through fork)."""
        state = seam.pool_state(pool)
        with self._lock:
            parked = state.get(_PARKED)
            if not parked:
                return None
            conn = parked.pop()
        if not self.asynchronous and conn.pid != os.getpid():  # the parent's, via fork
            with self._lock:
                state.pop(_PARKED, None)
            return None
        return conn

    def _keep(self, pool: Any, conn: Any) -> bool:
        """Park connected ``conn`` unless parking is paused or there is no room left."""
        state = seam.pool_state(pool)
        with self._lock:
            if _PAUSED in state:
                if state[_PAUSED] > time.monotonic():
                    return False
                del state[_PAUSED]
            parked = state.get(_PARKED)
            if parked is None:
                parked = state[_PARKED] = []
            if len(parked) < self._park:
                parked.append(conn)
                return True
        return False

    def _pause(self, pool: Any) -> list[Any]:
        """No parking for a while, and the parked connections taken out (to be closed)."""
        state = seam.pool_state(pool)
        with self._lock:
            # For a while, connections go back to the pool: it checks each one on checkout
            # and hands out the freshly reconnected ones first, which is what a retry needs.
            state[_PAUSED] = time.monotonic() + QUIET_AFTER_FAILURE
            return state.pop(_PARKED, [])  # type: ignore[no-any-return]

    def parked(self, pool: Any) -> list[Any]:
        """The connections parked for ``pool`` now (for tests and diagnostics)."""
        return list(seam.pool_state(pool).get(_PARKED, ()))

    def drain(self, pool: Any) -> None:
        """Hand every parked connection back to ``pool`` (before it disconnects them all)."""
        with self._lock:
            parked = seam.pool_state(pool).pop(_PARKED, [])
        for conn in parked:
            pool.release(conn)


_PARKED = "_cachex_parked"
_PAUSED = "_cachex_parked_paused_until"
_instances: weakref.WeakSet[Idle] = weakref.WeakSet()


def _forget_after_fork() -> None:
    for idle in list(_instances):
        idle._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _quiet(conn: Any) -> bool:
    """Nothing waiting on the socket: no stray bytes, no close from the server."""
    try:
        return not conn.can_read()
    except Exception:  # the driver's ConnectionError for a broken socket
        return False


class AsyncIdle(Idle):
    """The asyncio side (an asyncio pool belongs to one event loop; the lock is never held
    across an ``await``)."""

    __slots__ = ()
    asynchronous = True

    async def take(self, pool: Any) -> Any:  # type: ignore[override]
        while (conn := self._pop(pool)) is not None:
            if conn.is_connected and seam.aquiet(conn):
                return conn
            await conn.disconnect(nowait=True)
            await pool.release(conn)
        return await self._checked_out(pool)

    async def _checked_out(self, pool: Any) -> Any:
        """The pool's connection; asyncio only: one the event loop saw reset while it was
        pooled is closed first (``wire.asend`` connects it again)."""
        conn = await self._checkout(pool)
        if seam.abroken(conn):
            await conn.disconnect(nowait=True)
        return conn

    async def give(self, pool: Any, conn: Any) -> None:  # type: ignore[override]
        if not (conn.is_connected and self._keep(pool, conn)):
            await pool.release(conn)

    async def failed(self, pool: Any, conn: Any) -> None:  # type: ignore[override]
        """As ``Idle.failed``; also for a cancelled batch (its replies were never read)."""
        await conn.disconnect(nowait=True)
        for other in self._pause(pool):
            await other.disconnect(nowait=True)
            await pool.release(other)


class Checkout:
    """The public path's stand-in for ``Idle``/``AsyncIdle`` (fast path off, see seam.py):
    every batch checks a connection out of the driver's pool and releases it after; nothing
    is parked. One class for both sides: each method returns the driver call's result, an
    awaitable of it for an asyncio pool (the caller awaits it)."""

    __slots__ = ("_asynchronous", "_checkout")

    def __init__(self, checkout: Any, *, asynchronous: bool = False) -> None:
        self._checkout = checkout
        self._asynchronous = asynchronous

    def take(self, pool: Any) -> Any:
        return self._checkout(pool)

    def give(self, pool: Any, conn: Any) -> Any:
        return pool.release(conn)

    def failed(self, pool: Any, conn: Any) -> Any:
        """Unread replies would poison the next user: close the connection."""
        return conn.disconnect(nowait=True) if self._asynchronous else conn.disconnect()

    def drain(self, pool: Any) -> None:
        """Nothing parked."""
