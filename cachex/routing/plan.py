"""Multi-key planning: keys -> one batch per node, replies -> the caller's order. Pure.

A ``Batch`` holds the keys one node serves, split into ``groups`` that a single multi-key
command may carry (one group per node for shards; one group per slot inside a Cluster node,
since MGET/DEL may not cross slots there). ``positions`` remember where each key came from.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

N = TypeVar("N", bound=Hashable)


@dataclass
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


def plan(keys: Sequence[str], locate: Callable[[str], N],
         group_of: Callable[[str], Hashable] | None = None) -> list[Batch[N]]:
    """Group ``keys`` by ``locate(key)``; within a node, by ``group_of(key)`` when given."""
    if group_of is None:
        by_node: dict[N, Group] = {}
        for pos, key in enumerate(keys):
            node = locate(key)
            group = by_node.get(node)
            if group is None:
                group = by_node[node] = Group()
            group.keys.append(key)
            group.positions.append(pos)
        return [Batch(node, [group]) for node, group in by_node.items()]
    nested: dict[N, dict[Hashable, Group]] = {}
    for pos, key in enumerate(keys):
        node = locate(key)
        groups = nested.setdefault(node, {})
        tag = group_of(key)
        group = groups.get(tag)
        if group is None:
            group = groups[tag] = Group()
        group.keys.append(key)
        group.positions.append(pos)
    return [Batch(node, list(groups.values())) for node, groups in nested.items()]


def plan_by_slot(keys: Sequence[str], slot_of: Callable[[str], int],
                 owners: Sequence[N]) -> list[Batch[N]]:
    """Cluster plan: one batch per owning node, one group per slot inside it."""
    nested: dict[N, dict[int, Group]] = {}
    for pos, key in enumerate(keys):
        slot = slot_of(key)
        groups = nested.setdefault(owners[slot], {})
        group = groups.get(slot)
        if group is None:
            group = groups[slot] = Group()
        group.keys.append(key)
        group.positions.append(pos)
    return [Batch(node, list(groups.values())) for node, groups in nested.items()]


def single_batch(node: N, keys: Sequence[str]) -> list[Batch[N]]:
    """The plan for a one-node topology: no hashing at all."""
    return [Batch(node, [Group(list(keys), list(range(len(keys))))])]


def scatter(size: int, groups: Sequence[Group], replies: Sequence[Sequence[Any]]) -> list[Any]:
    """Put each group's per-key replies back at the caller's positions."""
    out: list[Any] = [None] * size
    for group, reply in zip(groups, replies):
        for pos, value in zip(group.positions, reply):
            out[pos] = value
    return out
