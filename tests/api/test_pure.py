"""The I/O-free pieces: glob escaping, key stripping, SCAN cursor bookkeeping, reply
shapes, expiry arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache.backends.base import default_key_func

from cachex.backends.extended._common import pairs
from cachex.backends.extended.scan import (
    Scan,
    glob_escape,
    key_stripper,
    match_pattern,
    parse_scan,
    unlink_commands,
)
from cachex.backends.extended.ttl import epoch_ms, remaining
from cachex.routing import Batch, Group


@pytest.mark.parametrize(("text", "escaped"), [
    ("plain", "plain"), ("a*b", "a\\*b"), ("a?b", "a\\?b"), ("[x]", "\\[x\\]"),
    ("back\\slash", "back\\\\slash"), ("api-1:x", "api-1:x"),
])
def test_glob_escape(text: str, escaped: str) -> None:
    assert glob_escape(text) == escaped


def test_match_pattern_default_key_function() -> None:
    assert match_pattern(default_key_func, "p*", 3, "user:*") == "p\\*:3:user:*"
    assert match_pattern(default_key_func, "", 1, "*") == ":1:*"


def test_key_stripper() -> None:
    strip = key_stripper(default_key_func, "pre", 2)
    assert strip("pre:2:user:1") == "user:1"
    assert strip("other") == "other"

    def custom(key: str, prefix: str, version: int) -> str:
        return f"{key}|{prefix}"

    assert key_stripper(custom, "pre", 2)("a|pre") == "a|pre"


def test_parse_scan_accepts_bytes_cursor() -> None:
    assert parse_scan((b"17", [b"a"])) == (17, [b"a"])
    assert parse_scan([0, None]) == (0, [])


def test_scan_rounds_until_every_cursor_is_back_at_zero() -> None:
    scan = Scan(["n1", "n2"], "m*", 10)
    first = scan.step()
    assert first == [("n1", [("SCAN", 0, "MATCH", "m*", "COUNT", 10)]),
                     ("n2", [("SCAN", 0, "MATCH", "m*", "COUNT", 10)])]
    pages = scan.feed([[(5, [b"a"])], [(0, [b"b", b"c"])]])
    assert pages == [("n1", [b"a"]), ("n2", [b"b", b"c"])]
    assert scan.step() == [("n1", [("SCAN", 5, "MATCH", "m*", "COUNT", 10)])]
    assert scan.feed([[(0, [])]]) == [("n1", [])]
    assert scan.step() == []


def test_scan_rejects_bad_count() -> None:
    with pytest.raises(ValueError, match="itersize"):
        Scan(["n"], "*", 0)


def test_unlink_commands_one_per_group_raw_keys() -> None:
    def plan(keys: list[str]) -> list[Batch[str]]:
        return [Batch("n", [Group([keys[0], keys[2]], [0, 2]), Group([keys[1]], [1])])]

    raw = [b"k0", b"k1", b"k2"]
    assert unlink_commands(plan, raw) == [("UNLINK", b"k0", b"k2"), ("UNLINK", b"k1")]


@pytest.mark.parametrize("reply", [
    [b"f1", b"v1", b"f2", b"v2"],
    [[b"f1", b"v1"], [b"f2", b"v2"]],
    {b"f1": b"v1", b"f2": b"v2"},
])
def test_pairs_every_shape(reply: object) -> None:
    assert list(pairs(reply)) == [(b"f1", b"v1"), (b"f2", b"v2")]


def test_pairs_rejects_odd_flat_list() -> None:
    with pytest.raises(ValueError):
        list(pairs([b"f1", b"v1", b"f2"]))


def test_remaining() -> None:
    assert remaining(-1) is None
    assert remaining(-2) == 0
    assert remaining(b"17") == 17


def test_epoch_ms() -> None:
    when = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert epoch_ms(when) == int(when.timestamp()) * 1000
    assert epoch_ms(1_900_000_000) == 1_900_000_000_000
    assert epoch_ms(1.5) == 1500
    with pytest.raises(TypeError):
        epoch_ms("tomorrow")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        epoch_ms(True)
