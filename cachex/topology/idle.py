"""A few connections kept between wire batches, in front of the driver's sync pool.

Why: checking a connection out of redis-py 8's pool and back costs ~11 us (locks, fork check,
instrumentation hooks), paid once per node per multi-key call; over 4 shards that was a tenth
of a ``get_many(100)``. A connection parked here skips that, and is still checked the way
the pool checks it: same process, still connected, nothing unread on the socket (a closed or
dirty connection goes back to the pool, which reconnects it). The pool still owns every
connection: ``max_connections`` holds, and ``drain`` hands parked ones back (on disconnect).
"""

from __future__ import annotations

import os
import time
from typing import Any

PARK = 8  # connections parked per pool at most; more go back to the pool
QUIET_AFTER_FAILURE = 1.0  # seconds without parking once a pool's connection broke


class Idle:
    __slots__ = ("_checkout", "_parked", "_paused")

    def __init__(self, checkout: Any) -> None:
        self._checkout = checkout  # the driver's pool checkout (its signature differs)
        self._parked: dict[int, list[Any]] = {}  # by id(pool): pools may define __eq__
        self._paused: dict[int, float] = {}  # pool -> no parking until this monotonic time

    def take(self, pool: Any) -> Any:
        """A connection for one batch: a parked one that is still sound, else the pool's."""
        parked = self._parked.get(id(pool))
        while parked:
            try:
                conn = parked.pop()
            except IndexError:  # another thread took the last one
                break
            if conn.pid != os.getpid():  # inherited through fork: the parent's socket
                parked.clear()
                break
            if conn._sock is not None and _quiet(conn):
                return conn
            conn.disconnect()  # closed by the server, or unread bytes: let the pool redo it
            pool.release(conn)
        return self._checkout(pool)

    def give(self, pool: Any, conn: Any) -> None:
        """Back after a batch: parked while connected (and room is left), else to the pool."""
        parked = self._parked.get(id(pool))
        if parked is None:
            if self._paused and self._paused.get(id(pool), 0.0) > time.monotonic():
                pool.release(conn)
                return
            parked = self._parked.setdefault(id(pool), [])
        if conn._sock is not None and len(parked) < PARK:
            parked.append(conn)
        else:
            pool.release(conn)

    def failed(self, pool: Any, conn: Any) -> None:
        """``conn`` broke mid-batch: close it, and the parked ones too (what broke it, a
        restart or a network fault, likely broke them as well), all back to the pool."""
        conn.disconnect()
        # For a while, connections go back to the pool: it checks each one on checkout and
        # hands out the freshly reconnected ones first, which is what a retry needs.
        self._paused[id(pool)] = time.monotonic() + QUIET_AFTER_FAILURE
        for other in self._parked.pop(id(pool), []):
            if other.pid == os.getpid():
                other.disconnect()
                pool.release(other)

    def drain(self, pool: Any) -> None:
        """Hand every parked connection back to ``pool`` (before it disconnects them all)."""
        parked = self._parked.pop(id(pool), [])
        for conn in parked:
            if conn.pid == os.getpid():
                pool.release(conn)


def _quiet(conn: Any) -> bool:
    """Nothing waiting on the socket: no stray bytes, no close from the server."""
    try:
        return not conn.can_read()
    except Exception:  # the driver's ConnectionError for a broken socket
        return False
