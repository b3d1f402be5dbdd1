"""Settings that used to be accepted and then failed at first use (or never): refused at
start-up with an ImproperlyConfigured naming the alias, the problem and the fix; and bad
arguments to incr/set get errors that say what is wrong with them."""

from __future__ import annotations

import asyncio
import math
import re
import ssl
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cachex.exceptions import NotAnInteger

S = "redis://127.0.0.1:6379/0"
TLS = "rediss://127.0.0.1:6379/0"
SENTINEL = "redis+sentinel://127.0.0.1:26379/mymaster/0"

REFUSED: list[tuple[Any, dict[str, Any], str]] = [
    # timeouts (issue item 8)
    (S, {"pool": {"socket_timeout": 0}}, "socket_timeout'] must be a finite number > 0"),
    (S, {"pool": {"socket_connect_timeout": 0}}, "socket_connect_timeout'] must be a finite"),
    (S, {"pool": {"socket_timeout": -1}}, "socket_timeout'] must be a finite number > 0"),
    (S, {"pool": {"socket_timeout": math.inf}}, "got inf; None waits forever"),
    (S, {"pool": {"socket_connect_timeout": math.nan}}, "got nan"),
    (S, {"pool": {"health_check_interval": math.inf}}, "health_check_interval'] must be"),
    (SENTINEL, {"sentinel": {"socket_timeout": 0}}, "OPTIONS['sentinel']['socket_timeout']"),
    ("redis+sentinel://127.0.0.1:26379/m/0", {"wait_replicas": {"count": 1,
                                                                 "timeout": math.inf}},
     "OPTIONS['wait_replicas']['timeout']"),
    # item 9
    (S, {"pool": {"ssl_cert_reqs": "required"}}, "traffic sent unencrypted; use rediss://"),
    (["rediss://127.0.0.1:1", "redis://127.0.0.1:2"], {"pool": {"ssl_ca_certs": "/ca.pem"}},
     "127.0.0.1:2 is reached over a plain connection"),
    (TLS, {"pool": {"ssl_cert_reqs": "maybe"}}, "'maybe' is not a certificate requirement"),
    (SENTINEL.replace("/mymaster/0", "/mymaster"), {"sentinel": {"db": "x"}},
     "OPTIONS['sentinel']['db'] must be a whole number >= 0, got 'x'"),
    ("redis://127.0.0.1:6379/2?db=3", {}, "database 2 in the path and 3 in ?db="),
    (["redis://localhost:6379", "redis://127.0.0.1:6379"], {},
     "localhost:6379 and 127.0.0.1:6379"),
    (["redis://LOCALHOST:6379", "redis://[::1]:6379"], {}, "the same server more than once"),
    # where credentials go
    (S, {"pool": {"password": "x"}}, "write OPTIONS['password'] (every data node)"),
    ("redis://u:p@127.0.0.1:1", {"password": "x"}, "keep them in OPTIONS only"),
    (S, {"password": 42}, "OPTIONS['password'] must be a non-empty string"),
    # the new codec and logging options
    (S, {"log_keys": "all"}, "OPTIONS['log_keys'] must be one of 'hash', 'prefix', 'full'"),
    (S, {"decode_fallbacks": ["brotli"]}, "unknown decode_fallbacks entry 'brotli'"),
    (S, {"decode_fallbacks": "zlib"}, "decode_fallbacks must be a list"),
    (S, {"decompress_max_size": 0}, "decompress_max_size must be an int >= 1"),
]


@pytest.mark.parametrize(("location", "options", "needle"), REFUSED,
                         ids=[f"{i}:{n[:40]}" for i, (_, _, n) in enumerate(REFUSED)])
def test_refused_at_start_up(location: Any, options: dict[str, Any], needle: str,
                             make_cache: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(needle)) as info:
        make_cache(location, OPTIONS=options)
    assert str(info.value).startswith("cachex cache ")


@pytest.mark.parametrize("options", [
    {"pool": {"socket_timeout": None, "socket_connect_timeout": 0.25}},
    {"pool": {"ssl_cert_reqs": ssl.CERT_REQUIRED}},
    {"pool": {"ssl_cert_reqs": "none"}},
    {"log_keys": "prefix", "decode_fallbacks": ["zlib", "json"], "decompress_max_size": 1},
])
def test_good_settings_are_accepted(options: dict[str, Any], make_cache: Any) -> None:
    location = TLS if "ssl_cert_reqs" in options.get("pool", {}) else S
    make_cache(location, OPTIONS=options)


def test_same_db_twice_and_other_dbs(make_cache: Any) -> None:
    make_cache("redis://127.0.0.1:1/2?db=2")
    make_cache(["redis://localhost:6379/0", "redis://127.0.0.1:6379/1"])


@pytest.mark.parametrize(("call", "error", "needle"), [
    (lambda c: c.incr("n", 1.5), TypeError, "delta must be an int, not float 1.5"),
    (lambda c: c.decr("n", 0.5), TypeError, "delta must be an int"),
    (lambda c: c.incr("n", 2**70), ValueError, "outside Redis's signed 64-bit"),
    (lambda c: c.set("k", 1, timeout=10**16), ValueError, "beyond what Redis can store"),
    (lambda c: c.set("k", 1, timeout="10"), TypeError, "not str '10'"),
    (lambda c: c.add("k", 1, timeout=math.inf), ValueError, "not a finite number"),
    (lambda c: c.touch("k", timeout=math.nan), ValueError, "not a finite number"),
    (lambda c: asyncio.run(c.aincr("n", 1.5)), TypeError, "delta must be an int"),
    (lambda c: asyncio.run(c.aset("k", 1, timeout="10")), TypeError, "not str '10'"),
    (lambda c: c.set_many({"k": 1}, timeout=10**16), ValueError, "beyond what Redis"),
])
def test_bad_arguments_say_what_is_wrong(call: Any, error: type[Exception], needle: str,
                                        single_server: Any, make_cache: Any) -> None:
    cache = make_cache(single_server.url, KEY_PREFIX="args")
    cache.set("n", 1)
    with pytest.raises(error, match=re.escape(needle)) as info:
        call(cache)
    assert not isinstance(info.value, NotAnInteger)
    assert cache.get("n") == 1


def test_options_credentials_reach_sentinel_data_nodes() -> None:
    """Credentials in OPTIONS apply to the data nodes behind sentinels too."""
    from cachex.config import parse_settings

    settings = parse_settings("s", "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/m/0",
                              {"username": "app", "password": "pw@/:",
                               "sentinel": {"password": "sentinel-pw"}})
    assert {(e.username, e.password) for e in settings.endpoints} == {("app", "pw@/:")}
    assert settings.sentinel_password == "sentinel-pw"
    cluster = parse_settings("c", "redis+cluster://127.0.0.1:7000", {"password": "pw"})
    assert cluster.endpoints[0].password == "pw"
