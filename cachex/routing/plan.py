"""Multi-key planning: keys -> one batch per node, replies -> the caller's order. Pure.

A ``Batch`` holds the keys one node serves, split into ``groups`` that a single multi-key
command may carry (one group per node for shards; one group per slot inside a Cluster node,
since MGET/DEL may not cross slots there). ``positions`` remember where each key came from.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

N = TypeVar("N", bound=Hashable)


@dataclass(slots=True)
class Group:
    keys: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


@dataclass
class Batch(Generic[N]):
    node: N
    groups: list[Group]

    @property
    def keys(self) -> list[str]:
        return [k for g in self.groups for k in g.keys]

    @property
    def positions(self) -> list[int]:
        return [p for g in self.groups for p in g.positions]


def plan_nodes(keys: Sequence[str], nodes: Sequence[N]) -> list[Batch[N]]:
    """Group ``keys`` by their nodes (``nodes[i]`` serves ``keys[i]``): one group per node."""
    if not nodes:
        return []
    if nodes.count(nodes[0]) == len(nodes):  # every key on one node: no grouping at all
        return single_batch(nodes[0], keys)
    by_node: dict[N, list[int]] = {}
    for pos, node in enumerate(nodes):
        try:
            by_node[node].append(pos)
        except KeyError:
            by_node[node] = [pos]
    key_at = keys.__getitem__
    return [Batch(node, [Group(list(map(key_at, ps)), ps)]) for node, ps in by_node.items()]


def plan_slots(keys: Sequence[str], slots: Sequence[int], owners: Sequence[N]
               ) -> list[Batch[N]]:
    """Cluster plan: one batch per owning node (``owners[slot]``), one group per slot
    inside it, since a multi-key command may not cross slots (``slots[i]`` holds
    ``keys[i]``)."""
    by_slot: dict[int, Group] = {}
    for pos, (key, slot) in enumerate(zip(keys, slots)):
        group = by_slot.get(slot)
        if group is None:
            by_slot[slot] = Group([key], [pos])
        else:
            group.keys.append(key)
            group.positions.append(pos)
    nested: dict[N, list[Group]] = {}
    for slot, group in by_slot.items():
        owner = owners[slot]
        try:
            nested[owner].append(group)
        except KeyError:
            nested[owner] = [group]
    return [Batch(node, groups) for node, groups in nested.items()]


def single_batch(node: N, keys: Sequence[str]) -> list[Batch[N]]:
    """The plan for a one-node topology: no hashing at all."""
    return [Batch(node, [Group(list(keys), list(range(len(keys))))])]


def scatter(size: int, groups: Sequence[Group], replies: Sequence[Sequence[Any]]) -> list[Any]:
    """Put each group's per-key replies back at the caller's positions. One pass over the
    values (a reply shorter than its group fills only its first positions; the rest stay
    None)."""
    out: list[Any] = [None] * size
    for group, reply in zip(groups, replies):
        for pos, value in zip(group.positions, reply):
            out[pos] = value
    return out
