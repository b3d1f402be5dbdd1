"""cachex.codec: round-trips, Django wire compatibility, errors. Pure: no server."""

from __future__ import annotations

import datetime
import decimal
import enum
import hmac
import logging
import os
import pickle
import re
import sys
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache.backends.redis import RedisSerializer
from redis.connection import Encoder as RedisEncoder  # type: ignore[attr-defined]

from cachex.codec import (
    Codec,
    CodecError,
    DecodeError,
    EncodeError,
    JSONSerializer,
    Lz4Compressor,
    MsgpackSerializer,
    PickleSerializer,
    ZlibCompressor,
    ZstdCompressor,
)
from cachex.codec.compressors import TooLarge
from cachex.exceptions import CachexError
from cachex.redact import key_hash

SERIALIZERS = ["pickle", "json", "msgpack"]
COMPRESSORS = [None, "zlib", "lz4", "zstd"]
COMPRESSORS_BY_NAME = {"zlib": ZlibCompressor, "lz4": Lz4Compressor, "zstd": ZstdCompressor}
_redis_encoder = RedisEncoder("utf-8", "strict", False)


def wire(encoded: bytes | int) -> bytes:
    """What Redis hands back for a value the codec produced (redis-py's own encoding)."""
    out: bytes = _redis_encoder.encode(encoded)
    return out


@dataclass(frozen=True)
class Point:
    x: int
    y: int


class Color(enum.IntEnum):
    RED = 1


class Unpicklable:
    def __reduce__(self) -> Any:
        raise pickle.PickleError("nope")


BIG_TEXT = "the quick brown fox jumps over the lazy dog " * 200
COMMON_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    2**62,
    1.5,
    -0.0,
    "",
    "héllo ☃ \U0001f600",
    ["a", 1, None, 2.5, [True]],
    {"a": [1, 2], "b": {"c": None}, "": "empty"},
    BIG_TEXT,
    {"rows": [{"id": i, "name": f"user{i}"} for i in range(200)]},
]
PICKLE_ONLY: list[Any] = [
    b"\x00\x01raw",
    (1, "two", 3.0),
    {1, 2, 3},
    frozenset({"a"}),
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    decimal.Decimal("1.10"),
    Point(1, 2),
    Color.RED,
    {1: "int key", (2, 3): "tuple key"},
    10**700,
    b"x" * 5000,
]
MSGPACK_ONLY: list[Any] = [b"\x00\x01raw", {1: "int key"}, b"y" * 5000]


def values_for(serializer: str) -> list[Any]:
    extra = {"pickle": PICKLE_ONLY, "json": [], "msgpack": MSGPACK_ONLY}[serializer]
    return COMMON_VALUES + extra


def codecs(**kwargs: Any) -> Iterator[Codec]:
    for s in SERIALIZERS:
        for c in COMPRESSORS:
            yield Codec(serializer=s, compressor=c, **kwargs)


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("compressor", COMPRESSORS)
@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("min_size", [0, 1024])
def test_round_trip(serializer: str, compressor: str | None, min_size: int) -> None:
    codec = Codec(serializer=serializer, compressor=compressor, min_compress_size=min_size)
    for value in values_for(serializer):
        encoded = codec.encode(value, key="k")
        decoded = codec.decode(wire(encoded), key="k")
        assert decoded == value
        assert type(decoded) is type(value)


def test_json_and_msgpack_normalise_containers() -> None:
    for name in ("json", "msgpack"):
        codec = Codec(serializer=name)
        assert codec.decode(wire(codec.encode((1, 2)))) == [1, 2]
    json_codec = Codec(serializer="json")
    assert json_codec.decode(wire(json_codec.encode({1: "a"}))) == {"1": "a"}


def test_nan_round_trips_in_json() -> None:
    codec = Codec(serializer="json")
    out = codec.decode(codec.encode(float("nan")))  # type: ignore[arg-type]
    assert out != out


# -- raw integers -------------------------------------------------------------------------


