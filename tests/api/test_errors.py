"""Bad input: a wrong-type operation names the key and the type it really holds; an
undecodable member or field raises DecodeError, never garbage."""

from __future__ import annotations

from typing import Any

import pytest

from cachex.codec import DecodeError
from cachex.exceptions import WrongType
from cachex.redact import key_hash
from tests.api.conftest import raw_client

# (method, args after the key, kind the method needs)
ON_WRONG_TYPE = [
    ("hget", ("f",), "hash"), ("hset", ("f", 1), "hash"), ("hgetall", (), "hash"),
    ("hdel", ("f",), "hash"), ("hlen", (), "hash"), ("hkeys", (), "hash"),
    ("hexists", ("f",), "hash"), ("hincrby", ("f",), "hash"),
    ("lpush", (1,), "list"), ("rpush", (1,), "list"), ("lpop", (), "list"),
    ("rpop", (), "list"), ("lrange", (), "list"), ("llen", (), "list"),
    ("sadd", (1,), "set"), ("srem", (1,), "set"), ("smembers", (), "set"),
    ("sismember", (1,), "set"), ("scard", (), "set"),
    ("zadd", ({"m": 1},), "zset"), ("zrem", ("m",), "zset"), ("zscore", ("m",), "zset"),
    ("zrank", ("m",), "zset"), ("zrange", (), "zset"), ("zrevrange", (), "zset"),
    ("zincrby", (1, "m"), "zset"), ("zcard", (), "zset"),
    ("hmget", (["f"],), "hash"), ("hvals", (), "hash"), ("lindex", (0,), "list"),
    ("lpop", (), "list"), ("smismember", (1,), "set"), ("spop", (), "set"),
    ("sscan", (), "set"), ("zcount", (0, 1), "zset"), ("zpopmin", (), "zset"),
    ("zrangebyscore", (0, 1), "zset"), ("zmscore", (["m"],), "zset"),
    ("zadd", ({"m": 1}, False, False, False, True), "zset"),  # incr: through a script
]


@pytest.mark.parametrize(("method", "args", "kind"), ON_WRONG_TYPE,
                         ids=[m for m, _, _ in ON_WRONG_TYPE])
def test_wrong_type_names_key_and_type(api: Any, method: str, args: tuple[Any, ...],
                                       kind: str) -> None:
    api.set("plain", "a string value")
    with pytest.raises(WrongType) as info:
        getattr(api, method)("plain", *args)
    message = str(info.value)
    stored = api.cache.make_key("plain")
    assert f"key#{key_hash(stored)}" in message  # the key, in a form that cannot be replayed
    assert stored not in message
    assert "holds a string" in message  # the real type, fetched with TYPE
    assert f"needs a {kind}" in message
    assert api.get("plain") == "a string value"  # untouched


@pytest.mark.parametrize(("seed", "method", "args", "actual"), [
    (("rpush", 1), "hget", ("f",), "list"),
    (("sadd", 1), "zadd", ({"m": 1},), "set"),
    (("zadd", {"m": 1}), "lpush", (1,), "zset"),
    (("hset", "f", 1), "smembers", (), "hash"),
])
def test_wrong_type_between_structures(api: Any, seed: tuple[Any, ...], method: str,
                                       args: tuple[Any, ...], actual: str) -> None:
    getattr(api, seed[0])("k", *seed[1:])
    with pytest.raises(WrongType, match=f"holds a {actual}"):
        getattr(api, method)("k", *args)


def test_wrong_type_is_a_type_error(api: Any) -> None:
    api.set("plain", 1)
    with pytest.raises(TypeError):
        api.llen("plain")


GARBAGE = b"\x80\x05garbage that is no pickle"


def _plant(cache: Any, *command: Any) -> None:
    made = cache.make_key(command[1])
    raw_client(cache, made).execute_command(command[0], made, *command[2:])


@pytest.mark.parametrize(("plant", "method", "args"), [
    (("HSET", "k", "f", GARBAGE), "hget", ("f",)),
    (("HSET", "k", "f", GARBAGE), "hgetall", ()),
    (("RPUSH", "k", GARBAGE), "lrange", ()),
    (("RPUSH", "k", GARBAGE), "lpop", ()),
    (("SADD", "k", GARBAGE), "smembers", ()),
    (("ZADD", "k", 1, GARBAGE), "zrange", ()),
    (("ZADD", "k", 1, GARBAGE), "zrevrange", ()),
])
def test_undecodable_raises_decode_error(api: Any, plant: tuple[Any, ...], method: str,
                                         args: tuple[Any, ...]) -> None:
    _plant(api.cache, *plant)
    with pytest.raises(DecodeError) as info:
        getattr(api, method)("k", *args)
    assert info.value.key == api.cache.make_key("k")
