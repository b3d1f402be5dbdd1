"""Consistent-hash ring of shards: uhashring in ketama mode.

Nodes are known by identity (``host:port[/db]`` or an explicit name), never by URL, so a
password change moves no keys. Weights scale a node's share of the ring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from uhashring import HashRing

from .hashtag import hash_tag


@dataclass(frozen=True)
class RingNode:
    name: str
    weight: int = 1


class Ring:
    """Key -> node name, stable under adding/removing other nodes (ketama)."""

    def __init__(self, nodes: Sequence[RingNode]) -> None:
        if not nodes:
            raise ValueError("a ring needs at least one node")
        self.names: tuple[str, ...] = tuple(n.name for n in nodes)
        self.weights: dict[str, int] = {n.name: n.weight for n in nodes}
        self._ring = HashRing(
            nodes={n.name: {"weight": n.weight} for n in nodes}, hash_fn="ketama"
        )
        self._get = self._ring.get_node

    def node_for(self, key: str) -> str:
        """The node name owning ``key``; hash tags honoured."""
        return self._get(hash_tag(key))  # type: ignore[no-any-return]

    def without(self, names: Sequence[str]) -> Ring | None:
        """A ring with ``names`` removed (the next node on the ring takes their keys)."""
        keep = [RingNode(n, self.weights[n]) for n in self.names if n not in names]
        return Ring(keep) if keep else None
