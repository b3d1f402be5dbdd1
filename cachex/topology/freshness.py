"""Whether a topology's server-side routing map (the Cluster slot map) must be re-read.

One object owns that state for a topology: what marks the map stale (a MOVED reply, a node
that cannot be reached, an open circuit), when a map was installed, and the executor's
question before a retry ("re-read first?"). Before, the flag lived on the topology and the
time of the last re-read on the executor, so the two could disagree.
"""

from __future__ import annotations

import time


class MapFreshness:
    __slots__ = ("read_at", "stale")

    def __init__(self) -> None:
        self.stale = True  # no map yet: the first sync or async use fetches one
        self.read_at = 0.0  # monotonic time a map was last installed or a re-read decided

    def mark(self) -> None:
        """The map may be wrong now: the next operation (or retry) re-reads it."""
        self.stale = True

    def installed(self) -> None:
        self.stale = False
        self.read_at = time.monotonic()

    def due_before_retry(self, failed_at: float) -> bool:
        """Re-read before retrying a call that failed at ``failed_at``, unless a map was
        read after that failure (a failover moves slots; concurrent retries share one
        re-read: the first one to ask claims it)."""
        if not (self.stale or self.read_at < failed_at):
            return False
        self.read_at = time.monotonic()
        return True
