"""Multi-key planning: keys -> one batch per node, replies -> the caller's order. Pure.

A ``Batch`` holds the keys one node serves, split into ``groups`` that a single multi-key
command may carry (one group per node for shards; one group per slot inside a Cluster node,
since MGET/DEL may not cross slots there). ``positions`` remember where each key came from.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Generic, TypeVar, Union

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


def positions_by_node(nodes: Sequence[N]) -> dict[N, list[int]]:
    """Each node's positions in ``nodes``, nodes in order of first appearance."""
    by_node: dict[N, list[int]] = {}
    for pos, node in enumerate(nodes):
        try:
            by_node[node].append(pos)
        except KeyError:
            by_node[node] = [pos]
    return by_node


def plan_nodes(keys: Sequence[str], nodes: Sequence[N]) -> list[Batch[N]]:
    """Group ``keys`` by their nodes (``nodes[i]`` serves ``keys[i]``): one group per node."""
    if not nodes:
        return []
    if nodes.count(nodes[0]) == len(nodes):  # every key on one node: no grouping at all
        return single_batch(nodes[0], keys)
    by_node = positions_by_node(nodes)
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


Commands = list[tuple[N, list[tuple[Any, ...]]]]
"""One multi-key command per group, per node: what the router runs."""
Positions = Union[list[list[int]], None]  # noqa: UP007 - a runtime alias
"""Per command (in node, then group order), the caller's positions of its keys; None when
one command carries every key in the caller's order."""


def node_commands(name: str, keys: Sequence[str], nodes: Sequence[N]
                  ) -> tuple[Commands[N], Positions]:
    """``plan_nodes`` straight to commands (``name`` with each node's keys), with no
    ``Batch``/``Group`` between: the shards' ``get_many``/``delete_many`` path, where every
    object and loop per call shows."""
    if not nodes:
        return [], None
    first = nodes[0]
    if nodes.count(first) == len(nodes):
        return [(first, [(name, *keys)])], None
    by_node = positions_by_node(nodes)
    # itemgetter picks a node's keys at C speed (for one position it returns the key itself)
    return ([(node, [(name, *itemgetter(*ps)(keys)) if len(ps) > 1 else (name, keys[ps[0]])])
             for node, ps in by_node.items()], list(by_node.values()))


def batch_commands(name: str, batches: Sequence[Batch[N]]) -> tuple[Commands[N], Positions]:
    """Any plan as commands: one per group."""
    if len(batches) == 1 and len(batches[0].groups) == 1:
        # a plan's only group holds every key in the caller's order
        return [(batches[0].node, [(name, *batches[0].groups[0].keys)])], None
    return ([(b.node, [(name, *g.keys) for g in b.groups]) for b in batches],
            [g.positions for b in batches for g in b.groups])


def scatter(size: int, positions: Sequence[list[int]],
            replies: Sequence[Sequence[Sequence[Any]]]) -> list[Any]:
    """Put each command's per-key replies (``replies``: per node, per command) back at the
    caller's ``positions``. One pass over the values (a reply shorter than its command fills
    only its first positions; the rest stay None)."""
    out: list[Any] = [None] * size
    flat = replies[0] if len(replies) == 1 else [r for per_node in replies for r in per_node]
    for where, reply in zip(positions, flat):
        for pos, value in zip(where, reply):
            out[pos] = value
    return out
