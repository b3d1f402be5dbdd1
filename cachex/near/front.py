"""The answer to a ``get_many`` of hot keys in one dict lookup per key.

The store is keyed by stored keys (``prefix:version:key``), checks each entry's deadline and
decoded flag, and may have to decode: right for one key, but for a batch of a hundred hot
keys that is several passes per key. The front holds, per version, ``key -> value`` for keys
whose values are kept decoded (immutable), all read from the store while nothing changed.

It answers only while the store has not changed since (its ``seq`` for invalidations, drops
and flushes, its ``gen`` for evictions and expiry) and before the earliest deadline among its
values; otherwise it is rebuilt from scratch by the next batch the store answers in full. So
a value is served from here exactly when the store would serve it, and the front never holds
a value the store has let go (the store's bounds hold for both). Its hits are counted as the
store's hits and noted for the store's recency order, under the store's lock, once per batch.

Only ``str`` keys are kept (``1`` and ``True`` are equal dict keys with different stored
keys), and only those the batch key path made (see ``keys.MadeKeys``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from time import monotonic
from typing import Any

from .keys import VERSIONS, MadeKeys
from .store import INF, NearStore


class Front:
    __slots__ = ("_gen", "_lock", "_made", "_seq", "_soonest", "_store", "_views")

    def __init__(self, store: NearStore, made: MadeKeys) -> None:
        self._store = store
        self._made = made
        self._lock = threading.Lock()
        self._seq = -1  # no store state yet: answers nothing until built
        self._gen = -1
        self._soonest = INF
        self._views: dict[Any, dict[str, Any]] = {}

    def get(self, keys: Sequence[Any], version: Any) -> dict[Any, Any] | None:
        """Every key's value, or None (some key is not here, or the front is out of date)."""
        store = self._store
        if self._seq != store.seq or self._gen != store.gen or monotonic() >= self._soonest:
            if self._views:
                self._views = {}  # let go of values the store may have let go of
            return None
        try:
            view = self._views[version]
            found = {key: view[key] for key in keys}
        except (KeyError, TypeError):  # not here, or an unhashable key or version
            return None
        memo = self._made.view(version)
        store.hit_many(keys if memo is None else map(memo.get, keys), len(keys))
        return found

    def add(self, seq: int, gen: int, version: Any, keys: Sequence[Any],
            values: Sequence[Any], soonest: float) -> None:
        """Values the store gave for ``keys`` (all decoded), looked up after ``seq`` and
        ``gen`` were read: kept only while the store is still in that state."""
        store = self._store
        with self._lock:
            if seq != store.seq or gen != store.gen:  # changed since: these may be old
                return
            if seq != self._seq or gen != self._gen:  # a new state: start afresh
                self._views = {}  # replaced, never emptied in place: readers hold the old
                self._soonest = INF
                self._seq, self._gen = seq, gen
            try:
                view = self._views.get(version)
                if view is None or len(view) + len(keys) > store.max_entries:
                    if len(self._views) >= VERSIONS:
                        self._views = {}
                    view = self._views[version] = {}
            except TypeError:  # an unhashable version
                return
            view.update(pair for pair in zip(keys, values) if type(pair[0]) is str)
            if soonest < self._soonest:
                self._soonest = soonest
