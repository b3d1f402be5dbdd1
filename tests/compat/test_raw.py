"""Raw access on real servers: ``cache._cache`` / ``cache.client`` (Django RedisCacheClient and
django-cachex shaped, on stored keys), ``get_client``/``aget_client`` per topology, and
``cachex.get_redis_connection``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import override_settings

import cachex
from cachex.backends.raw import RawClient
from cachex.backends.redis import RedisCache
from tests import labs

TOPOLOGIES = ("single", "sharded", "cluster", "sentinel")


@pytest.fixture(params=TOPOLOGIES)
def topology(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _conf(topology: str) -> dict[str, Any]:
    return {"LOCATION": labs.location(topology), "OPTIONS": labs.options(topology),
            "KEY_PREFIX": "rawtest"}


@pytest.fixture
def cache(topology: str) -> Iterator[Any]:
    conf = _conf(topology)
    c = RedisCache(conf.pop("LOCATION"), conf)
    yield c
    c.delete_pattern("*")


def _holder(cache: Any, stored: str) -> Any:
    """Which lab node really holds ``stored`` (asked of every data node directly)."""
    topology = cache.settings.topology
    if topology == "single":
        nodes = [labs.lab("single")]
    elif topology == "sharded":
        nodes = labs.lab("shards")
    elif topology == "cluster":
        nodes = [n for n in labs.lab("cluster").nodes
                 if n.client().execute_command("ROLE")[0] in (b"master", "master")]
    else:
        nodes = [labs.lab("sentinel").primary_node]
    holders = [n for n in nodes if _exists(n.client(), stored)]
    assert len(holders) == 1, holders
    return holders[0]


def _exists(client: Any, stored: str) -> bool:
    try:
        return bool(client.exists(stored))
    except redis.exceptions.ResponseError:  # MOVED: another node's slot
        return False


def test_get_client_is_the_driver_client_of_the_node_holding_the_key(cache: Any) -> None:
    for i in range(12):
        cache.set(f"user:{i}", i, 60)
        stored = cache.make_key(f"user:{i}")
        client = cache._cache.get_client(stored, write=True)
        node = _holder(cache, stored)
        assert client.info("server")["tcp_port"] == node.port
        assert client.get(stored) == b"%d" % i  # Django's wire format: an int is its digits
        assert cache.get_client(f"user:{i}").get(stored) == b"%d" % i  # the Django-key twin


def test_get_client_without_a_key(cache: Any, topology: str) -> None:
    if topology == "sharded":
        with pytest.raises(ValueError, match="pass the key"):
            cache._cache.get_client()
        with pytest.raises(ValueError, match="sharded"):
            cachex_connection(topology)
        cache.set("k", 1)
        assert cachex_connection(topology, "k").get(cache.make_key("k")) == b"1"
        return
    client = cache._cache.get_client(write=True)
    cache.set("whole", "x", 60)
    stored = cache.make_key("whole")
    if topology == "cluster":
        assert type(client).__name__ == "RedisCluster"  # routes every command by its key
    assert client.exists(stored) == 1
    assert cache.client.get_client(True).exists(stored) == 1  # django-redis: get_client(write)
    assert cachex_connection(topology).exists(stored) == 1


def cachex_connection(topology: str, key: Any = None) -> Any:
    """django-redis's ``get_redis_connection(alias)`` (django-valkey's with a key), on an
    alias in settings.CACHES."""
    conf = {"BACKEND": "cachex.backends.redis.RedisCache", **_conf(topology)}
    with override_settings(CACHES={"default": conf}):
        if key is None:
            return cachex.get_redis_connection("default")
        return cachex.get_valkey_connection("default", key=key)


def test_raw_client_is_django_rediscacheclient_shaped_on_stored_keys(cache: Any) -> None:
    raw = cache._cache
    assert isinstance(raw, RawClient) and cache.client is raw
    stored = cache.make_key("a")
    assert raw.make_key("a") == stored
    raw.set(stored, {"v": 1}, 60)  # Django RedisCacheClient.set(key, value, timeout)
    assert cache.get("a") == {"v": 1}  # the same entry through the Django-level API
    assert raw.get(stored, None) == {"v": 1}
    assert raw.add(stored, 2, 60) is False
    assert raw.has_key(stored) and raw.touch(stored, 120)
    raw.set(cache.make_key("n"), 5, None)
    assert raw.incr(cache.make_key("n"), 2) == 7
    assert raw.get_many([stored, cache.make_key("n")]) == {stored: {"v": 1},
                                                           cache.make_key("n"): 7}
    assert set(raw.keys(cache.make_key("*"))) == {stored, cache.make_key("n")}
    assert 60 < raw.ttl(stored) <= 120
    assert raw.delete(stored) is True and cache.get("a") is None
    with pytest.raises(AttributeError, match="use it on the cache"):
        raw.incr_version(stored)


def test_raw_client_async_extended_api_on_stored_keys(cache: Any, topology: str) -> None:
    raw = cache._cache
    stored, hkey, zkey = (cache.make_key(k) for k in ("t", "h", "z"))

    async def scenario() -> None:
        await raw.aset(stored, "v", 30)
        assert 0 < await raw.attl(stored) <= 30
        assert await raw.ahset(hkey, "f", "x") == 1
        assert await raw.ahget(hkey, "f") == "x"
        assert await raw.azadd(zkey, {"m": 1.0}) == 1
        assert set(await raw.akeys(cache.make_key("*"))) == {stored, hkey, zkey}
        assert {k async for k in raw.aiter_keys(cache.make_key("*"))} == {stored, hkey, zkey}
        client = await raw.aget_client(stored, write=True)
        assert await client.get(stored) is not None
        assert await (await cache.aget_client("t")).exists(stored) == 1
        if topology == "sharded":
            with pytest.raises(ValueError, match="pass the key"):
                await raw.aget_client()
        else:  # cluster: the asyncio RedisCluster, routing by key itself
            assert await (await raw.aget_client(write=True)).exists(stored) == 1
        await raw.adelete_many([stored, hkey, zkey])

    asyncio.run(scenario())
    assert cache.get("t") is None and cache.hgetall("h") == {}


def _hash_key(key: str, prefix: str, version: int) -> str:
    return f"{prefix}#{version}#{key}"


def _unhash_key(stored: str) -> str:
    return stored.split("#", 2)[2]


def test_raw_client_keeps_stored_keys_under_custom_key_functions() -> None:
    """With KEY_FUNCTION/REVERSE_KEY_FUNCTION the cache answers Django keys, the raw client
    stored keys, both over the same entries."""
    cache = RedisCache(labs.location("single"), {
        "KEY_PREFIX": "rawkf", "KEY_FUNCTION": _hash_key, "REVERSE_KEY_FUNCTION": _unhash_key})
    try:
        cache.set_many({"a": 1, "b": 2})
        assert sorted(cache.keys("*")) == ["a", "b"]
        assert sorted(cache._cache.keys("rawkf#1#*")) == ["rawkf#1#a", "rawkf#1#b"]
        assert cache._cache.get_many(["rawkf#1#a"]) == {"rawkf#1#a": 1}
        assert cache._cache.get_client("rawkf#1#b").get("rawkf#1#b") == b"2"
    finally:
        cache.delete_many(["a", "b"])


def _role(client: Any) -> str:
    role = client.execute_command("ROLE")[0]
    return role.decode() if isinstance(role, bytes) else str(role)


@pytest.mark.parametrize("topology", ["sentinel", "replicated"])
def test_get_client_by_role_where_reads_go_to_replicas(topology: str) -> None:
    options = {**labs.options(topology), "read_from_replicas": True}
    cache = RedisCache(labs.location(topology), {"OPTIONS": options})
    assert _role(cache.get_client(write=True)) == "master"
    assert _role(cache.get_client("any", write=False)) == "slave"


def test_valkey_backend_hands_out_valkey_clients() -> None:
    from cachex.backends.valkey import ValkeyCache

    cache = ValkeyCache(labs.location("single"), {"KEY_PREFIX": "rawvk"})
    cache.set("k", 1, 30)
    client = cache.get_client("k")
    assert type(client).__module__.startswith("valkey")
    assert client.get(cache.make_key("k")) == b"1"
    cache.delete("k")
