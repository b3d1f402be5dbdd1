"""Decoding with limits, on a real server: the alias (not the stored header) decides what is
decompressed and deserialized, a value may not expand past OPTIONS['decompress_max_size'],
and one bad value in a get_many is a logged miss, not the loss of the whole batch."""

from __future__ import annotations

import asyncio
import logging
import pickle
import struct
import zlib
from typing import Any

import pytest
import zstandard

from cachex.codec import DecodeError
from cachex.redact import key_hash
from tests.security._util import MB, all_logs, peak_growth

BOMB_SIZE = 256 * MB


def zero_stream(compress: Any, size: int = BOMB_SIZE, chunk: int = MB) -> bytes:
    """A valid pickle of ``size`` zero bytes, compressed without ever holding it in memory
    (so without the limit it would decode, and the caller would hold 256 MB)."""
    zeros = bytes(chunk)
    head = compress(b"\x80\x04\x8e" + struct.pack("<Q", size))  # BINBYTES8 of `size` bytes
    return head + b"".join(compress(zeros) for _ in range(size // chunk)) + compress(b".")


def zstd_bomb(declared: bool) -> bytes:
    cctx = zstandard.ZstdCompressor(write_content_size=declared)
    obj = cctx.compressobj(size=BOMB_SIZE + 12 if declared else -1)
    return zero_stream(obj.compress) + obj.flush()


def zlib_bomb() -> bytes:
    obj = zlib.compressobj(9)
    return zero_stream(obj.compress) + obj.flush()


def store(server: Any, cache: Any, key: str, data: bytes) -> None:
    server.client().set(cache.make_key(key), data)


BOMBS = {
    "zstd 8KB, size in header": ("zstd", lambda: zstd_bomb(True)),
    "zstd 8KB, no size in header": ("zstd", lambda: zstd_bomb(False)),
    "zlib 255KB": ("zlib", zlib_bomb),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_decompression_bomb_is_refused_without_the_memory(
        name: str, single_server: Any, make_cache: Any) -> None:
    compressor, build = BOMBS[name]
    frame = build()
    assert len(frame) < 300 * 1024  # 8 KB (zstd) and 255 KB (zlib), as in the report
    cache = make_cache(single_server.url, KEY_PREFIX="bomb", OPTIONS={"compressor": compressor})
    store(single_server, cache, "v", b"\x00p" + {"zstd": b"s", "zlib": b"z"}[compressor] + frame)
    caught: list[BaseException] = []

    def read() -> None:
        try:
            cache.get("v")
        except DecodeError as exc:
            caught.append(exc)

    grew = peak_growth(read)
    print(f"\n[measure] {name}: {len(frame)} stored bytes, peak RSS growth {grew / MB:.1f} MB")
    assert caught, "the bomb was decompressed and returned"
    message = str(caught[0])
    assert "decompress_max_size" in message and str(64 * MB) in message
    assert grew < 10 * MB


def test_an_alias_without_compression_never_decompresses(single_server: Any,
                                                         make_cache: Any) -> None:
    """The report's json alias with compressor=None decompressed a zstd header anyway."""
    cache = make_cache(single_server.url, KEY_PREFIX="nocomp", OPTIONS={"serializer": "json"})
    store(single_server, cache, "v", b"\x00js" + zstd_bomb(False))
    caught: list[BaseException] = []

    def read() -> None:
        try:
            cache.get("v")
        except DecodeError as exc:
            caught.append(exc)

    assert peak_growth(read) < 10 * MB
    assert caught and "compressed with 'zstd'" in str(caught[0])
    assert "decode_fallbacks" in str(caught[0])


def test_the_limit_is_configurable_and_fallbacks_allow_a_migration(
        single_server: Any, make_cache: Any) -> None:
    writer = make_cache(single_server.url, KEY_PREFIX="lim", OPTIONS={"compressor": "zlib"})
    writer.set("small", "x" * (MB // 2))
    writer.set("large", "x" * (2 * MB))
    reader = make_cache(single_server.url, KEY_PREFIX="lim",
                        OPTIONS={"compressor": "lz4", "decode_fallbacks": ["zlib"],
                                 "decompress_max_size": MB})
    assert reader.get("small") == "x" * (MB // 2)
    with pytest.raises(DecodeError, match="decompress_max_size"):
        reader.get("large")
    strict = make_cache(single_server.url, KEY_PREFIX="lim", OPTIONS={"compressor": "lz4"})
    with pytest.raises(DecodeError, match="compressed with 'zlib'"):
        strict.get("small")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_get_many_returns_the_good_values_and_logs_the_bad_one(
        mode: str, shard_servers: Any, make_cache: Any) -> None:
    cache = make_cache([s.url for s in shard_servers], KEY_PREFIX=f"corrupt-{mode}")
    good = {f"k{i}": {"i": i} for i in range(30)}
    cache.set_many(good)
    bad = ["k3", "k17"]
    for key in bad:
        made = cache.make_key(key)
        for server in shard_servers:
            client = server.client()
            if client.exists(made):
                client.set(made, b"\x80\x05corrupt" if key == "k3" else b"\x00pz" + b"junk")
    with all_logs() as logs:
        if mode == "sync":
            got = cache.get_many(list(good))
        else:
            got = asyncio.run(cache.aget_many(list(good)))
    assert got == {k: v for k, v in good.items() if k not in bad}
    warnings = [r for r in logs.records if r.name == "cachex.codec"
                and r.levelno == logging.WARNING]
    assert len(warnings) == len(bad)
    shown = {r.key for r in warnings}  # type: ignore[attr-defined]
    assert shown == {f"key#{key_hash(cache.make_key(k))}" for k in bad}
    assert not any(cache.make_key(k) in r.getMessage() for r in warnings for k in bad)
    with pytest.raises(DecodeError):  # a single get still says what is wrong
        cache.get("k3")


def test_pickle_alias_with_fallback_reads_json_and_json_alias_refuses_pickle(
        single_server: Any, make_cache: Any) -> None:
    as_json = make_cache(single_server.url, KEY_PREFIX="mig", OPTIONS={"serializer": "json"})
    single_server.client().set(as_json.make_key("old"), pickle.dumps({"a": 1}))
    with pytest.raises(DecodeError, match="does not unpickle"):
        as_json.get("old")
    migrating = make_cache(single_server.url, KEY_PREFIX="mig",
                           OPTIONS={"serializer": "json", "decode_fallbacks": ["pickle"]})
    assert migrating.get("old") == {"a": 1}
