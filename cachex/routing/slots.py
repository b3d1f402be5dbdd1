"""Cluster hash slots: CRC16/XMODEM of the hash tag, modulo 16384. Pure.

``binascii.crc_hqx`` is exactly CRC16/XMODEM (poly 0x1021, init 0) and runs in C.
"""

from __future__ import annotations

from binascii import crc_hqx

from .hashtag import hash_tag

SLOTS = 16384


def crc16(data: bytes) -> int:
    """CRC16/XMODEM, the checksum Redis Cluster uses."""
    return crc_hqx(data, 0)


def key_slot(key: str) -> int:
    """The slot that owns ``key`` (hash tags honoured)."""
    return crc_hqx(hash_tag(key).encode(), 0) % SLOTS
