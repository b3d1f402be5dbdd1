"""Cluster hash slots: CRC16/XMODEM of the hash tag, modulo 16384. Pure, table-driven."""

from __future__ import annotations

from .hashtag import hash_tag

SLOTS = 16384


def _table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        out.append(crc & 0xFFFF)
    return tuple(out)


_CRC_TABLE = _table()


def crc16(data: bytes) -> int:
    """CRC16/XMODEM, the checksum Redis Cluster uses."""
    crc = 0
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ byte) & 0xFF]
    return crc


def key_slot(key: str) -> int:
    """The slot that owns ``key`` (hash tags honoured)."""
    return crc16(hash_tag(key).encode()) % SLOTS
