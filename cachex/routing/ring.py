"""Consistent-hash ring of shards: uhashring in ketama mode.

Nodes are known by identity (``host:port[/db]`` or an explicit name), never by URL, so a
password change moves no keys. Weights scale a node's share of the ring.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import md5
from struct import Struct
from typing import Any

from uhashring import HashRing

from .hashtag import hash_tag

_u32 = Struct("<I").unpack_from
# Placements remembered per ring: a site's hot keys repeat, and md5 + bisect are Python work
# per key. Bounded: the memo is emptied when it reaches this many keys.
MEMO_SIZE = 1 << 16


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
        ring = HashRing(nodes={n.name: {"weight": n.weight} for n in nodes}, hash_fn="ketama")
        # uhashring builds the continuum; lookups use a flat copy of it (uhashring's own
        # get_node is Python per key, most of a sharded get_many's planning).
        points = ring.get_points()
        self._points: list[int] = [p for p, _ in points]
        self._names: list[str] = [name for _, name in points]
        self._memo: dict[str, str] = {}

    def node_for(self, key: str) -> str:
        """The node name owning ``key``; hash tags honoured."""
        try:
            return self._memo[key]
        except KeyError:
            pass
        memo = self._memo
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        node = memo[key] = self.place(key)
        return node

    def nodes_for(self, keys: Sequence[str]) -> list[str]:
        """``node_for`` of many keys: remembered ones at C speed, the rest computed."""
        nodes: list[Any] = list(map(self._memo.get, keys))
        if None in nodes:
            nodes = [self.node_for(k) if n is None else n for k, n in zip(keys, nodes)]
        return nodes

    def place(self, key: str) -> str:
        """Ketama, computed: the first point of the continuum after the first 4 bytes
        (little-endian) of md5(tag), wrapping around."""
        if "{" in key:
            key = hash_tag(key)
        pos = bisect(self._points, _u32(md5(key.encode()).digest())[0])
        return self._names[pos if pos < len(self._points) else 0]

    def without(self, names: Sequence[str]) -> Ring | None:
        """A ring with ``names`` removed (the next node on the ring takes their keys)."""
        keep = [RingNode(n, self.weights[n]) for n in self.names if n not in names]
        return Ring(keep) if keep else None
