"""Switching from Django's RedisCache to cachex (and back) needs no cache flush."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

VALUES: dict[str, Any] = {
    "int": 42, "negative": -7, "big": 2**62, "bool": True, "none": None, "str": "héllo",
    "bytes": b"\x00\x80raw", "list": [1, "two", 3.0], "dict": {"a": {"b": [1, 2]}},
    "float": 1.5,
}


@pytest.mark.parametrize("driver", ["redis", "valkey"])
def test_django_writes_cachex_reads_and_back(single_server: Any, make_cache: Any,
                                             driver: str) -> None:
    params = {"KEY_PREFIX": f"compat-{driver}"}
    django_cache = DjangoRedisCache(single_server.url, params)
    ours = make_cache(single_server.url, driver, **params)
    django_cache.set_many(VALUES)
    assert ours.get_many(list(VALUES)) == VALUES
    ours.clear()
    ours.set_many(VALUES)
    assert django_cache.get_many(list(VALUES)) == VALUES
    # raw integers stay raw on the wire, so INCR works across both backends
    django_cache.set("counter", 10)
    assert ours.incr("counter", 5) == 15
    assert django_cache.incr("counter") == 16
    raw = single_server.client().get(ours.make_key("counter"))
    assert raw == b"16"
