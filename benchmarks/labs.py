"""The servers a run needs, started with ``cachex.testing`` so every contender of a group talks
to the very same processes. A lab that cannot start makes its group "not available" instead
of failing the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from cachex.testing import (
    Cluster,
    SentinelSet,
    Server,
    cluster,
    flushall,
    sentinel,
    server,
    servers,
)

GROUPS = ("single", "shards", "cluster", "sentinel")
SHARDS = 4
SERVICE = "mymaster"


@dataclass
class Labs:
    """Running labs by group; ``errors`` says why a wanted group has none."""

    single: Server | None = None
    shards: list[Server] | None = None
    cluster: Cluster | None = None
    sentinel: SentinelSet | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def of(self, group: str) -> Any:
        return getattr(self, group)

    def flush(self, group: str) -> None:
        """Empty a group's servers between workloads (1 MB values add up quickly)."""
        lab = self.of(group)
        if lab is not None:
            flushall(lab)

    def describe(self) -> dict[str, str]:
        """Where each group runs, for the JSON report."""
        out: dict[str, str] = {}
        if self.single is not None:
            out["single"] = self.single.url
        if self.shards is not None:
            out["shards"] = ",".join(n.url for n in self.shards)
        if self.cluster is not None:
            out["cluster"] = (f"{len(self.cluster.primaries())} primaries + "
                              f"{len(self.cluster.replicas())} replicas: {self.cluster.url}")
        if self.sentinel is not None:
            out["sentinel"] = (f"primary + {len(self.sentinel.nodes) - 1} replica(s), "
                               f"{len(self.sentinel.sentinels)} sentinels: {self.sentinel.url}")
        return out


def start(groups: Iterable[str], stack: ExitStack) -> Labs:
    """Start the labs of ``groups`` inside ``stack`` (they stop when it closes)."""
    labs = Labs()
    for group in groups:
        try:
            if group == "single":
                labs.single = stack.enter_context(server())
            elif group == "shards":
                labs.shards = stack.enter_context(servers(SHARDS))
            elif group == "cluster":
                labs.cluster = stack.enter_context(cluster(3, 1))
            elif group == "sentinel":
                lab = stack.enter_context(sentinel(SERVICE, replicas=1, sentinels=3))
                lab.wait_ready()
                labs.sentinel = lab
        except Exception as exc:  # a missing binary or a slow machine: report, go on
            labs.errors[group] = f"{type(exc).__name__}: {exc}"
    return labs
