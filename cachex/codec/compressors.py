"""Compressors: bytes <-> smaller bytes.

Instances are safe to share between threads. ``lz4`` and ``zstandard`` are optional and
imported when a compressor is built, with an ``ImportError`` naming the extra to install.
Every format used here carries its own integrity check (zlib: Adler-32; lz4 frame and zstd
frame: content checksum), so corrupt data fails loudly instead of decompressing to garbage.

Decompression is bounded: ``decompress(data, max_size)`` raises :class:`TooLarge` rather than
produce more than ``max_size`` bytes, and a refused value never costs more than a small
working buffer. Anyone who can write to the server can store a few kilobytes that expand to
gigabytes (a zstd frame of 8 KB can hold 256 MB of zeros), so the size is never learnt by
decompressing everything first:

* when the input is too small to reach ``max_size`` at the format's highest possible ratio
  (zlib, lz4), it is decompressed in one call, as before;
* a size declared in the frame header (lz4, zstd: cachex always writes it) above ``max_size``
  is refused before any work; a declared size within bounds caps the output buffer;
* otherwise the output is first counted in fixed-size chunks that are thrown away, and only
  a value found to be within bounds is decompressed for real.
"""

from __future__ import annotations

import threading
import zlib
from typing import Any, Protocol

from cachex.codec._optional import import_optional

__all__ = ["Compressor", "Lz4Compressor", "TooLarge", "ZlibCompressor", "ZstdCompressor"]

# Output counted per step when the size must be measured before decompressing for real.
CHUNK = 256 * 1024
# Highest output/input ratios the formats can reach (zlib: 1032:1 per the zlib FAQ; the
# lz4 block format: 255:1), plus slack for headers.
ZLIB_MAX_RATIO = 1040
LZ4_MAX_RATIO = 256


class TooLarge(ValueError):
    """The data decompresses to more than the allowed size."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        self.limit = limit
        self.declared = declared
        super().__init__(f"its header declares {declared} bytes decompressed, above the limit "
                         f"of {limit}" if declared is not None
                         else f"it decompresses to more than the limit of {limit} bytes")


class Compressor(Protocol):
    """What the codec needs from a compressor."""

    name: str

    def compress(self, data: bytes) -> bytes: ...

    def decompress(self, data: bytes, max_size: int) -> bytes:
        """``data`` decompressed; :class:`TooLarge` if that is more than ``max_size`` bytes."""
        ...


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

    def decompress(self, data: bytes, max_size: int) -> bytes:
        if len(data) * ZLIB_MAX_RATIO > max_size:
            d = zlib.decompressobj()
            total, rest = 0, data
            while rest:
                total += len(d.decompress(rest, CHUNK))
                if total > max_size:
                    raise TooLarge(max_size)
                rest = d.unconsumed_tail
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
        self._frame_info = frame.get_frame_info
        self._decompressor = frame.LZ4FrameDecompressor

    def compress(self, data: bytes) -> bytes:
        out: bytes = self._compress(
            data, compression_level=self.level, content_checksum=True, store_size=True
        )
        return out

    def decompress(self, data: bytes, max_size: int) -> bytes:
        if len(data) * LZ4_MAX_RATIO > max_size:
            declared = int(self._frame_info(data).get("content_size") or 0)
            if declared > max_size:
                raise TooLarge(max_size, declared)
            # the header may lie: count the real output in chunks (lz4 grows its buffer)
            d = self._decompressor()
            total = len(d.decompress(data, max_length=CHUNK))
            while total <= max_size and not d.eof and not d.needs_input:
                total += len(d.decompress(b"", max_length=CHUNK))
            if total > max_size:
                raise TooLarge(max_size)
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

    def decompress(self, data: bytes, max_size: int) -> bytes:
        try:
            decompressor = self._local.decompressor
        except AttributeError:
            decompressor = self._local.decompressor = self._zstd.ZstdDecompressor()
        declared = self._zstd.frame_content_size(data)
        if declared > max_size:
            raise TooLarge(max_size, declared)
        if declared < 0:  # no size in the header: count the output first
            total = 0
            with decompressor.stream_reader(data) as reader:
                while total <= max_size:
                    chunk = reader.read(CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
            if total > max_size:
                raise TooLarge(max_size)
            out: bytes = decompressor.decompress(data, max_output_size=max(total, 1))
            return out
        # a declared size sizes the output buffer exactly: zstd fails rather than exceed it
        out = decompressor.decompress(data)
        return out
