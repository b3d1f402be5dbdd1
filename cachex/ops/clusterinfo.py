"""CLUSTER NODES as plain data: roles, slots, failure flags and slot migrations. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

SLOTS = 16384


@dataclass
class ClusterNode:
    id: str
    address: str  # host:port (the cluster bus port left out)
    flags: tuple[str, ...]
    primary_id: str | None
    link: str
    slots: list[tuple[int, int]] = field(default_factory=list)
    migrating: dict[int, str] = field(default_factory=dict)  # slot -> target node id
    importing: dict[int, str] = field(default_factory=dict)  # slot -> source node id

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def failing(self) -> bool:
        return "fail" in self.flags or "fail?" in self.flags

    @property
    def slot_count(self) -> int:
        return sum(end - start + 1 for start, end in self.slots)


def parse_nodes(text: str) -> list[ClusterNode]:
    nodes = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        node_id, addr, flags, primary, _ping, _pong, _epoch, link, *slot_fields = parts
        address = addr.split("@", 1)[0].split(",", 1)[0]
        node = ClusterNode(node_id, address, tuple(f for f in flags.split(",") if f),
                           None if primary == "-" else primary, link)
        for item in slot_fields:
            if item.startswith("["):
                body = item.strip("[]")
                if "->-" in body:
                    slot, target = body.split("->-", 1)
                    node.migrating[int(slot)] = target
                elif "-<-" in body:
                    slot, source = body.split("-<-", 1)
                    node.importing[int(slot)] = source
                continue
            start, _, end = item.partition("-")
            node.slots.append((int(start), int(end or start)))
        nodes.append(node)
    return nodes


def coverage(nodes: list[ClusterNode]) -> tuple[int, list[tuple[int, int]]]:
    """(slots served by a primary not flagged as failing, the uncovered ranges)."""
    served = bytearray(SLOTS)
    for node in nodes:
        if node.is_primary and not node.failing:
            for first, last in node.slots:
                served[first:last + 1] = b"\x01" * (last - first + 1)
    gaps: list[tuple[int, int]] = []
    start: int | None = None
    for slot in range(SLOTS):
        if not served[slot] and start is None:
            start = slot
        elif served[slot] and start is not None:
            gaps.append((start, slot - 1))
            start = None
    if start is not None:
        gaps.append((start, SLOTS - 1))
    return sum(served), gaps


def ranges_text(ranges: list[tuple[int, int]]) -> str:
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges) or "-"
