"""LOCATION and OPTIONS parsing (cachex/config.py): what each form becomes, and the
ImproperlyConfigured a bad one gets (alias, problem, fix; never the password). Pure."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cachex.config import parse_settings


def settle(location: Any, **options: Any) -> Any:
    return parse_settings("unit", location, options)


def test_one_url_is_a_single_server() -> None:
    s = settle("redis://:secret@cache.example:6380/3")
    assert (s.topology, len(s.endpoints)) == ("single", 1)
    e = s.endpoints[0]
    assert (e.host, e.port, e.db, e.password, e.tls) == ("cache.example", 6380, 3, "secret", False)
    assert "secret" not in repr(s)
    assert settle("rediss://h/0").endpoints[0].tls
    assert settle("unix:///tmp/redis.sock?db=2").endpoints[0].path == "/tmp/redis.sock"


@pytest.mark.parametrize("location", [
    ["redis://a:6379/0", "redis://b:6379/0"], "redis://a:6379/0,redis://b:6379/0",
    "redis://a:6379/0;redis://b:6379/0"])
def test_several_urls_are_shards(location: Any) -> None:
    s = settle(location)
    assert s.topology == "sharded"
    assert [e.identity for e in s.endpoints] == ["a:6379", "b:6379"]


def test_ring_identity_ignores_the_password_and_honours_names_and_weights() -> None:
    a = settle(["redis://:one@a:6379/0", "redis://b:6379/0"]).endpoints[0]
    b = settle(["redis://:two@a:6379/0", "redis://b:6379/0"]).endpoints[0]
    assert a.identity == b.identity
    named = settle(["redis://a:6379/0?name=left&weight=3", "redis://b:6379/0"]).endpoints[0]
    assert (named.identity, named.weight) == ("left", 3)


def test_cluster_and_sentinel_urls() -> None:
    c = settle("redis+cluster://h1:7000,h2:7001")
    assert c.topology == "cluster" and [e.port for e in c.endpoints] == [7000, 7001]
    s = settle("redis+sentinel://s1:26379,s2:26380/mymaster/2")
    assert (s.topology, s.service, s.endpoints[0].db) == ("sentinel", "mymaster", 2)
    assert settle(["redis://a/0", "redis://b/0"], topology="replicated").topology == "replicated"


def test_fast_path_option() -> None:
    assert settle("redis://h/0").fast_path is True
    off = settle("redis://h/0", fast_path=False)
    assert off.fast_path is False
    assert off.registry_key != settle("redis://h/0").registry_key  # never share a topology


@pytest.mark.parametrize(("location", "options", "words"), [
    ("redis://h/0", {"topolgy": "single"}, "unknown OPTIONS key 'topolgy'"),
    ("redis://h/0", {"socket_timeout": 1}, "belongs under OPTIONS['pool']"),
    ("redis://h/0", {"topology": "ring"}, "is not a topology"),
    ("redis+cluster://h1:7000/2", {}, "only database 0"),
    ("redis+sentinel://s1:26379", {}, "needs the service"),
    (["redis://a/0", "redis://a/0"], {}, "more than once"),
    ("redis://h/0", {"wait_replicas": 1}, "needs replicas"),
    ("redis://h/0", {"fast_path": "yes"}, "OPTIONS['fast_path'] must be True or False"),
    ("redis://h/0", {"read_from_replicas": 1}, "must be True or False"),
])
def test_bad_input_names_the_alias_and_the_problem(location: Any, options: dict[str, Any],
                                                    words: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        parse_settings("unit-bad", location, options)
    text = str(info.value)
    assert "'unit-bad'" in text and words in text


def test_a_password_never_reaches_an_error() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        parse_settings("unit-bad", "redis://:hunter2@h:notaport/0", {})
    assert "hunter2" not in str(info.value)
