"""The near cache's memory: encoded values by cache key, bounded, least recently used out.

Values are kept as the bytes the server returned and decoded on every read, so a caller that
mutates what ``get`` returned never changes what the next caller gets.

The read race: a reader sends GET, another client writes the key, and the server's
invalidation arrives before the GET's (old) reply is stored here. Storing it would keep a
value the server has already told us is gone, with no second message to come. So every
change to the store (an invalidation, a local write, a flush, a channel going up or down)
bumps ``seq``; a reader takes ``seq`` before sending its GET and ``put`` stores the reply only
if ``seq`` has not moved since. A fill lost that way is only a later miss.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from time import monotonic
from typing import Any

INF = float("inf")
STATS = ("hits", "misses", "fills", "invalidations", "evictions", "expired", "flushes",
         "drops")


class NearStore:
    """Thread-safe LRU of ``key -> (encoded value, deadline)``; ``deadline`` is a
    ``time.monotonic()`` instant past which the value is never served."""

    __slots__ = ("_counts", "_entries", "_lock", "max_bytes", "max_entries", "nbytes", "seq",
                 "ttl")

    def __init__(self, max_entries: int, max_bytes: int, ttl: float | None = None) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.seq = 0
        self._counts = dict.fromkeys(STATS, 0)

    def __len__(self) -> int:
        return len(self._entries)

    # -- reads ----------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._counts["misses"] += 1
                return None
            if entry[1] <= monotonic():  # the server has expired it (or will any moment)
                self._remove(key, entry)
                self._counts["expired"] += 1
                self._counts["misses"] += 1
                return None
            self._entries.move_to_end(key)
            self._counts["hits"] += 1
            return entry[0]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = []
        append = out.append
        with self._lock:
            entries, now, hits = self._entries, monotonic(), 0
            for key in keys:
                entry = entries.get(key)
                if entry is None:
                    append(None)
                elif entry[1] <= now:
                    self._remove(key, entry)
                    self._counts["expired"] += 1
                    append(None)
                else:
                    entries.move_to_end(key)
                    hits += 1
                    append(entry[0])
            self._counts["hits"] += hits
            self._counts["misses"] += len(keys) - hits
        return out

    def has(self, key: str) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[1] > monotonic()

    # -- fills ----------------------------------------------------------------------------
    def put(self, key: str, value: bytes, pttl: Any, sent_at: float, token: int) -> bool:
        """Store a GET reply read under ``token`` (``seq`` before the GET was sent), with
        the key's PTTL from the same round-trip. The deadline counts from ``sent_at``, the
        moment before the request left, so it is never later than the server's expiry."""
        pttl = int(pttl)
        if pttl == -2 or pttl == 0:  # gone, or expiring this millisecond
            return False
        deadline = INF if pttl < 0 else sent_at + pttl / 1000
        if self.ttl is not None:
            deadline = min(deadline, sent_at + self.ttl)
        size = len(key) + len(value)
        if size > self.max_bytes:
            return False
        with self._lock:
            if self.seq != token:  # something changed since the GET left: maybe this key
                return False
            entries = self._entries
            old = entries.pop(key, None)
            if old is not None:
                self.nbytes -= len(key) + len(old[0])
            entries[key] = (value, deadline)
            self.nbytes += size
            self._counts["fills"] += 1
            while len(entries) > self.max_entries or self.nbytes > self.max_bytes:
                k, (v, _) = entries.popitem(last=False)
                self.nbytes -= len(k) + len(v)
                self._counts["evictions"] += 1
        return True

    # -- changes --------------------------------------------------------------------------
    def invalidate(self, keys: Iterable[str]) -> None:
        """The server says these keys changed."""
        with self._lock:
            self.seq += 1
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None:
                    self._remove(key, entry)
                    self._counts["invalidations"] += 1

    def drop(self, keys: Iterable[str]) -> None:
        """This process wrote these keys: forget them (and fail fills racing the write)."""
        with self._lock:
            self.seq += 1
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None:
                    self._remove(key, entry)
                    self._counts["drops"] += 1

    def flush(self) -> None:
        """Forget everything: a channel lost or (re)made, a FLUSHDB, a failover, ``clear``."""
        with self._lock:
            self.seq += 1
            self._entries.clear()
            self.nbytes = 0
            self._counts["flushes"] += 1

    def bump(self) -> None:
        """Fail every fill in flight without forgetting anything."""
        with self._lock:
            self.seq += 1

    def _remove(self, key: str, entry: tuple[bytes, float]) -> None:
        del self._entries[key]
        self.nbytes -= len(key) + len(entry[0])

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {**self._counts, "entries": len(self._entries), "bytes": self.nbytes}
