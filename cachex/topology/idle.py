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
    __slots__ = ("__weakref__", "_checkout", "_lock", "_park", "_parked", "_paused")

    def __init__(self, checkout: Any, park: int = PARK) -> None:
        self._checkout = checkout  # the driver's pool checkout (its signature differs)
        self._park = park  # at most this many parked per pool (0: none, for bounded pools)
        self._reset()
        _instances.add(self)

    def _reset(self) -> None:
        """Empty state (also in a forked child: the parent's connections and a lock that
        another thread may have held at fork time must not be used there)."""
        self._lock = threading.Lock()
        self._parked: dict[int, list[Any]] = {}  # by id(pool): pools may define __eq__
        self._paused: dict[int, float] = {}  # pool -> no parking until this monotonic time

    def take(self, pool: Any) -> Any:
        """A connection for one batch: a parked one that is still sound, else the pool's."""
        key = id(pool)
        while True:
            with self._lock:
                parked = self._parked.get(key)
                if not parked:
                    break
                conn = parked.pop()
            if conn.pid != os.getpid():  # inherited through fork: the parent's socket
                with self._lock:
                    self._parked.pop(key, None)
                break
            if seam.connected(conn) and _quiet(conn):
                return conn
            conn.disconnect()  # closed by the server, or unread bytes: let the pool redo it
            pool.release(conn)
        return self._checkout(pool)

    def give(self, pool: Any, conn: Any) -> None:
        """Back after a batch: parked while connected (and room is left), else to the pool."""
        key = id(pool)
        if seam.connected(conn):
            with self._lock:
                if not self._paused or self._paused.get(key, 0.0) <= time.monotonic():
                    parked = self._parked.setdefault(key, [])
                    if len(parked) < self._park:
                        parked.append(conn)
                        return
        pool.release(conn)

    def failed(self, pool: Any, conn: Any) -> None:
        """``conn`` broke mid-batch: close it, and the parked ones too (what broke it, a
        restart or a network fault, likely broke them as well), all back to the pool."""
        conn.disconnect()
        key = id(pool)
        with self._lock:
            # For a while, connections go back to the pool: it checks each one on checkout
            # and hands out the freshly reconnected ones first, which is what a retry needs.
            self._paused[key] = time.monotonic() + QUIET_AFTER_FAILURE
            parked = self._parked.pop(key, [])
        for other in parked:
            other.disconnect()
            pool.release(other)

    def drain(self, pool: Any) -> None:
        """Hand every parked connection back to ``pool`` (before it disconnects them all)."""
        with self._lock:
            parked = self._parked.pop(id(pool), [])
        for conn in parked:
            pool.release(conn)


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


class AsyncIdle:
    """The asyncio twin (batch hot path: a step loop would cost a frame per connection).
    An asyncio pool belongs to one event loop, so its parked
    connections live on the pool object itself (gone with it) and need no lock: nothing
    awaits between looking at the list and changing it."""

    __slots__ = ("_checkout", "_park")

    def __init__(self, checkout: Any, park: int = PARK) -> None:
        self._checkout = checkout  # the driver's async pool checkout
        self._park = park

    async def take(self, pool: Any) -> Any:
        parked = seam.pool_state(pool).get(_PARKED)
        while parked:
            conn = parked.pop()
            if conn.is_connected and seam.aquiet(conn):
                return conn
            await conn.disconnect(nowait=True)
            await pool.release(conn)
        conn = await self._checkout(pool)
        if seam.abroken(conn):  # reset while pooled: wire.asend connects it again
            await conn.disconnect(nowait=True)
        return conn

    async def give(self, pool: Any, conn: Any) -> None:
        state = seam.pool_state(pool)
        if conn.is_connected and state.get(_PAUSED, 0.0) <= time.monotonic():
            parked = state.setdefault(_PARKED, [])
            if len(parked) < self._park:
                parked.append(conn)
                return
        await pool.release(conn)

    async def failed(self, pool: Any, conn: Any) -> None:
        """As ``Idle.failed``; also for a cancelled batch (its replies were never read)."""
        await conn.disconnect(nowait=True)
        state = seam.pool_state(pool)
        state[_PAUSED] = time.monotonic() + QUIET_AFTER_FAILURE
        parked = state.pop(_PARKED, [])
        for other in parked:
            await other.disconnect(nowait=True)
            await pool.release(other)


_PARKED = "_cachex_parked"
_PAUSED = "_cachex_parked_paused_until"



class Checkout:
    """The public path's stand-in for ``Idle`` (fast path off, see seam.py): every batch
    checks a connection out of the driver's pool and releases it after; nothing is parked."""

    __slots__ = ("_checkout",)

    def __init__(self, checkout: Any) -> None:
        self._checkout = checkout

    def take(self, pool: Any) -> Any:
        return self._checkout(pool)

    def give(self, pool: Any, conn: Any) -> None:
        pool.release(conn)

    def failed(self, pool: Any, conn: Any) -> None:
        conn.disconnect()  # unread replies would poison the next user

    def drain(self, pool: Any) -> None:
        """Nothing parked."""


class AsyncCheckout:
    """``Checkout`` for asyncio pools (one-line twins: the pool's calls, awaited)."""

    __slots__ = ("_checkout",)

    def __init__(self, checkout: Any) -> None:
        self._checkout = checkout

    async def take(self, pool: Any) -> Any:
        return await self._checkout(pool)

    async def give(self, pool: Any, conn: Any) -> None:
        await pool.release(conn)

    async def failed(self, pool: Any, conn: Any) -> None:
        await conn.disconnect(nowait=True)
