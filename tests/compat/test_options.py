"""The peers' OPTIONS, translated: the pure mapping, then real start-ups with only BACKEND
changed."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cachex.backends.redis import RedisCache
from cachex.compat import CachexCompatWarning, translate
from cachex.compat.options import NATIVE_CREDENTIALS, codec_name
from cachex.config import OPTION_KEYS
from tests import labs

URL = "redis://127.0.0.1:6379"


def t(options: dict[str, Any], location: Any = URL, **globals_: Any) -> Any:
    return translate("default", location, options, globals_)


# ---------------------------------------------------------------- pure mapping
def test_cachex_own_options_pass_through_untouched() -> None:
    options = {"serializer": "json", "compressor": "zlib", "pool": {"max_connections": 5}}
    done = t(options)
    assert done.options is options and done.location == URL and done.notes == ()


@pytest.mark.parametrize(("client", "location", "topology", "expected_location"), [
    ("django_redis.client.ShardClient", [URL, URL + "/1"], "sharded", [URL, URL + "/1"]),
    ("django_valkey.client.ShardClient", [URL, URL + "/1"], "sharded", [URL, URL + "/1"]),
    ("django_redis.client.DefaultClient", [URL, "redis://replica:6379"], "replicated",
     [URL, "redis://replica:6379"]),
    ("django_redis.client.DefaultClient", [URL, URL], None, URL),
    ("django_redis.client.DefaultClient", URL, None, URL),
    ("django_cachex.client.ClusterClient", URL, "cluster", URL),
])
def test_client_class_maps_to_a_topology(client: str, location: Any, topology: str | None,
                                         expected_location: Any) -> None:
    done = t({"CLIENT_CLASS": client}, location)
    assert done.options.get("topology") == topology
    assert done.location == expected_location
    assert any("CLIENT_CLASS" in n or "Cluster" in n for n in done.notes)


def test_herd_client_maps_to_the_herd_stampede_mode() -> None:
    done = t({"CLIENT_CLASS": "django_redis.client.HerdClient"})
    assert done.options["stampede"] == {"mode": "herd"}
    assert "OPTIONS['stampede'] = {'mode': 'herd'}" in " ".join(done.notes)


def test_django_cachex_stampede_prevention_maps_to_the_early_mode() -> None:
    done = t({"stampede_prevention": {"buffer": 30, "beta": 2.0, "delta": 0.5}})
    assert done.options["stampede"] == {"mode": "early", "beta": 2.0, "delta": 0.5}
    assert t({"stampede_prevention": True}).options["stampede"] == {"mode": "early"}


def test_sentinel_settings_become_a_sentinel_location() -> None:
    done = t({"CLIENT_CLASS": "django_redis.client.SentinelClient",
              "SENTINELS": [("s1", 26379), "s2:26380"],
              "SENTINEL_KWARGS": {"password": "sentinel-secret"}},
             ["redis://mymaster/2", "redis://mymaster/2?is_master=0"])
    assert done.location == "redis+sentinel://s1:26379,s2:26380/mymaster/2"
    assert done.options["read_from_replicas"] is True
    assert done.options["sentinel"] == {"password": "sentinel-secret"}
    assert "sentinel-secret" not in " ".join(done.notes)


def test_sentinel_connection_factory_and_query_db() -> None:
    done = t({"CONNECTION_FACTORY": "django_valkey.pool.SentinelConnectionFactory",
              "SENTINELS": [("::1", 26379)]}, "valkey://svc?db=4")
    assert done.location == "valkey+sentinel://[::1]:26379/svc/4"


def test_ignore_exceptions_maps_to_fail_open() -> None:
    done = t({"IGNORE_EXCEPTIONS": True, "LOG_IGNORED_EXCEPTIONS": True})
    assert done.options["failover"] == {"mode": "fail_open"}
    text = " ".join(done.notes)
    assert "OPTIONS['failover'] = {'mode': 'fail_open'}" in text and "cachex.policy" in text


def test_global_ignore_exceptions_applies_unless_the_alias_says_otherwise() -> None:
    assert t({}, DJANGO_REDIS_IGNORE_EXCEPTIONS=True).options["failover"] == {
        "mode": "fail_open"}
    assert "failover" not in t({"IGNORE_EXCEPTIONS": False},
                               DJANGO_REDIS_IGNORE_EXCEPTIONS=True).options
    explicit = {"mode": "raise"}
    assert t({"failover": explicit}, DJANGO_REDIS_IGNORE_EXCEPTIONS=True
             ).options["failover"] is explicit


def test_socket_and_pool_settings_move_under_pool() -> None:
    done = t({"SOCKET_TIMEOUT": 3, "SOCKET_CONNECT_TIMEOUT": 1.5,
              "CONNECTION_POOL_KWARGS": {"max_connections": 20, "retry_on_timeout": True}})
    assert done.options["pool"] == {"socket_timeout": 3, "socket_connect_timeout": 1.5,
                                    "max_connections": 20}
    assert any("retry_on_timeout" in n and "no effect" in n for n in done.notes)


def test_django_rediscache_top_level_options_are_mapped_not_refused() -> None:
    done = t({"db": 3, "pool_class": "redis.BlockingConnectionPool",
              "parser_class": "redis.connection._HiredisParser", "socket_timeout": 2,
              "max_connections": 8})
    assert done.location == URL + "?db=3"
    assert done.options == {"pool": {"socket_timeout": 2, "max_connections": 8}}
    assert sum("no effect" in n for n in done.notes) == 2


def test_password_and_db_are_translated() -> None:
    done = t({"PASSWORD": "p@ss:word", "db": 2}, [URL, "redis://other:6379/5"])
    if NATIVE_CREDENTIALS:  # cachex takes OPTIONS['password'] itself
        assert done.options["password"] == "p@ss:word"
        assert done.location == [URL + "?db=2", "redis://other:6379/5"]
    else:
        assert done.location == ["redis://:p%40ss%3Aword@127.0.0.1:6379?db=2",
                                 "redis://:p%40ss%3Aword@other:6379/5"]
    assert "p@ss" not in " ".join(done.notes) and "p%40ss" not in " ".join(done.notes)


@pytest.mark.parametrize(("value", "kind", "name"), [
    ("django_redis.serializers.json.JSONSerializer", "serializer", "json"),
    ("django_redis.serializers.msgpack.MSGPackSerializer", "serializer", "msgpack"),
    ("django_valkey.serializers.pickle.PickleSerializer", "serializer", "pickle"),
    ("django_cachex.serializers.orjson.OrjsonSerializer", "serializer", "json"),
    ("django.core.cache.backends.redis.RedisSerializer", None, None),
    ("django_redis.compressors.zlib.ZlibCompressor", "compressor", "zlib"),
    ("django_redis.compressors.gzip.GzipCompressor", "compressor", "zlib"),
    ("django_redis.compressors.lz4.Lz4Compressor", "compressor", "lz4"),
    ("django_valkey.compressors.zstd.ZStdCompressor", "compressor", "zstd"),
    ("django_redis.compressors.identity.IdentityCompressor", "compressor", None),
])
def test_codec_class_paths_map_to_cachex_names(value: str, kind: str | None,
                                               name: str | None) -> None:
    if kind is None:  # Django's own RedisSerializer is pickle
        assert codec_name(value, "serializer") == "pickle"
        return
    assert codec_name(value, kind) == name


def test_codec_options_of_each_peer() -> None:
    done = t({"SERIALIZER": "django_redis.serializers.json.JSONSerializer",
              "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor",
              "PICKLE_VERSION": -1})
    assert done.options == {"serializer": "json", "compressor": "zlib"}
    chain = t({"serializer": ["django_cachex.serializers.msgpack.MsgpackSerializer",
                              "django_cachex.serializers.pickle.PickleSerializer"],
               "compressor": "django_cachex.compressors.zstd.ZstdCompressor",
               "async_pool_class": "redis.asyncio.BlockingConnectionPool",
               "max_connections": 4})
    assert chain.options == {"serializer": "msgpack", "compressor": "zstd",
                             "pool": {"max_connections": 4}}


@pytest.mark.parametrize(("options", "location", "fix"), [
    ({"CLIENT_CLASS": "myapp.cache.MyClient"}, URL, "Remove CLIENT_CLASS"),
    ({"CLIENT_CLASS": "django_redis.client.SentinelClient"}, "redis://svc/0", "SENTINELS"),
    ({"REVERSE_KEY_FUNCTION": "myapp.rev"}, URL, "top level"),
    ({"SERIALIZER": "myapp.serializers.Yaml"}, URL, "Set OPTIONS['serializer']"),
    ({"CONNECTION_POOL_KWARGS": {"decode_responses": True}}, URL, "Remove it"),
])
def test_what_cannot_mean_anything_is_refused_with_the_fix(options: dict[str, Any],
                                                           location: Any, fix: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="cachex cache 'default'") as info:
        t(options, location)
    assert fix in str(info.value)


# ---------------------------------------------------------------- real start-ups
def _build(location: Any, options: dict[str, Any], **params: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = RedisCache(location, {"OPTIONS": options, **params})
    notes = [str(w.message) for w in caught if issubclass(w.category, CachexCompatWarning)]
    return cache, notes


def test_django_redis_project_settings_start_cachex_on_one_server() -> None:
    """A django-redis CACHES entry, copied with only BACKEND changed: it starts, serves, and
    each translated setting is named in a CachexCompatWarning."""
    s = labs.lab("single")
    location = [f"redis://{s.host}:{s.port}/3", f"redis://{s.host}:{s.port}/3"]
    cache, notes = _build(location, {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "IGNORE_EXCEPTIONS": True,
        "LOG_IGNORED_EXCEPTIONS": True,
        "SOCKET_CONNECT_TIMEOUT": 5,
        "SOCKET_TIMEOUT": 5,
        "CONNECTION_POOL_KWARGS": {"max_connections": 100, "retry_on_timeout": True},
        "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        "COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor",
    }, KEY_PREFIX="compat-start")
    assert cache.settings.topology == "single" and cache.settings.pool.max_connections == 100
    cache.set("k", {"a": [1, 2]}, 30)
    assert cache.get("k") == {"a": [1, 2]}
    assert cache.incr("n", 1) if cache.add("n", 1) else True
    text = " ".join(notes)
    for cachex_spelling in ("OPTIONS['failover'] = {'mode': 'fail_open'}",
                            "OPTIONS['pool']['socket_timeout']", "OPTIONS['serializer'] = 'json'",
                            "OPTIONS['compressor'] = 'zlib'"):
        assert cachex_spelling in text
    cache.delete_many(["k", "n"])


def test_django_redis_ignore_exceptions_fails_open_on_a_dead_server() -> None:
    cache, _ = _build("redis://127.0.0.1:56379/0", {
        "CLIENT_CLASS": "django_redis.client.DefaultClient", "IGNORE_EXCEPTIONS": True,
        "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2})
    assert cache.get("key", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}


def test_django_redis_shard_settings_start_cachex_on_shards() -> None:
    urls = [f"redis://{s.host}:{s.port}?db=4" for s in labs.lab("shards")]
    cache, notes = _build(urls, {"CLIENT_CLASS": "django_redis.client.ShardClient"})
    assert cache.settings.topology == "sharded" and len(cache.settings.endpoints) == 3
    cache.set_many({f"k{i}": i for i in range(20)})
    assert cache.get_many([f"k{i}" for i in range(20)]) == {f"k{i}": i for i in range(20)}
    assert any("ShardClient" in n for n in notes)
    cache.clear()


def test_django_redis_sentinel_settings_start_cachex_under_sentinel() -> None:
    lab = labs.lab("sentinel")
    options: dict[str, Any] = {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": lab.sentinel_addresses, "IGNORE_EXCEPTIONS": True}
    if lab.password:
        options["PASSWORD"] = lab.password
    if lab.sentinel_password:
        options["SENTINEL_KWARGS"] = {"password": lab.sentinel_password}
    cache, _ = _build(f"redis://{lab.service}/5", options)
    assert cache.settings.topology == "sentinel" and cache.settings.service == lab.service
    cache.set("k", "v", 30)
    assert cache.get("k") == "v"
    assert lab.primary_node.client(db=5).get(cache.make_key("k")) is not None
    cache.delete("k")


def test_django_rediscache_options_start_cachex() -> None:
    """Django's own RedisCache OPTIONS (refused before as 'belongs under pool')."""
    s = labs.lab("single")
    cache, notes = _build(f"redis://{s.host}:{s.port}", {
        "db": 6, "pool_class": "redis.BlockingConnectionPool", "socket_timeout": 3,
        "parser_class": "redis.connection.DefaultParser"})
    assert cache.settings.endpoints[0].db == 6 and cache.settings.pool.socket_timeout == 3
    cache.set("k", 1, 30)
    assert s.client(db=6).get(cache.make_key("k")) == b"1"
    assert any("pool_class" in n for n in notes)
    cache.delete("k")


@pytest.mark.skipif("stampede" not in OPTION_KEYS,
                    reason="OPTIONS['stampede'] is not in this build (stampede branch)")
def test_django_redis_herd_client_starts_cachex_with_herd_protection() -> None:
    s = labs.lab("single")
    cache, notes = _build(f"redis://{s.host}:{s.port}/7",
                          {"CLIENT_CLASS": "django_redis.client.HerdClient"})
    assert any("{'mode': 'herd'}" in n for n in notes)
    cache.set("k", {"v": 1}, 30)
    assert cache.get("k") == {"v": 1}
    cache.delete("k")