@pytest.mark.parametrize("codec", list(codecs(min_compress_size=0)), ids=repr)
def test_plain_ints_are_raw_for_every_codec(codec: Codec) -> None:
    for n in (0, 1, -1, 42, 2**63 - 1, -(2**63), 10**100):
        encoded = codec.encode(n)
        assert type(encoded) is int and encoded == n
        assert codec.decode(wire(encoded)) == n
    # What INCR leaves behind is also plain decimal ASCII.
    assert codec.decode(b"43") == 43
    assert codec.decode(b"-5") == -5


@pytest.mark.parametrize("codec", list(codecs()), ids=repr)
def test_bool_and_int_subclasses_are_not_raw(codec: Codec) -> None:
    for value in (True, False):
        encoded = codec.encode(value)
        assert isinstance(encoded, bytes)
        assert codec.decode(encoded) is value
    if codec.serializer_name == "pickle":
        encoded = codec.encode(Color.RED)
        assert isinstance(encoded, bytes)
        assert codec.decode(encoded) is Color.RED


def test_huge_int_is_pickled_not_raw() -> None:
    codec = Codec()
    value = 10**700
    encoded = codec.encode(value)
    assert encoded == pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    assert RedisSerializer().loads(encoded) == value
    assert codec.decode(encoded) == value  # type: ignore[arg-type]


# -- Django wire compatibility ------------------------------------------------------------

DJANGO_VALUES: list[Any] = [
    0,
    1,
    -1,
    42,
    2**40,
    10**30,
    "",
    "text",
    "héllo",
    b"bytes",
    1.25,
    None,
    True,
    False,
    [1, "a"],
    (1, 2),
    {"a": 1, "b": [1, 2, {"c": 3}]},
    Point(3, 4),
    Color.RED,
    datetime.date(2020, 2, 29),
    decimal.Decimal("3.14"),
    BIG_TEXT,
]


@pytest.mark.parametrize("value", DJANGO_VALUES, ids=lambda v: type(v).__name__)
def test_default_codec_writes_exactly_django_bytes(value: Any) -> None:
    ours = Codec().encode(value)
    theirs = RedisSerializer().dumps(value)
    assert type(ours) is type(theirs)
    assert ours == theirs
    assert wire(ours) == wire(theirs)


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
def test_pickle_protocol_matches_django_serializer_protocol(protocol: int) -> None:
    codec = Codec(pickle_protocol=protocol)
    django = RedisSerializer(protocol=protocol)
    for value in DJANGO_VALUES:
        assert codec.encode(value) == django.dumps(value)
        assert codec.decode(wire(django.dumps(value))) == value
        assert django.loads(wire(codec.encode(value))) == value


@pytest.mark.parametrize("value", DJANGO_VALUES, ids=lambda v: type(v).__name__)
def test_django_and_cachex_read_each_other(value: Any) -> None:
    codec = Codec()
    assert RedisSerializer().loads(wire(codec.encode(value))) == value
    assert codec.decode(wire(RedisSerializer().dumps(value))) == value


def test_django_reads_large_uncompressed_default_values() -> None:
    # Compression is off by default, so big values stay in Django's format too.
    codec = Codec()
    value = {"blob": "z" * 100_000}
    assert RedisSerializer().loads(codec.encode(value)) == value


# -- header format ------------------------------------------------------------------------


def test_header_layout() -> None:
    assert Codec(serializer="json").encode({"a": [1, "é"]}) == b'\x00jn{"a":[1,"\xc3\xa9"]}'
    assert Codec(serializer="msgpack").encode("a") == b"\x00mn\xa1a"
    assert Codec(serializer="pickle", compressor="zlib").encode("x") == pickle.dumps(
        "x", pickle.HIGHEST_PROTOCOL
    )
    packed = Codec(compressor="zlib").encode(BIG_TEXT)
    assert isinstance(packed, bytes) and packed[:3] == b"\x00pz"
    assert zlib.decompress(packed[3:]) == pickle.dumps(BIG_TEXT, pickle.HIGHEST_PROTOCOL)
    ids = {"lz4": b"4", "zstd": b"s"}
    for name, tag in ids.items():
        data = Codec(serializer="json", compressor=name).encode(BIG_TEXT)
        assert isinstance(data, bytes) and data[:3] == b"\x00j" + tag


# -- compression threshold ----------------------------------------------------------------


