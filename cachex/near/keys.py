"""The stored keys of recently read cache keys, so a hit does not build its key again.

``make_key`` builds a new string on every call (prefix, version, key), and a new string is
hashed again on every lookup: for a ``get_many`` of hot keys that is most of the work. With
Django's default key function and check, the stored key of a ``str`` key depends only on the
key and the version, so it is remembered per version: a repeated key gets the very string
the store holds (its hash already cached). Only keys that passed the batch path's check are
remembered (a key Django warns about goes through Django every time, warning every time),
and only ``str`` keys (``1`` and ``True`` are equal dict keys with different stored keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# How many versions are remembered at once (a site uses one or two).
VERSIONS = 4


class MadeKeys:
    """Bounded ``version -> {key: stored key}``; emptied whole when a bound is passed."""

    __slots__ = ("_by_version", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_version: dict[Any, dict[str, str]] = {}

    def many(self, keys: Sequence[Any], version: Any) -> list[str] | None:
        """The stored keys of ``keys`` in order, or None unless every one is remembered."""
        try:
            memo = self._by_version.get(version)
            if memo is None:
                return None
            made = list(map(memo.get, keys))
        except TypeError:  # an unhashable key or version: Django's path says what is wrong
            return None
        return None if None in made else made  # type: ignore[return-value]

    def one(self, key: Any, version: Any) -> str | None:
        if type(key) is not str:
            return None
        try:
            memo = self._by_version.get(version)
        except TypeError:  # an unhashable version
            return None
        return None if memo is None else memo.get(key)

    def view(self, version: Any) -> dict[str, str] | None:
        """The remembered ``key -> stored key`` of ``version`` (read-only, may be None)."""
        try:
            return self._by_version.get(version)
        except TypeError:
            return None

    def learn(self, keys: Sequence[Any], made: Sequence[str], version: Any) -> None:
        """Remember the stored keys the batch path made for ``keys`` under ``version``."""
        try:
            memo = self._by_version.get(version)
        except TypeError:  # an unhashable version: not remembered
            return
        if memo is None or len(memo) + len(keys) > self.limit:
            if len(self._by_version) >= VERSIONS:
                self._by_version.clear()
            memo = self._by_version[version] = {}
        memo.update(pair for pair in zip(keys, made) if type(pair[0]) is str)

    def clear(self) -> None:
        self._by_version.clear()
