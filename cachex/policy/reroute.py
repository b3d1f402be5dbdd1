"""Re-planning one node's commands onto the ring without that node. Pure.

A batch built for node X holds commands whose keys all live on X. Without X, those keys
spread over several nodes (ketama moves each key to its own next node), so each command is
split by the keys' new owners and the replies are put back together in the original order:
one multi-key command becomes one per new owner; a single-key command moves whole.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

Command = tuple[Any, ...]

# multi-key commands whose arguments are all keys; how their per-node replies combine
LIST_REPLY = frozenset({"MGET"})
SUM_REPLY = frozenset({"DEL", "UNLINK", "EXISTS", "TOUCH"})
# commands with no key to route by
KEYLESS = frozenset({"FLUSHDB", "FLUSHALL", "PING", "DBSIZE", "SCAN", "INFO", "KEYS",
                     "RANDOMKEY", "SCRIPT", "FUNCTION", "CLIENT", "CONFIG"})


class NotReroutable(ValueError):
    """A command without a key (FLUSHDB...) belongs to one node and cannot move."""


class ReroutedReplies(list):  # type: ignore[type-arg]
    """A node's replies in a multi-node request, served by other nodes because it was
    rerouted. A list like any reply list; the decision travels with the replies (as
    ``FailedReplies`` does for fail_open), so an observer that sees only the outcome, such as
    the metrics layer after an async batch's per-node tasks, can tell it apart."""

    __slots__ = ()


@dataclass
class _Part:
    node: Hashable
    index: int                                   # position in that node's command list
    positions: list[int] | None = None           # MGET: where its values go


@dataclass
class Reroute:
    """Per-node command lists, and how to rebuild the original replies from theirs."""

    batches: list[tuple[Hashable, list[Command]]] = field(default_factory=list)
    _parts: list[tuple[str, int, list[_Part]]] = field(default_factory=list)

    def merge(self, replies: Sequence[Sequence[Any]], rerouted: bool = False) -> list[Any]:
        """Replies per batch (in ``batches`` order) -> one reply per original command;
        ``rerouted``: as ``ReroutedReplies`` (a failover's plan, not a slot-map re-plan)."""
        by_node = {node: replies[i] for i, (node, _) in enumerate(self.batches)}
        out: list[Any] = ReroutedReplies() if rerouted else []
        for kind, size, parts in self._parts:
            if kind == "list":
                values: list[Any] = [None] * size
                for part in parts:
                    assert part.positions is not None
                    got = by_node[part.node][part.index]
                    for pos, value in zip(part.positions, got, strict=True):
                        values[pos] = value
                out.append(values)
            elif kind == "sum":
                out.append(sum(int(by_node[p.node][p.index]) for p in parts))
            else:
                out.append(by_node[parts[0].node][parts[0].index])
        return out


def command_key(command: Command) -> Any:
    """The key a single-key command is routed by."""
    name = str(command[0]).upper()
    if name in KEYLESS or len(command) < 2:
        raise NotReroutable(f"{command[0]} has no key to route by")
    if name in ("EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"):
        if len(command) < 4 or int(command[2]) < 1:
            raise NotReroutable(f"{command[0]} without keys cannot be rerouted")
        return command[3]
    return command[1]


def reroute(commands: Sequence[Command], locate: Callable[[Any], Hashable | None]) -> Reroute:
    """Split ``commands`` by ``locate(key)``; raises NotReroutable when a command cannot move
    or ``locate`` finds no node (every node is down)."""
    plan = Reroute()
    lists: dict[Hashable, list[Command]] = {}

    def place(node: Hashable | None, command: Command) -> tuple[Hashable, int]:
        if node is None:
            raise NotReroutable("no node left on the ring")
        cmds = lists.get(node)
        if cmds is None:
            cmds = lists[node] = []
            plan.batches.append((node, cmds))
        cmds.append(command)
        return node, len(cmds) - 1

    for command in commands:
        name = str(command[0]).upper()
        if (name in LIST_REPLY or name in SUM_REPLY) and len(command) > 2:
            keys = command[1:]
            grouped: dict[Hashable | None, list[int]] = {}
            for pos, key in enumerate(keys):
                grouped.setdefault(locate(key), []).append(pos)
            parts = []
            for node, positions in grouped.items():
                target, index = place(node, (command[0], *(keys[p] for p in positions)))
                parts.append(_Part(target, index, positions))
            plan._parts.append(("list" if name in LIST_REPLY else "sum", len(keys), parts))
        else:
            target, index = place(locate(command_key(command)), command)
            plan._parts.append(("one", 1, [_Part(target, index)]))
    return plan
