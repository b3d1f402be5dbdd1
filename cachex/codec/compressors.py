"""Compressors: bytes <-> smaller bytes.

Instances are safe to share between threads. ``lz4`` and ``zstandard`` are optional and
imported when a compressor is built, with an ``ImportError`` naming the extra to install.
Every format used here carries its own integrity check (zlib: Adler-32; lz4 frame and zstd
frame: content checksum), so corrupt data fails loudly instead of decompressing to garbage.
"""

from __future__ import annotations

import threading
import zlib
from typing import Any, Protocol

from cachex.codec._optional import import_optional

__all__ = ["Compressor", "Lz4Compressor", "ZlibCompressor", "ZstdCompressor"]


class Compressor(Protocol):
    """What the codec needs from a compressor."""

    name: str

    def compress(self, data: bytes) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


def _check_level(name: str, level: Any, low: int, high: int) -> int:
    if type(level) is not int or not low <= level <= high:
        raise ValueError(
            f"{name} compression level must be an int from {low} to {high}, not {level!r}"
        )
    return level


class ZlibCompressor:
    """zlib (standard library), ``level`` 0-9, default 6."""

    name = "zlib"

    def __init__(self, level: int = 6) -> None:
        self.level = _check_level("zlib", level, 0, 9)

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data, self.level)

    def decompress(self, data: bytes) -> bytes:
        return zlib.decompress(data)


class Lz4Compressor:
    """LZ4 frame format with a content checksum; ``level`` 0 (fast, default) to 16."""

    name = "lz4"

    def __init__(self, level: int = 0) -> None:
        self.level = _check_level("lz4", level, 0, 16)
        frame = import_optional(
            "lz4.frame", package="lz4", extra="lz4", feature="The 'lz4' compressor"
        )
        self._compress = frame.compress
        self._decompress = frame.decompress

    def compress(self, data: bytes) -> bytes:
        out: bytes = self._compress(
            data, compression_level=self.level, content_checksum=True, store_size=True
        )
        return out

    def decompress(self, data: bytes) -> bytes:
        out: bytes = self._decompress(data)
        return out


class ZstdCompressor:
    """Zstandard frame with a content checksum; ``level`` 1-22, default 3.

    ``zstandard`` (de)compressor objects must not be used by two threads at once and are
    not free to build, so each thread gets its own pair, built on first use.
    """

    name = "zstd"

    def __init__(self, level: int = 3) -> None:
        self.level = _check_level("zstd", level, 1, 22)
        self._zstd = import_optional(
            "zstandard", package="zstandard", extra="zstd", feature="The 'zstd' compressor"
        )
        self._local = threading.local()

    def compress(self, data: bytes) -> bytes:
        try:
            compressor = self._local.compressor
        except AttributeError:
            compressor = self._local.compressor = self._zstd.ZstdCompressor(
                level=self.level, write_checksum=True, write_content_size=True
            )
        out: bytes = compressor.compress(data)
        return out

    def decompress(self, data: bytes) -> bytes:
        try:
            decompressor = self._local.decompressor
        except AttributeError:
            decompressor = self._local.decompressor = self._zstd.ZstdDecompressor()
        out: bytes = decompressor.decompress(data)
        return out
