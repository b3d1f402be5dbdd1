"""OPTIONS['signing']: values are HMAC-signed, and bytes nobody signed are never unpickled.

For sites that share a server with writers they trust less than their own code: whoever can
write to Redis can otherwise make every web worker run code through pickle.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import re
from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.exceptions import ImproperlyConfigured

from cachex.codec import DecodeError
from tests.security._util import all_logs

TRIPPED: list[str] = []


def _trip(note: str) -> str:
    """What a forged pickle calls when it is loaded."""
    TRIPPED.append(note)
    return note


class Forged:
    def __reduce__(self) -> tuple[Any, ...]:
        return (_trip, ("unpickled",))


KEY = "cache-signing-key-from-settings"


def signed(make_cache: Any, server: Any, prefix: str, **signing: Any) -> Any:
    return make_cache(server.url, KEY_PREFIX=prefix,
                      OPTIONS={"signing": {"key": KEY, **signing}})


def test_signed_values_round_trip_and_ints_stay_raw(single_server: Any,
                                                    make_cache: Any) -> None:
    cache = signed(make_cache, single_server, "sig")
    values = {"s": "text", "d": {"a": [1, 2.5]}, "n": None, "b": b"\x00\x80", "big": "x" * 5000}
    cache.set_many(values)
    assert cache.get_many(list(values)) == values
    raw = single_server.client().get(cache.make_key("s"))
    assert raw[:2] == b"\x00S" and len(raw) > 34
    cache.set("count", 41)
    assert single_server.client().get(cache.make_key("count")) == b"41"  # INCR still works
    assert cache.incr("count") == 42 and cache.get("count") == 42
    assert asyncio.run(cache.aget("d")) == values["d"]


@pytest.mark.parametrize("how", ["unsigned pickle", "forged signature", "another key"])
def test_bytes_nobody_signed_are_never_unpickled(how: str, single_server: Any,
                                                 make_cache: Any) -> None:
    cache = signed(make_cache, single_server, f"forge-{how[:3]}")
    evil = pickle.dumps(Forged())
    if how == "unsigned pickle":
        data = evil
    elif how == "forged signature":
        cache.set("v", "harmless")
        good = single_server.client().get(cache.make_key("v"))
        data = good[:34] + evil  # a real MAC, other bytes
    else:
        other = make_cache(single_server.url, KEY_PREFIX="x",
                           OPTIONS={"signing": {"key": "not the site's key"}})
        data = other._encode(Forged())
    single_server.client().set(cache.make_key("v"), data)
    TRIPPED.clear()
    with pytest.raises(DecodeError, match=r"not signed|signature"):
        cache.get("v")
    with all_logs():
        assert cache.get_many(["v"]) == {}
    assert TRIPPED == []


def test_key_rotation_with_fallback_keys(single_server: Any, make_cache: Any) -> None:
    old = make_cache(single_server.url, KEY_PREFIX="rot", OPTIONS={"signing": {"key": "old"}})
    old.set("v", {"kept": True})
    new = make_cache(single_server.url, KEY_PREFIX="rot",
                     OPTIONS={"signing": {"key": "new", "fallback_keys": ["old"]}})
    assert new.get("v") == {"kept": True}
    new.set("w", 1.5)
    with pytest.raises(DecodeError):
        old.get("w")


def test_signing_breaks_djangos_wire_format(single_server: Any, make_cache: Any,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """Documented: Django's RedisCache cannot read signed values (and vice versa)."""
    cache = signed(make_cache, single_server, "wire")
    cache.set("v", "cachex wrote this")
    django = DjangoRedisCache(single_server.url, {"KEY_PREFIX": "wire"})
    with pytest.raises(pickle.UnpicklingError):
        django.get("v")
    django.set("d", "django wrote this")
    with caplog.at_level(logging.WARNING), pytest.raises(DecodeError, match="not signed"):
        cache.get("d")


@pytest.mark.parametrize("signing, needle", [
    ({"key": ""}, "non-empty"),
    ({"key": None}, "non-empty"),
    ({}, "non-empty"),
    ("S3cr3tV4lue", "must be a dict"),
    ({"key": "k", "salt": "x"}, "unknown OPTIONS['signing'] key 'salt'"),
    ({"key": "k", "fallback_keys": "old"}, "list of keys"),
])
def test_bad_signing_options_are_refused_at_start_up(signing: Any, needle: str,
                                                     make_cache: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(needle)) as info:
        make_cache("redis://127.0.0.1:1/0", OPTIONS={"signing": signing})
    assert "S3cr3tV4lue" not in str(info.value)  # a key given the wrong way is not echoed
