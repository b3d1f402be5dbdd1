"""Credentials never reach a message, a repr or a log line, whatever characters they hold;
and they can live in OPTIONS (which Django's error reports mask) instead of LOCATION."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.core.exceptions import ImproperlyConfigured

from cachex.exceptions import CachexError
from cachex.redact import mask_location, mask_url
from tests.security._util import all_logs, error_texts, leaks

# Each password carries the two markers the scan looks for, around the awkward characters.
SPECIALS = ["@", "/", ":", "%40", "%zz", "%", "üñï€", "@/:%ü", "?#", "@@"]
PASSWORDS = [f"Sekr3t{s}T4il" for s in SPECIALS]
MARKERS = ["Sekr3t", "T4il"]

BAD_URLS: list[tuple[str, dict[str, Any]]] = [
    ("redis://{c}@127.0.0.1:notaport/0", {}),
    ("redis://{c}@127.0.0.1:6379/x", {}),
    ("redis://{c}@127.0.0.1:6379/0?bogus=1", {}),
    ("redis://{c}@127.0.0.1:99999/0", {}),
    ("redis://{c}@/0", {}),
    ("bogus://{c}@127.0.0.1:6379", {}),
    ("redis://{c}@::1:6379", {}),
    ("redis://{c}@[::1:6379", {}),
    ("redis+cluster://{c}@127.0.0.1:7000?x=1", {}),
    ("redis+cluster://{c}@127.0.0.1:7000,127.0.0.1:7000", {}),
    ("redis+cluster://{c}@127.0.0.1:7000/3", {}),
    ("redis+sentinel://{c}@127.0.0.1:26379", {}),
    ("redis+sentinel://{c}@127.0.0.1:26379/a/b/c", {}),
    ("redis://{c}@h1:1,h2:2", {}),
    ("redis://{c}@127.0.0.1:1?weight=x", {}),
    ("{c}@127.0.0.1:6379", {}),
    ("redis://{c}@127.0.0.1:1/2?db=3", {}),
    ("unix://{c}@", {}),
    ("redis://{c}@127.0.0.1:1", {"pool": {"ssl_cert_reqs": "required"}}),
    ("redis://{c}@127.0.0.1:1", {"password": "other"}),
    ("redis://{c}@127.0.0.1:1", {"pool": {"socket_timeout": 0}}),
    ("redis://{c}@127.0.0.1:1", {"pool": {"password": "x"}}),
    ("redis://{c}@127.0.0.1:1", {"bogus": 1}),
    ("redis://{c}@127.0.0.1:1", {"topology": "cluster", "weights": {"a": 1}}),
]
BAD_LISTS = [
    ["redis://{c}@127.0.0.1:1", "redis://{c}@localhost:1"],
    ["redis://{c}@127.0.0.1:1", 42],
]


def credentials(password: str) -> Iterator[str]:
    """The password as users write it: raw, and percent-encoded."""
    yield f"user:{password}"
    yield f"user:{quote(password, safe='')}"
    yield f":{password}"


def secrets(password: str) -> list[str]:
    return [*MARKERS, password, quote(password, safe="")]


def build(make_cache: Any, location: Any, options: dict[str, Any]) -> Any:
    return make_cache(location, OPTIONS=options)


def test_a_matrix_of_bad_urls_with_passwords_leaks_nothing(make_cache: Any) -> None:
    texts: list[str] = []
    refused = 0
    with all_logs() as logs:
        for cred in (c for p in PASSWORDS for c in credentials(p)):
            cases: list[tuple[Any, dict[str, Any]]] = [
                (url.format(c=cred), opts) for url, opts in BAD_URLS]
            cases += [([u.format(c=cred) if isinstance(u, str) else u for u in urls], {})
                      for urls in BAD_LISTS]
            for location, options in cases:
                try:
                    build(make_cache, location, options)
                except Exception as exc:
                    texts += error_texts(exc)
                    refused += isinstance(exc, ImproperlyConfigured)
                texts += [mask_location(location)]
    texts += logs.texts()
    found = leaks(texts, [s for p in PASSWORDS for s in secrets(p)])
    print(f"\n[measure] {refused} refused configurations, {len(texts)} texts scanned")
    assert not found, found[:3]
    assert refused == len(PASSWORDS) * 3 * (len(BAD_URLS) + len(BAD_LISTS))


@pytest.fixture
def acl_users(single_server: Any) -> Iterator[list[tuple[str, str]]]:
    """One ACL user per password on the shared server."""
    client = single_server.client()
    users = [(f"sec{i}", pw) for i, pw in enumerate(PASSWORDS)]
    for name, pw in users:
        client.execute_command("ACL", "SETUSER", name, "on", f">{pw}", "~*", "+@all")
    yield users
    for name, _ in users:
        client.execute_command("ACL", "DELUSER", name)


FAST_FAIL = {"retry": {"attempts": 2, "backoff": 0.001, "max_backoff": 0.001},
             "failover": {"threshold": 1, "cooldown": 30},
             "pool": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}


def test_passwords_with_any_character_work_and_never_show_at_run_time(
        single_server: Any, acl_users: list[tuple[str, str]], make_cache: Any) -> None:
    host = f"{single_server.host}:{single_server.port}"
    texts: list[str] = []
    with all_logs() as logs:
        for (name, pw), n in zip(acl_users, itertools.count()):
            # the right password works however it is written: raw, percent-encoded, OPTIONS
            # (a raw '%' followed by two hex digits reads as an escape: such a password
            # must be percent-encoded in a URL, or given in OPTIONS)
            for location, options in [
                *([(f"redis://{name}:{pw}@{host}/0", {})] if "%" not in pw else []),
                (f"redis://{name}:{quote(pw, safe='')}@{host}/0", {}),
                (f"redis://{host}/0", {"username": name, "password": pw}),
            ]:
                cache = make_cache(location, KEY_PREFIX=f"pw{n}", OPTIONS=options)
                cache.set("k", pw)
                assert cache.get("k") == pw
                assert asyncio.run(cache.aget("k")) == pw
                texts += [repr(cache.settings), repr(cache._router.topology), repr(cache)]
            # a wrong password, and an address nobody listens on, fail without showing it
            for location, options in [
                (f"redis://{name}:{pw}x@{host}/0", {}),
                (f"redis://{host}/0", {"username": name, "password": pw + "x"}),
                (f"redis://{name}:{pw}@127.0.0.1:1/0", FAST_FAIL),
                ([f"redis://{name}:{pw}@127.0.0.1:1/0", f"redis://{name}:{pw}@127.0.0.1:2/0"],
                 {**FAST_FAIL, "failover": {"mode": "fail_open", "threshold": 1}}),
            ]:
                cache = make_cache(location, KEY_PREFIX=f"bad{n}", OPTIONS=options)
                for call in (lambda c=cache: c.get("k"),
                             lambda c=cache: asyncio.run(c.aget("k")),
                             lambda c=cache: c.set_many({"a": 1, "b": 2})):
                    try:
                        call()
                    except CachexError as exc:
                        texts += error_texts(exc)
                texts += [repr(cache.settings)]
    texts += logs.texts()
    assert any("invalid username-password" in t or "WRONGPASS" in t for t in texts)
    assert any("circuit" in t for t in texts)  # the outage was logged...
    found = leaks(texts, [s for p in PASSWORDS for s in secrets(p)])
    assert not found, found[:3]  # ...and nothing showed a password


def logged_in(server: Any, user: str) -> bool:
    """Whether some connection to ``server`` is authenticated as ``user``."""
    return any(c.get("user") == user for c in server.client().client_list())


def test_options_credentials_reach_every_shard(shard_servers: Any, make_cache: Any) -> None:
    for server in shard_servers:
        server.client().execute_command("ACL", "SETUSER", "shardy", "on", ">Sekr3t@/T4il",
                                        "~*", "+@all")
    try:
        cache = make_cache([s.url for s in shard_servers], KEY_PREFIX="optcreds",
                           OPTIONS={"username": "shardy", "password": "Sekr3t@/T4il"})
        data = {f"k{i}": i for i in range(40)}
        cache.set_many(data)
        assert cache.get_many(list(data)) == data
        assert all(logged_in(s, "shardy") for s in shard_servers)
        assert "Sekr3t" not in repr(cache.settings)
    finally:
        for server in shard_servers:
            server.client().execute_command("ACL", "DELUSER", "shardy")


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://u:p@ss/w:rd@h:1/0", "redis://***@h:1/0"),
    ("redis://:p%40ss@h", "redis://***@h"),
    ("rediss+cluster://u:x@y@h1:1,h2:2", "rediss+cluster://***@h1:1,h2:2"),
    ("redis://h:1/0", "redis://h:1/0"),
    ("u:pw@h", "***@h"),
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_mask_location_lists_and_separated_strings() -> None:
    text = mask_location("redis://a:p,w;d@h1:1, redis://b:q@h2:2")
    assert "p,w;d" not in text and ":q" not in text and "h1:1" in text and "h2:2" in text
    assert "q@" not in mask_location(["redis://b:q@h2:2"])


def test_options_credentials_reach_every_cluster_node(make_cache: Any) -> None:
    """Seeds and the nodes discovered from CLUSTER SLOTS alike (ACL users are per node)."""
    from tests import labs

    cluster = labs.lab("cluster")
    for node in cluster.nodes:
        node.client().execute_command("ACL", "SETUSER", "clus", "on", ">Sekr3t:@T4il",
                                      "~*", "+@all")
    try:
        seed = cluster.url.split(",")[0]  # one seed: the others are discovered
        cache = make_cache(seed, KEY_PREFIX="optcreds",
                           OPTIONS={"username": "clus", "password": "Sekr3t:@T4il"})
        data = {f"k{i}": i for i in range(60)}
        cache.set_many(data)
        assert cache.get_many(list(data)) == data
        assert asyncio.run(cache.aget_many(list(data))) == data
        primaries = [n for n in cluster.nodes
                     if n.client().info("replication")["role"] == "master"]
        assert all(logged_in(n, "clus") for n in primaries)
    finally:
        for node in cluster.nodes:
            node.client().execute_command("ACL", "DELUSER", "clus")


def test_what_djangos_error_reports_mask() -> None:
    """docs/security.md's table: OPTIONS['password'] and the signing key are masked in
    Django's error page and e-mails, LOCATION is not."""
    from django.test import override_settings
    from django.views.debug import SafeExceptionReporterFilter

    caches = {"default": {
        "BACKEND": "cachex.backends.redis.RedisCache",
        "LOCATION": "redis://user:Sekr3tInUrlT4il@10.0.0.1:6379/0",
        "OPTIONS": {"username": "web", "password": "Sekr3tOptT4il",
                    "sentinel": {"password": "Sekr3tSentT4il"},
                    "signing": {"key": "Sekr3tSignT4il", "fallback_keys": ["Sekr3tOldT4il"]}},
    }}
    with override_settings(CACHES=caches):
        shown = SafeExceptionReporterFilter().get_safe_settings()["CACHES"]["default"]
    text = repr(shown)
    for secret in ("Sekr3tOptT4il", "Sekr3tSentT4il", "Sekr3tSignT4il", "Sekr3tOldT4il"):
        assert secret not in text
    assert "Sekr3tInUrlT4il" in shown["LOCATION"]  # why passwords belong in OPTIONS
    assert shown["OPTIONS"]["username"] == "web"
