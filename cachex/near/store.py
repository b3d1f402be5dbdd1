"""The near cache's memory: encoded values by cache key, bounded, least recently used out.

Values are kept as the bytes the server returned and decoded on every read, so a caller that
mutates what ``get`` returned never changes what the next caller gets; only values that
cannot be mutated (str, bytes, numbers, None, dates, and tuples/frozensets of those) are kept
decoded (``immutable``), which saves the decoding on every hit.

The read race: a reader sends GET, another client writes the key, and the server's
invalidation arrives before the GET's (old) reply is stored here. Storing it would keep a
value the server has already told us is gone, with no second message to come. So every
change to the store (an invalidation, a local write, a flush, a channel going up or down)
bumps ``seq``; a reader takes ``seq`` before sending its GET and ``put`` stores the reply only
if ``seq`` has not moved since. A fill lost that way is only a later miss.
"""

from __future__ import annotations

import datetime
import decimal
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from operator import itemgetter
from time import monotonic
from typing import Any

INF = float("inf")
# An entry: (value, deadline, size, decoded). ``value`` is the encoded bytes, or the decoded
# object itself when ``decoded`` (immutable values only).
Entry = tuple[Any, float, int, bool]
VALUE, DEADLINE, SIZE, DECODED = 0, 1, 2, 3
_deadline = itemgetter(DEADLINE)
_decoded = itemgetter(DECODED)
_value = itemgetter(VALUE)
_SCALARS = frozenset({str, bytes, int, float, complex, bool, type(None), decimal.Decimal,
                      datetime.datetime, datetime.date, datetime.time, datetime.timedelta,
                      uuid.UUID, range})


def immutable(value: Any, depth: int = 0) -> bool:
    """Nothing a caller does to ``value`` can change it (so one object may be shared)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if (kind is tuple or kind is frozenset) and depth < 4 and len(value) <= 64:
        return all(immutable(v, depth + 1) for v in value)
    return False


STATS = ("hits", "misses", "fills", "invalidations", "evictions", "expired", "flushes",
         "drops")


class NearStore:
    """Thread-safe LRU of ``key -> Entry``; an entry's deadline is a ``time.monotonic()``
    instant past which the value is never served."""

    __slots__ = ("_counts", "_entries", "_lock", "max_bytes", "max_entries", "nbytes", "seq",
                 "ttl")

    def __init__(self, max_entries: int, max_bytes: int, ttl: float | None = None) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.seq = 0
        self._counts = dict.fromkeys(STATS, 0)

    def __len__(self) -> int:
        return len(self._entries)

    # -- reads ----------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
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
            return entry

    def get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        """The entries of ``keys`` in order (None: a miss)."""
        out: list[Entry | None] = []
        append = out.append
        with self._lock:
            entries, now, hits = self._entries, monotonic(), 0
            # every key here and none expired (the hot case), in C-speed passes
            got = list(map(entries.get, keys))
            if got and None not in got and min(map(_deadline, got)) > now:  # type: ignore[arg-type]
                deque(map(entries.move_to_end, keys), maxlen=0)
                self._counts["hits"] += len(keys)
                return got
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
                    append(entry)
            self._counts["hits"] += hits
            self._counts["misses"] += len(keys) - hits
        return out

    def has(self, key: str) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[1] > monotonic()

    # -- fills ----------------------------------------------------------------------------
    def put(self, key: str, value: Any, pttl: Any, sent_at: float, token: int,
            size: int, decoded: bool = False) -> bool:
        """Store a GET reply read under ``token`` (``seq`` before the GET was sent), with
        the key's PTTL from the same round-trip. The deadline counts from ``sent_at``, the
        moment before the request left, so it is never later than the server's expiry.
        ``size`` is the encoded size; ``decoded`` says ``value`` is the decoded object."""
        pttl = int(pttl)
        if pttl == -2 or pttl == 0:  # gone, or expiring this millisecond
            return False
        deadline = INF if pttl < 0 else sent_at + pttl / 1000
        if self.ttl is not None:
            deadline = min(deadline, sent_at + self.ttl)
        size += len(key)
        if size > self.max_bytes:
            return False
        with self._lock:
            if self.seq != token:  # something changed since the GET left: maybe this key
                return False
            entries = self._entries
            old = entries.pop(key, None)
            if old is not None:
                self.nbytes -= old[2]
            entries[key] = (value, deadline, size, decoded)
            self.nbytes += size
            self._counts["fills"] += 1
            while len(entries) > self.max_entries or self.nbytes > self.max_bytes:
                _, evicted = entries.popitem(last=False)
                self.nbytes -= evicted[2]
                self._counts["evictions"] += 1
        return True

    # -- changes --------------------------------------------------------------------------
    def invalidate(self, keys: Iterable[str]) -> None:
        """The server says these keys changed."""
        self._forget(keys, "invalidations")

    def drop(self, keys: Iterable[str]) -> None:
        """This process wrote these keys: forget them (and fail fills racing the write)."""
        self._forget(keys, "drops")

    def _forget(self, keys: Iterable[str], counter: str) -> None:
        with self._lock:
            self.seq += 1  # a fill that started before this change must not be stored
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None:
                    self._remove(key, entry)
                    self._counts[counter] += 1

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

    def _remove(self, key: str, entry: Entry) -> None:
        del self._entries[key]
        self.nbytes -= entry[2]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {**self._counts, "entries": len(self._entries), "bytes": self.nbytes}


class Batches:
    """The answers to recent ``get_many`` calls whose values are all kept decoded, by their
    exact list of keys: a page that asks for the same fragments on every request gets them
    in one lookup. An answer is given only while the store's ``seq`` is the one it was
    built under (no invalidation, drop or flush since, on any key) and before the earliest
    deadline among its values; a copy of the dict is returned."""

    __slots__ = ("_memo", "_store", "size")

    def __init__(self, store: NearStore, size: int = 32) -> None:
        self._store = store
        self.size = size
        self._memo: dict[tuple[Any, ...], tuple[int, dict[Any, Any], float]] = {}

    def get(self, keys: list[Any], version: Any) -> dict[Any, Any] | None:
        if not self._memo:
            return None
        try:
            memo = self._memo.get((version, *keys))
        except TypeError:  # an unhashable key: never remembered
            return None
        if memo is None:
            return None
        store = self._store
        if memo[0] != store.seq or memo[2] <= monotonic():
            return None
        with store._lock:
            if memo[0] != store.seq:
                return None
            store._counts["hits"] += len(keys)
        return dict(memo[1])

    def remember(self, keys: list[Any], version: Any, seq: int, found: dict[Any, Any],
                 deadline: float) -> None:
        if len(self._memo) >= self.size:
            self._memo.clear()
        key = (version, *keys)
        try:
            self._memo[key] = (seq, dict(found), deadline)  # the caller may change its dict
        except TypeError:  # an unhashable key: not remembered
            pass

    def clear(self) -> None:
        self._memo.clear()
