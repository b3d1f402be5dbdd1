"""Per-alias counters of what the retry and failover policies did, for users to read.

Counting only happens on failure paths, so a healthy alias pays nothing for it. Every backend
instance of an alias (one per thread or task) shares its policy's ``Stats``::

    from cachex import stats
    stats.snapshot("default")  # {"retries": 0, "give_ups": 0, "circuit_opens": 0, ...}
"""

from __future__ import annotations

import threading

EVENTS = (
    "retries",         # attempts made after a first failure
    "give_ups",        # retried calls that failed anyway
    "circuit_opens",   # a node's circuit opened (threshold reached, or a probe failed)
    "circuit_closes",  # a node answered again and its circuit closed
    "short_circuits",  # calls refused without a network call because a circuit was open
    "reroutes",        # calls or batches sent to the next node on the ring (mode "reroute")
    "fail_open",       # errors turned into a miss / a dropped write (mode "fail_open")
)


class Stats:
    """Monotonic counters for one alias; thread-safe."""

    __slots__ = ("_counts", "_lock", "alias")

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._counts = dict.fromkeys(EVENTS, 0)
        self._lock = threading.Lock()

    def incr(self, event: str, n: int = 1) -> None:
        with self._lock:
            self._counts[event] += n

    def snapshot(self) -> dict[str, int]:
        """A copy of the counters (they keep counting after the call)."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(EVENTS, 0)


_lock = threading.Lock()
_registry: list[Stats] = []


def register(alias: str) -> Stats:
    """New counters for one alias's policy, findable by ``snapshot(alias)``."""
    stats = Stats(alias)
    with _lock:
        _registry.append(stats)
    return stats


def snapshot(alias: str) -> dict[str, int]:
    """Counters of ``alias`` (all zero for an alias that has not failed or does not exist).

    Summed over every policy built for that alias name: normally one per process.
    """
    total = dict.fromkeys(EVENTS, 0)
    with _lock:
        mine = [s for s in _registry if s.alias == alias]
    for stats in mine:
        for event, n in stats.snapshot().items():
            total[event] += n
    return total


def reset(alias: str | None = None) -> None:
    """Zero the counters of ``alias`` (of every alias when None), e.g. between tests."""
    with _lock:
        targets = [s for s in _registry if alias is None or s.alias == alias]
    for stats in targets:
        stats.reset()


def near(alias: str) -> dict[str, int]:
    """The near cache counters of ``alias`` in this process (empty without a near cache):
    hits, misses, fills, invalidations, evictions, expired, flushes (and flushes_<reason>),
    drops, entries, bytes, channels_up. See docs/near-cache.md."""
    from .near.core import live

    total: dict[str, int] = {}
    for cache in live(alias):
        for name, n in cache.stats().items():
            total[name] = total.get(name, 0) + n
    return total
