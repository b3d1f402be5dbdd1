"""The cluster's slot map as plain data: parsed from CLUSTER SLOTS, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..routing import SLOTS


@dataclass
class SlotMap:
    """Which primary (``host:port``) serves each slot, and the replicas of each primary."""

    owners: list[str | None]
    replicas: dict[str, list[str]] = field(default_factory=dict)

    @property
    def primaries(self) -> list[str]:
        return sorted({o for o in self.owners if o is not None})

    @property
    def complete(self) -> bool:
        return all(o is not None for o in self.owners)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def address(host: Any, port: Any) -> str:
    return f"{_text(host)}:{int(port)}"


def parse_cluster_slots(reply: Sequence[Any], fallback_host: str) -> SlotMap:
    """CLUSTER SLOTS reply -> SlotMap. An empty host means "the node you asked"."""
    owners: list[str | None] = [None] * SLOTS
    replicas: dict[str, list[str]] = {}
    for entry in reply:
        start, end, primary, *others = entry
        host = _text(primary[0]) or fallback_host
        owner = address(host, primary[1])
        for slot in range(int(start), int(end) + 1):
            owners[slot] = owner
        known = replicas.setdefault(owner, [])
        for rep in others:
            addr = address(_text(rep[0]) or fallback_host, rep[1])
            if addr not in known:
                known.append(addr)
    return SlotMap(owners, replicas)


def split_address(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)