@pytest.mark.parametrize("compressor", ["zlib", "lz4", "zstd"])
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_small_values_are_not_compressed(serializer: str, compressor: str) -> None:
    plain = Codec(serializer=serializer)
    packing = Codec(serializer=serializer, compressor=compressor, min_compress_size=1024)
    value = "a" * 500  # compressible, but under the threshold
    assert packing.encode(value) == plain.encode(value)


@pytest.mark.parametrize("compressor", ["zlib", "lz4", "zstd"])
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_large_compressible_values_are_compressed(serializer: str, compressor: str) -> None:
    plain = Codec(serializer=serializer).encode(BIG_TEXT)
    packed = Codec(serializer=serializer, compressor=compressor).encode(BIG_TEXT)
    assert isinstance(plain, bytes) and isinstance(packed, bytes)
    assert len(packed) < len(plain) // 4
    assert packed[:1] == b"\x00" and packed[2:3] != b"n"


@pytest.mark.parametrize("compressor", ["zlib", "lz4", "zstd"])
@pytest.mark.parametrize("serializer", ["pickle", "msgpack"])
def test_incompressible_values_are_stored_plain(serializer: str, compressor: str) -> None:
    value = os.urandom(20_000)
    plain = Codec(serializer=serializer).encode(value)
    packing = Codec(serializer=serializer, compressor=compressor, min_compress_size=0)
    assert packing.encode(value) == plain
    assert packing.decode(plain) == value  # type: ignore[arg-type]


def test_threshold_is_inclusive_on_payload_size() -> None:
    codec = Codec(serializer="json", compressor="zlib", min_compress_size=100)
    payload_len = len(JSONSerializer().dumps("a" * 98))  # quotes: 100 bytes
    assert payload_len == 100
    assert codec.encode("a" * 98)[2:3] == b"z"  # type: ignore[index]
    assert codec.encode("a" * 97)[2:3] == b"n"  # type: ignore[index]


def test_tiny_values_with_zero_threshold_stay_plain() -> None:
    # Compressing 5 bytes never pays for itself, so the value stays plain.
    codec = Codec(compressor="zlib", min_compress_size=0)
    assert codec.encode("abc") == pickle.dumps("abc", pickle.HIGHEST_PROTOCOL)


# -- reading other codecs' values ---------------------------------------------------------


@pytest.mark.parametrize("reader_compressor", COMPRESSORS)
@pytest.mark.parametrize("writer_compressor", ["zlib", "lz4", "zstd"])
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_other_compressors_are_read_only_when_listed_as_fallbacks(
    serializer: str, writer_compressor: str, reader_compressor: str | None
) -> None:
    writer = Codec(serializer=serializer, compressor=writer_compressor)
    value = {"text": BIG_TEXT}
    data = wire(writer.encode(value))
    reader = Codec(serializer=serializer, compressor=reader_compressor)
    if reader_compressor == writer_compressor:
        assert reader.decode(data) == value
    else:  # the stored header does not choose the decompressor: the alias does
        with pytest.raises(DecodeError, match=f"compressed with '{writer_compressor}'.*"
                           "OPTIONS\\['decode_fallbacks'\\]"):
            reader.decode(data)
    migrating = Codec(serializer=serializer, compressor=reader_compressor,
                      decode_fallbacks=[writer_compressor])
    assert migrating.decode(data) == value


@pytest.mark.parametrize("reader", SERIALIZERS)
@pytest.mark.parametrize("writer", ["json", "msgpack"])
def test_serializer_mismatch_is_a_helpful_decode_error(writer: str, reader: str) -> None:
    if writer == reader:
        return
    data = wire(Codec(serializer=writer).encode({"a": 1}))
    with pytest.raises(DecodeError) as info:
        Codec(serializer=reader).decode(data, key="user:1")
    msg = str(info.value)
    assert "user:1" not in msg and f"key#{key_hash('user:1')}" in msg
    assert repr(writer) in msg and repr(reader) in msg
    assert "OPTIONS['serializer']" in msg and "delete the key" in msg
    assert info.value.key == "user:1"
    assert Codec(serializer=reader, decode_fallbacks=[writer]).decode(data) == {"a": 1}


