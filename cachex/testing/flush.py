"""Emptying a lab between tests, whatever its topology."""

from __future__ import annotations

from collections.abc import Sequence

from cachex.testing.clusters import Cluster
from cachex.testing.node import Server
from cachex.testing.sentinels import SentinelSet

__all__ = ["flushall"]


def flushall(lab: Server | Sequence[Server] | Cluster | SentinelSet) -> None:
    """FLUSHALL on every primary of ``lab`` (replicas follow); paused or stopped nodes skipped.

    Cheap (milliseconds on a test-sized data set), so call it at the start of tests that share a
    session-scoped lab and care about what earlier tests left behind.
    """
    if isinstance(lab, Server):
        targets: Sequence[Server] = [lab]
    elif isinstance(lab, Cluster):
        targets = lab.primaries()
    elif isinstance(lab, SentinelSet):
        targets = [lab.primary_node]
    else:
        targets = lab
    for node in targets:
        if node.is_running() and not node.paused:
            node.execute("FLUSHALL")
