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

Recency: a single-key hit moves its key to the recent end at once. A ``get_many`` whose keys
all hit only notes its key list (one append, whatever its length); the notes are applied in
order just before anything is evicted, so eviction still sees them, and a store that never
fills never pays for them. Only the most recent ``max_entries`` noted keys are kept: a key
whose last batch hit is older than that many batch-hit keys counts from its older use.
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
# Why the whole store was dropped; each counted as ``flushes_<reason>`` beside ``flushes``:
# channel_lost (an invalidation channel failed or went silent), role (its server is no longer
# a primary), channel_up (a channel came up, first time or back), flushdb (FLUSHDB/FLUSHALL
# seen through tracking), slots (a Cluster slot changed owner: migration or failover),
# primaries (a Cluster primary left the slot map), local (this process's clear(),
# incr_version(), rename(), delete_pattern()), disconnect (disconnect() or close()).
FLUSH_REASONS = ("channel_lost", "role", "channel_up", "flushdb", "slots", "primaries",
                 "local", "disconnect")


class NearStore:
    """Thread-safe LRU of ``key -> Entry``; an entry's deadline is a ``time.monotonic()``
    instant past which the value is never served."""

    __slots__ = ("_counts", "_entries", "_lock", "_nnoted", "_noted", "gen", "max_bytes",
                 "max_entries", "nbytes", "seq", "ttl")

    def __init__(self, max_entries: int, max_bytes: int, ttl: float | None = None) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.seq = 0
        self._counts = dict.fromkeys(STATS + tuple(f"flushes_{r}" for r in FLUSH_REASONS), 0)
        # batch hits not yet applied to the order: (keys, how many), oldest first
        self._noted: deque[tuple[Iterable[str | None], int]] = deque()
        self._nnoted = 0
        self.gen = 0  # moves whenever an entry goes without ``seq`` moving (evicted, expired)

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
                self._note(keys, len(keys))
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
            if self._noted and (len(entries) >= self.max_entries
                                or self.nbytes + size > self.max_bytes):
                self._apply_notes()  # before the new key: it is the most recent of all
            entries[key] = (value, deadline, size, decoded)
            self.nbytes += size
            self._counts["fills"] += 1
            while len(entries) > self.max_entries or self.nbytes > self.max_bytes:
                _, evicted = entries.popitem(last=False)
                self.gen += 1
                self.nbytes -= evicted[2]
                self._counts["evictions"] += 1
        return True

    # -- recency of batch hits (under the lock) ---------------------------------------------
    def _note(self, keys: Iterable[str | None], n: int) -> None:
        """``keys`` (any iterable, read only when applied; None and absent keys are
        skipped) were hit just now."""
        self._noted.append((keys, n))
        self._nnoted += n
        while self._nnoted > self.max_entries and len(self._noted) > 1:
            self._nnoted -= self._noted.popleft()[1]

    def hit_many(self, keys: Iterable[str | None], n: int) -> None:
        """Count ``n`` hits answered elsewhere (``front``) and note their keys' use."""
        with self._lock:
            self._note(keys, n)
            self._counts["hits"] += n

    def _apply_notes(self) -> None:
        """Move the keys of the noted batch hits to the recent end, oldest note first."""
        entries = self._entries
        move, present = entries.move_to_end, entries.__contains__
        for keys, _ in self._noted:
            deque(map(move, filter(present, keys)), maxlen=0)  # type: ignore[arg-type]
        self._noted.clear()
        self._nnoted = 0

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

    def flush(self, reason: str) -> None:
        """Forget everything: a channel lost or (re)made, a FLUSHDB, a failover, ``clear``
        (``reason``: one of ``FLUSH_REASONS``)."""
        with self._lock:
            self._counts[f"flushes_{reason}"] += 1
            self.seq += 1
            self._entries.clear()
            self._noted.clear()
            self._nnoted = 0
            self.nbytes = 0
            self._counts["flushes"] += 1

    def bump(self) -> None:
        """Fail every fill in flight without forgetting anything."""
        with self._lock:
            self.seq += 1

    def _remove(self, key: str, entry: Entry) -> None:
        del self._entries[key]
        self.gen += 1
        self.nbytes -= entry[2]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {**self._counts, "entries": len(self._entries), "bytes": self.nbytes}
