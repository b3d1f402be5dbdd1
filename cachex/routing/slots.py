"""Cluster hash slots: CRC16/XMODEM of the hash tag, modulo 16384. Pure.

``binascii.crc_hqx`` is exactly CRC16/XMODEM (poly 0x1021, init 0) and runs in C.
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Sequence
from typing import Any

from .hashtag import hash_tag

SLOTS = 16384


def key_slot(key: str) -> int:
    """The slot that owns ``key`` (hash tags honoured)."""
    if "{" in key:
        key = hash_tag(key)
    return crc_hqx(key.encode(), 0) % SLOTS


MEMO_SIZE = 1 << 16  # keys whose slot a SlotMemo remembers before it starts afresh


class SlotMemo:
    """Slots of many keys at once, remembered: a site's hot keys repeat, and computing a
    slot is Python work per key; a remembered one is a C-speed dict lookup."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[str, int] = {}

    def slots(self, keys: Sequence[str]) -> list[int]:
        found: list[Any] = list(map(self._memo.get, keys))
        if None in found:
            memo = self._memo
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            for i, slot in enumerate(found):
                if slot is None:
                    found[i] = memo[keys[i]] = key_slot(keys[i])
        return found