@pytest.mark.parametrize("reader", ["json", "msgpack"])
def test_pickle_is_never_unpickled_on_a_non_pickle_alias(reader: str) -> None:
    for data in (
        RedisSerializer().dumps("django wrote this"),
        Codec(compressor="zlib").encode(BIG_TEXT),
        pickle.dumps("old", 0),
    ):
        with pytest.raises(DecodeError) as info:
            Codec(serializer=reader).decode(data, key="k")  # type: ignore[arg-type]
        msg = str(info.value)
        assert "'pickle'" in msg and repr(reader) in msg


def test_tagged_pickle_without_compression_is_readable() -> None:
    data = b"\x00pn" + pickle.dumps([1, 2])
    assert Codec().decode(data) == [1, 2]


# -- corrupt data -------------------------------------------------------------------------

CORRUPT: list[bytes] = [
    b"",
    b"\x00",
    b"\x00j",
    b"\x00jx{}",
    b"\x00qn{}",
    b"\x80",
    b"\x80\x05garbage",
    b"\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x04abc",  # truncated string
    b"not a number or a pickle",
    b"12abc",
    b"\xff\xfe",
]


@pytest.mark.parametrize("codec", list(codecs()), ids=repr)
def test_corrupt_data_raises_decode_error(codec: Codec) -> None:
    for data in CORRUPT:
        with pytest.raises(DecodeError):
            codec.decode(data, key="k")


@pytest.mark.parametrize("compressor", COMPRESSORS)
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_truncated_and_flipped_values_raise_decode_error(
    serializer: str, compressor: str | None
) -> None:
    codec = Codec(serializer=serializer, compressor=compressor)
    data = wire(codec.encode({"text": BIG_TEXT, "n": list(range(50))}))
    for bad in (data[: len(data) // 2], data[:-1], data[:4]):
        with pytest.raises(DecodeError):
            codec.decode(bad, key="k")
    if compressor is not None:
        middle = len(data) // 2
        flipped = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
        with pytest.raises(DecodeError, match="corrupt"):
            codec.decode(flipped, key="k")


def test_corrupt_json_and_msgpack_payloads() -> None:
    with pytest.raises(DecodeError, match="serializer 'json'"):
        Codec(serializer="json").decode(b"\x00jn{bad")
    with pytest.raises(DecodeError, match="serializer 'json'"):
        Codec(serializer="json").decode(b"\x00jn\xff\xff")
    with pytest.raises(DecodeError, match="serializer 'msgpack'"):
        Codec(serializer="msgpack").decode(b"\x00mn\xa1aEXTRA")


def test_unknown_header_names_a_newer_cachex() -> None:
    with pytest.raises(DecodeError, match=r"unknown cachex header.*newer cachex"):
        Codec().decode(b"\x00pQpayload")


def test_pickle_of_a_missing_class_says_so() -> None:
    for data in (b"\x80\x02cno_such_module_xyz\nThing\nq\x00.", b"cno_such_module_xyz\nT\n."):
        with pytest.raises(DecodeError, match="cannot be imported") as info:
            Codec().decode(data, key="k")
        assert isinstance(info.value.__cause__, ImportError)


def test_decode_error_never_leaks_library_exceptions() -> None:
    with pytest.raises(DecodeError) as info:
        Codec(compressor="zstd").decode(b"\x00psnot zstd at all")
    assert "'zstd'" in str(info.value)
    assert not isinstance(info.value, ValueError)


# -- values that cannot be encoded --------------------------------------------------------

UNPICKLABLE: list[Any] = [lambda: 0, threading.Lock(), Unpicklable(), {"nested": [Unpicklable()]}]


@pytest.mark.parametrize("compressor", COMPRESSORS)
@pytest.mark.parametrize("value", UNPICKLABLE, ids=lambda v: type(v).__name__)
def test_unpicklable_values_raise_encode_error(value: Any, compressor: str | None) -> None:
    with pytest.raises(pickle.PickleError) as info:
        Codec(compressor=compressor).encode(value, key="session:9")
    err = info.value
    assert isinstance(err, EncodeError)
    assert isinstance(err, pickle.PicklingError)
    assert isinstance(err, TypeError)
    assert isinstance(err, CodecError) and isinstance(err, CachexError)
    assert "session:9" not in str(err) and "'pickle'" in str(err)
    assert err.__cause__ is not None


def test_encode_error_mro_and_pickling() -> None:
    mro = EncodeError.__mro__
    assert mro.index(CodecError) < mro.index(pickle.PicklingError) < mro.index(TypeError)
    err = EncodeError("boom", key="k")
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is EncodeError and str(clone) == "boom"
    assert issubclass(DecodeError, CachexError)


@pytest.mark.parametrize(
    "serializer, value",
    [
        ("json", {1, 2}),
        ("json", b"bytes"),
        ("json", Point(1, 2)),
        ("json", "\ud800"),  # lone surrogate: not UTF-8
        ("msgpack", {1, 2}),
        ("msgpack", Point(1, 2)),
        ("msgpack", [2**64]),
        ("msgpack", datetime.date(2020, 1, 1)),
    ],
)
def test_unsupported_types_raise_encode_error(serializer: str, value: Any) -> None:
    with pytest.raises(EncodeError, match=f"serializer '{serializer}'.*use serializer 'pickle'"):
        Codec(serializer=serializer, compressor="zlib").encode(value, key="k")


# -- configuration ------------------------------------------------------------------------


def test_from_options_defaults_and_keys() -> None:
    codec = Codec.from_options({"topology": "single", "retry": {"attempts": 3}})
    assert (codec.serializer_name, codec.compressor_name, codec.min_compress_size) == (
        "pickle",
        None,
        1024,
    )
    assert isinstance(codec.serializer, PickleSerializer)
    assert codec.serializer.protocol == pickle.HIGHEST_PROTOCOL
    codec = Codec.from_options(
        {"serializer": "msgpack", "compressor": "zstd", "compress_min_size": 10}
    )
    assert isinstance(codec.serializer, MsgpackSerializer)
    assert isinstance(codec.compressor, ZstdCompressor)
    assert codec.min_compress_size == 10
    codec = Codec.from_options({"pickle_protocol": 2})
    assert codec.encode("x")[:2] == b"\x80\x02"  # type: ignore[index]
    assert repr(Codec()) == ("Codec(serializer='pickle', compressor=None, "
                             "min_compress_size=1024, signed=False)")


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"serializer": "yaml"},
            "unknown serializer 'yaml'; accepted: 'pickle', 'json', 'msgpack'",
        ),
        ({"serializer": None}, "unknown serializer None"),
        ({"compressor": "brotli"}, "accepted: None, 'zlib', 'lz4', 'zstd'"),
        ({"compress_min_size": -1}, "compress_min_size must be an int >= 0"),
        ({"compress_min_size": "1k"}, "compress_min_size must be an int >= 0"),
        ({"pickle_protocol": 99}, "pickle protocol must be an int from 0 to"),
        ({"serializer": "json", "pickle_protocol": 4}, "only applies to serializer 'pickle'"),
    ],
)
def test_bad_options_raise_value_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        Codec.from_options(options)
    assert message in str(info.value)


