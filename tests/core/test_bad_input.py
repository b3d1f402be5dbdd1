"""Bad configuration and bad values fail early and clearly."""

from __future__ import annotations

import pickle
import threading
import warnings
from typing import Any

import pytest
from django.core.cache import CacheKeyWarning, caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cachex.codec import EncodeError

BACKEND = "cachex.backends.redis.RedisCache"


def build(location: Any, options: Any = None, alias: str = "shop") -> Any:
    conf = {"BACKEND": BACKEND, "LOCATION": location}
    if options is not None:
        conf["OPTIONS"] = options
    with override_settings(CACHES={alias: conf}):
        return caches[alias]


@pytest.mark.parametrize(
    ("location", "options", "needle"),
    [
        ("", None, "LOCATION is empty"),
        ([], None, "LOCATION is empty"),
        ("memcached://127.0.0.1:11211", None, "unknown scheme 'memcached'"),
        ("127.0.0.1:6379", None, "is not a URL"),
        ("redis://127.0.0.1:notaport/0", None, "is not a number"),
        ("redis://127.0.0.1:6379/x", None, "database 'x'"),
        ("redis://127.0.0.1:6379/0?colour=blue", None, "unknown URL parameter 'colour'"),
        ("redis://127.0.0.1:6379/0", {"topologyy": "single"}, "unknown OPTIONS key"),
        # Django RedisCache's top-level socket_timeout is read as OPTIONS['pool'] (with a
        # CachexCompatWarning, see tests/compat); a bad value still fails there
        ("redis://127.0.0.1:6379/0", {"socket_timeout": -1}, "['socket_timeout'] must be"),
        ("redis://127.0.0.1:6379/0", {"topology": "ring"}, "is not a topology"),
        ("redis://127.0.0.1:6379/0", {"pool": {"max_connections": 0}}, "max_connections"),
        ("redis://127.0.0.1:6379/0", {"pool": {"socket_timeout": -1}}, "socket_timeout"),
        ("redis://127.0.0.1:6379/0", {"serializer": "yaml"}, "yaml"),
        ("redis://127.0.0.1:6379/0", {"compressor": "rar"}, "rar"),
        ("redis://127.0.0.1:6379/0", {"retry": {"attempts": -1}}, "attempts"),
        ("redis://127.0.0.1:6379/0", {"retry": {"on": ["lightning"]}}, "lightning"),
        ("redis://127.0.0.1:6379/0", {"read_from_replicas": True}, "needs replicas"),
        ("redis://127.0.0.1:6379/0", {"topology": "replicated"}, "at least one replica"),
        ("redis+sentinel://127.0.0.1:26379", None, "needs the service"),
        ("redis+cluster://", None, "lists no nodes"),
        ("redis+cluster://127.0.0.1:7000/2", None, "only database 0"),
        (["redis://127.0.0.1:7000/3"], {"topology": "cluster"}, "only database 0"),
        ("redis+cluster://127.0.0.1:7000", {"weights": {"127.0.0.1:7000": 2}},
         "OPTIONS['weights'] does not apply to the cluster topology"),
        ("redis+cluster://127.0.0.1:7000", {"sentinel": {"password": "x"}},
         "OPTIONS['sentinel'] does not apply to the cluster topology"),
        (["unix:///tmp/redis.sock"], {"topology": "cluster"}, "reached over TCP"),
        (["redis://127.0.0.1:7000?weight=2"], {"topology": "cluster"}, "only applies to shards"),
        ("redis+sentinel://127.0.0.1:26379/mymaster", {"weights": {"a": 1}},
         "OPTIONS['weights'] does not apply to the sentinel topology"),
        (["redis://a:1", "redis://b:1"], {"sentinel": {"password": "x"}},
         "OPTIONS['sentinel'] does not apply to the sharded topology"),
    ],
)
def test_bad_configuration_names_alias_and_problem(location: Any, options: Any,
                                                   needle: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        build(location, options)
    message = str(info.value)
    assert "'shop'" in message
    assert needle in message


def test_password_never_appears_in_errors() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        build("redis://user:s3cret@127.0.0.1:6379/0?bogus=1")
    assert "s3cret" not in str(info.value)


def test_invalid_keys_warn_like_django(single_server: Any, make_cache: Any) -> None:
    cache = make_cache(single_server.url, KEY_FUNCTION=lambda key, prefix, version: key)
    for key in ("has space", "x" * 251, "tab\tkey"):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            cache.set(key, 1)
        assert any(issubclass(w.category, CacheKeyWarning) for w in seen), key


def test_unpicklable_value_is_a_clear_error_and_nothing_is_written(
        single_server: Any, make_cache: Any) -> None:
    cache = make_cache(single_server.url, KEY_PREFIX="unpicklable")
    with pytest.raises(EncodeError) as info:
        cache.set("lock", threading.Lock())
    assert isinstance(info.value, pickle.PickleError)
    assert "'unpicklable:1:lock'" in str(info.value) or "lock" in str(info.value)
    assert cache.get("lock") is None
    with pytest.raises(EncodeError):
        cache.set_many({"good": 1, "bad": threading.Lock(), "also_good": 2})
    assert cache.get_many(["good", "bad", "also_good"]) == {}
