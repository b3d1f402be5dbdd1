"""Hashes, lists, sets and sorted sets: values through the codec, keys through the prefix,
on every topology, sync and async."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.api.conftest import raw_client

VALUES = [1, -7, "text", 2.5, {"a": [1, 2]}, dt.date(2024, 1, 2), None, b"\x00bytes", True]


# ------------------------------------------------------------------------------ hashes
def test_hash_roundtrip(api: Any) -> None:
    for i, value in enumerate(VALUES):
        assert api.hset("h", f"f{i}", value) == 1
    assert api.hset("h", "f0", "again") == 0  # overwrite
    assert api.hget("h", "f0") == "again"
    assert api.hget("h", "f4") == {"a": [1, 2]}
    assert api.hget("h", "f6", default="dflt") is None  # a stored None is a value
    assert api.hget("h", "nope", default="dflt") == "dflt"
    assert api.hget("missing", "f", default=0) == 0
    expected = {f"f{i}": v for i, v in enumerate(VALUES)} | {"f0": "again"}
    assert api.hgetall("h") == expected
    assert sorted(api.hkeys("h")) == sorted(expected)
    assert api.hlen("h") == len(VALUES)
    assert api.hexists("h", "f1") is True
    assert api.hexists("h", "zz") is False
    assert api.hdel("h", "f1", "f2", "zz") == 2
    assert api.hlen("h") == len(VALUES) - 2
    assert api.hgetall("missing") == {}
    assert api.hkeys("missing") == []
    assert api.hlen("missing") == 0


def test_hash_stored_under_prefixed_key(api: Any) -> None:
    api.hset("h", "f", "v")
    made = api.cache.make_key("h")
    assert made.startswith(api.cache.key_prefix + ":1:")
    assert raw_client(api.cache, made).execute_command("HEXISTS", made, "f") in (1, True)
    assert raw_client(api.cache, "h").execute_command("EXISTS", "h") == 0


def test_hincrby(api: Any) -> None:
    assert api.hincrby("h", "n") == 1
    assert api.hincrby("h", "n", 41) == 42
    assert api.hget("h", "n") == 42  # a raw int reads back through the codec
    api.hset("h", "m", 10)
    assert api.hincrby("h", "m", -3) == 7


def test_hdel_needs_a_field(api: Any) -> None:
    with pytest.raises(TypeError, match="at least one"):
        api.hdel("h")


# ------------------------------------------------------------------------------- lists
def test_list_push_pop_range(api: Any) -> None:
    assert api.rpush("l", 1, "two") == 2
    assert api.rpush("l", {"three": 3}) == 3
    assert api.lpush("l", 0.5, None) == 5  # LPUSH: the last value ends up first
    assert api.lrange("l") == [None, 0.5, 1, "two", {"three": 3}]
    assert api.lrange("l", 1, 2) == [0.5, 1]
    assert api.lrange("l", -2, -1) == ["two", {"three": 3}]
    assert api.llen("l") == 5
    assert api.lpop("l") is None  # the stored None
    assert api.rpop("l") == {"three": 3}
    assert api.lpop("l") == 0.5
    assert api.llen("l") == 2
    assert api.lpop("missing") is None
    assert api.rpop("missing") is None
    assert api.lrange("missing") == []
    assert api.llen("missing") == 0


def test_push_needs_a_value(api: Any) -> None:
    with pytest.raises(TypeError, match="at least one"):
        api.lpush("l")
    assert api.llen("l") == 0


def test_push_encodes_all_before_writing(api: Any) -> None:
    with pytest.raises(Exception, match="serialize"):
        api.rpush("l", 1, lambda: None)  # the second value cannot be pickled
    assert api.llen("l") == 0


# -------------------------------------------------------------------------------- sets
def test_set_members(api: Any) -> None:
    assert api.sadd("s", 1, "a", (1, 2), 2.5) == 4
    assert api.sadd("s", 1, "b") == 1
    assert api.smembers("s") == {1, "a", (1, 2), 2.5, "b"}
    assert api.sismember("s", (1, 2)) is True
    assert api.sismember("s", "zz") is False
    assert api.scard("s") == 5
    assert api.srem("s", "a", "zz") == 1
    assert api.scard("s") == 4
    assert api.smembers("missing") == set()
    assert api.scard("missing") == 0
    assert api.sismember("missing", 1) is False


def test_set_ints_are_stored_raw(api: Any) -> None:
    api.sadd("s", 42)
    made = api.cache.make_key("s")
    assert raw_client(api.cache, made).execute_command("SISMEMBER", made, b"42") in (1, True)


# ------------------------------------------------------------------------- sorted sets
def test_zset(api: Any) -> None:
    assert api.zadd("z", {"a": 1, "b": 2.5, ("t", 1): -1}) == 3
    assert api.zadd("z", {"a": 3, "c": 0}) == 1  # "a" re-scored, "c" new
    assert api.zrange("z") == [("t", 1), "c", "b", "a"]
    assert api.zrange("z", 0, 1, withscores=True) == [(("t", 1), -1.0), ("c", 0.0)]
    assert api.zrevrange("z", 0, 0) == ["a"]
    assert api.zrevrange("z", withscores=True)[0] == ("a", 3.0)
    assert api.zscore("z", "b") == 2.5
    assert api.zscore("z", "zz") is None
    assert api.zrank("z", "a") == 3
    assert api.zrank("z", "zz") is None
    assert api.zincrby("z", 10, "c") == 10.0
    assert api.zincrby("z", 0.5, "new") == 0.5
    assert api.zrevrange("z", 0, 0) == ["c"]
    assert api.zcard("z") == 5
    assert api.zrem("z", "a", "zz") == 1
    assert api.zcard("z") == 4
    assert api.zrange("missing") == []
    assert api.zcard("missing") == 0
    assert api.zscore("missing", "a") is None


def test_zadd_needs_a_member(api: Any) -> None:
    with pytest.raises(TypeError, match="at least one"):
        api.zadd("z", {})