def test_compressor_levels_are_validated() -> None:
    with pytest.raises(ValueError, match="zlib compression level"):
        ZlibCompressor(level=10)
    with pytest.raises(ValueError, match="zstd compression level"):
        ZstdCompressor(level=0)
    with pytest.raises(ValueError, match="lz4 compression level"):
        Lz4Compressor(level=-1)


# -- optional libraries -------------------------------------------------------------------


@pytest.mark.parametrize(
    "modules, kwargs, extra",
    [
        (["msgpack"], {"serializer": "msgpack"}, "msgpack"),
        (["lz4", "lz4.frame"], {"compressor": "lz4"}, "lz4"),
        (["zstandard"], {"compressor": "zstd"}, "zstd"),
    ],
)
def test_missing_optional_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, modules: list[str], kwargs: dict[str, Any], extra: str
) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError) as info:
        Codec(**kwargs)
    assert f"pip install 'django-cachex-router[{extra}]'" in str(info.value)


@pytest.mark.parametrize(
    "modules, compressor, extra",
    [(["lz4", "lz4.frame"], "lz4", "lz4"), (["zstandard"], "zstd", "zstd")],
)
def test_reading_a_value_whose_compressor_is_missing(
    monkeypatch: pytest.MonkeyPatch, modules: list[str], compressor: str, extra: str
) -> None:
    data = Codec(compressor=compressor).encode(BIG_TEXT)
    assert isinstance(data, bytes)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
    reader = Codec(compressor="zlib", decode_fallbacks=[compressor], log_keys="full")
    with pytest.raises(DecodeError) as info:
        reader.decode(data, key="page:/")
    msg = str(info.value)
    assert f"'{compressor}'" in msg and f"django-cachex-router[{extra}]" in msg
    assert "'page:/'" in msg


def test_serializer_classes_directly() -> None:
    assert PickleSerializer(2).dumps(1) == pickle.dumps(1, 2)
    assert JSONSerializer().dumps({"a": [1, 2]}) == b'{"a":[1,2]}'
    assert MsgpackSerializer().loads(MsgpackSerializer().dumps({1: b"x"})) == {1: b"x"}
    for comp in (ZlibCompressor(), Lz4Compressor(), ZstdCompressor()):
        assert comp.decompress(comp.compress(b"abc" * 100), 300) == b"abc" * 100


def test_zstd_compressor_is_safe_across_threads() -> None:
    codec = Codec(compressor="zstd", min_compress_size=0)
    values = [{"i": i, "text": BIG_TEXT[: 2000 + i]} for i in range(200)]

    def work(value: Any) -> bool:
        return bool(codec.decode(codec.encode(value)) == value)  # type: ignore[arg-type]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, values))


# -- limits: bounded decompression, fallbacks, signing, get_many ---------------------------


@pytest.mark.parametrize("name", ["zlib", "lz4", "zstd"])
def test_decompression_stops_at_the_limit(name: str) -> None:
    comp = COMPRESSORS_BY_NAME[name]()
    data = comp.compress(b"\0" * (4 * 1024 * 1024))
    assert comp.decompress(data, 4 * 1024 * 1024) == b"\0" * (4 * 1024 * 1024)
    with pytest.raises(TooLarge) as info:
        comp.decompress(data, 1024 * 1024)
    assert info.value.limit == 1024 * 1024


def test_a_frame_that_hides_or_understates_its_size_is_still_bounded() -> None:
    import lz4.frame
    import zstandard

    hidden = zstandard.ZstdCompressor(write_content_size=False).compress(b"\0" * 3_000_000)
    with pytest.raises(TooLarge):
        ZstdCompressor().decompress(hidden, 1_000_000)
    assert len(ZstdCompressor().decompress(hidden, 3_000_000)) == 3_000_000
    unsized = lz4.frame.compress(b"\0" * 3_000_000, store_size=False)
    with pytest.raises(TooLarge):
        Lz4Compressor().decompress(unsized, 1_000_000)


def test_the_decode_limit_names_the_option() -> None:
    codec = Codec(compressor="zlib", decompress_max_size=10_000)
    data = codec.encode("x" * 50_000)
    with pytest.raises(DecodeError, match=r"decompress_max_size.*delete the key") as info:
        codec.decode(wire(data), key="big")
    assert info.value.key == "big" and "'big'" not in str(info.value)
    assert Codec(compressor="zlib").decode(wire(data)) == "x" * 50_000


@pytest.mark.parametrize(("fallbacks", "message"), [
    ("zlib", "must be a list"), (["brotli"], "unknown decode_fallbacks entry 'brotli'"),
    ([None], "unknown decode_fallbacks entry None"),
])
def test_bad_decode_fallbacks(fallbacks: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Codec(decode_fallbacks=fallbacks)


@pytest.mark.parametrize("limit", [0, -1, 1.5, None, "64MB"])
def test_bad_decompress_max_size(limit: Any) -> None:
    with pytest.raises(ValueError, match="decompress_max_size"):
        Codec(decompress_max_size=limit)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("compressor", COMPRESSORS)
def test_signed_values_round_trip(serializer: str, compressor: str | None) -> None:
    codec = Codec(serializer=serializer, compressor=compressor, signing={"key": "k"})
    for value in ({"text": BIG_TEXT}, "short", [1, 2.5], None, 7):
        data = codec.encode(value)
        if type(value) is int:
            assert data == 7
            assert codec.decode(b"7") == 7
            continue
        assert isinstance(data, bytes) and data[:2] == b"\x00S"
        assert codec.decode(data) == value
        tampered = data[:-1] + bytes([data[-1] ^ 1])
        with pytest.raises(DecodeError, match="signature"):
            codec.decode(tampered)
    unsigned = Codec(serializer=serializer, compressor=compressor).encode({"a": 1})
    with pytest.raises(DecodeError, match="is not signed"):
        codec.decode(wire(unsigned))


def test_signing_keys_are_salted_and_never_shown() -> None:
    codec = Codec(signing={"key": "visible-secret"})
    assert "visible-secret" not in repr(codec) and "signed=True" in repr(codec)
    data = codec.encode("v")
    assert isinstance(data, bytes)
    naive = hmac.digest(b"visible-secret", data[34:], "sha256")
    assert data[2:34] != naive  # the configured key is not used as is
    assert Codec(signing={"key": b"visible-secret"}).decode(data) == "v"
    assert Codec(signing={"key": "new", "fallback_keys": ["visible-secret"]}).decode(data) == "v"


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_decode_many_leaves_out_undecodable_values(serializer: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    codec = Codec(serializer=serializer, alias="shop")
    good = [wire(codec.encode({"i": i})) for i in range(3)]
    datas = [good[0], b"\x00pz-not-allowed", good[1], b"\x80\x05junk", good[2]]
    made = [f":1:k{i}" for i in range(5)]
    with caplog.at_level(logging.WARNING, logger="cachex.codec"):
        got = codec.decode_many(datas, made, ["a", "b", "c", "d", "e"])
    assert got == {"a": {"i": 0}, "c": {"i": 1}, "e": {"i": 2}}
    assert len(caplog.records) == 2
    assert {r.key for r in caplog.records} == {  # type: ignore[attr-defined]
        f"key#{key_hash(':1:k1')}", f"key#{key_hash(':1:k3')}"}
    assert all("'shop'" in r.getMessage() and ":1:k" not in r.getMessage()
               for r in caplog.records)


def test_decode_many_all_pickles_with_one_corrupt_keeps_the_good_ones(
        caplog: pytest.LogCaptureFixture) -> None:
    """Every value starts with pickle's PROTO byte (the batch path unpickles them all at
    once): one that is not a pickle after all still costs only its own key."""
    codec = Codec(serializer="pickle", alias="shop")
    good = [wire(codec.encode({"i": i})) for i in range(2)]
    assert all(g[0] == 0x80 for g in good)
    datas = [good[0], b"\x80\x05junk", good[1]]
    with caplog.at_level(logging.WARNING, logger="cachex.codec"):
        got = codec.decode_many(datas, [":1:a", ":1:b", ":1:c"], ["a", "b", "c"])
    assert got == {"a": {"i": 0}, "c": {"i": 1}}
    assert len(caplog.records) == 1
    assert codec.decode_many(good, [":1:a", ":1:c"], ["a", "c"]) == {"a": {"i": 0},
                                                                     "c": {"i": 1}}


def test_decode_many_mixes_raw_ints_frames_and_pickles_like_decode() -> None:
    """The batch path unpickles every value at once and looks at each value only when that
    fails: nothing cachex writes that is not a pickle may unpickle as something else. Raw
    ints (digits hold no STOP opcode) and framed values (0x00 is no opcode) must fail there
    and decode as ``decode`` does."""
    codec = Codec(serializer="pickle", compressor="zlib", min_compress_size=64)
    values: list[Any] = [0, 7, -1, 42, 2**63 - 1, -(2**63), "small", "x" * 500, {"d": 1}]
    values += list(range(-1000, 1000, 37))
    datas = [wire(codec.encode(v)) for v in values]
    assert {d[0] for d in datas} >= {0x00, 0x80, ord("-")} and any(d[:1].isdigit() for d in datas)
    keys = [f"k{i}" for i in range(len(values))]
    made = [f":1:{k}" for k in keys]
    got = codec.decode_many(datas, made, keys)
    assert got == dict(zip(keys, values))
    assert all(type(got[k]) is type(v) for k, v in zip(keys, values))
    for i in range(-100_000, 100_000, 7):  # no raw int is taken for a pickle
        raw = str(i).encode()
        assert codec.decode_many([raw], [":1:n"], ["n"]) == {"n": i}
