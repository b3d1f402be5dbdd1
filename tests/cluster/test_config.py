"""Cluster LOCATION forms (GitHub issue 4): what is accepted, and what fails at start-up with
an ``ImproperlyConfigured`` naming the alias and the problem."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cachex.config import parse_settings
from cachex.testing import Cluster

from .conftest import DRIVERS, port_of, slot_of, slot_owners

pytestmark = pytest.mark.timeout(120)
BACKENDS = {"redis": "cachex.backends.redis.RedisCache",
            "valkey": "cachex.backends.valkey.ValkeyCache"}

BAD = [
    pytest.param("redis+cluster://", {}, ["lists no nodes", "redis+cluster://host1:port1"],
                 id="no-nodes"),
    pytest.param("valkey+cluster:///0", {}, ["lists no nodes"], id="no-nodes-with-db"),
    pytest.param("redis+cluster://h:7000/2", {}, ["only database 0", "db 2"], id="db-in-url"),
    pytest.param("redis+cluster://h:7000,h:7001/1", {}, ["only database 0", "db 1"],
                 id="db-in-multi-host-url"),
    pytest.param("redis://h:7000/3", {"topology": "cluster"}, ["only database 0"],
                 id="db-with-topology-option"),
    pytest.param(["redis://h:7000/0", "redis://h:7001/5"], {"topology": "cluster"},
                 ["only database 0"], id="db-in-url-list"),
    pytest.param("redis+cluster://h:7000", {"topology": "sentinel"},
                 ["redis+cluster://", "'sentinel'"], id="scheme-contradicts-option"),
    pytest.param(["redis+cluster://h:7000", "redis+cluster://h:7001"], {},
                 ["lists its nodes in one URL"], id="list-of-cluster-urls"),
    pytest.param("redis+cluster://h:7000,h:7000", {}, ["h:7000 twice"], id="duplicate-node"),
    pytest.param("redis+cluster://h:7000?db=0", {}, ["no URL parameters"], id="query"),
]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(("location", "options", "phrases"), BAD)
def test_bad_cluster_location_fails_at_start_up(driver: str, location: Any,
                                                options: dict[str, Any],
                                                phrases: list[str]) -> None:
    conf = {"sessions": {"BACKEND": BACKENDS[driver], "LOCATION": location,
                         "OPTIONS": options}}
    with override_settings(CACHES=conf), pytest.raises(ImproperlyConfigured) as info:
        caches["sessions"]
    text = str(info.value)
    assert "cachex cache 'sessions'" in text
    for phrase in phrases:
        assert phrase in text, text


GOOD = [
    ("redis+cluster://a:7000,b:7001", False, "redis"),
    ("redis+cluster://a:7000/0", False, "redis"),
    ("rediss+cluster://user:pw@a:7000,b:7001", True, "redis"),
    ("valkey+cluster://a:7000", False, "valkey"),
    ("valkeys+cluster://a:7000,[::1]:7001", True, "valkey"),
]


@pytest.mark.parametrize(("location", "tls", "family"), GOOD)
def test_cluster_location_forms(location: str, tls: bool, family: str) -> None:
    settings = parse_settings("c", location, {})
    assert settings.topology == "cluster"
    assert settings.endpoints[0].host == "a" and settings.endpoints[0].port == 7000
    assert all(e.tls is tls and e.db == 0 for e in settings.endpoints)


@pytest.mark.parametrize(("location", "tls", "family"), GOOD)
def test_cluster_scheme_family(location: str, tls: bool, family: str) -> None:
    # "redis".rstrip("s") is "redi": the family of every redis(s)+cluster URL came out wrong
    assert parse_settings("c", location, {}).scheme_family == family


def test_cluster_location_credentials_reach_every_endpoint() -> None:
    settings = parse_settings("c", "rediss+cluster://ann:s%40cret@a:7000,b:7001", {})
    assert [(e.username, e.password) for e in settings.endpoints] == [("ann", "s@cret")] * 2


def test_topology_option_with_a_url_list() -> None:
    settings = parse_settings("c", ["redis://a:7000", "redis://b:7001/0"],
                              {"topology": "cluster"})
    assert settings.topology == "cluster"
    assert [e.address for e in settings.endpoints] == ["a:7000", "b:7001"]
    settings = parse_settings("c", "redis://a:7000,redis://b:7001", {"topology": "cluster"})
    assert [e.address for e in settings.endpoints] == ["a:7000", "b:7001"]


# ------------------------------------------------------------------ forms that must really work


@pytest.mark.parametrize("driver", DRIVERS)
def test_one_seed_node_discovers_the_whole_cluster(make_cache: Any, module_cluster: Cluster,
                                                   driver: str) -> None:
    seed = module_cluster.replicas()[0]  # even a replica will do as the seed
    cache = make_cache(f"{driver}+cluster://{seed.address}", driver)
    data = {f"seed:{i}": i for i in range(300)}
    cache.set_many(data)
    assert cache.get_many(list(data)) == data
    owners = slot_owners(module_cluster)
    used = {owners[slot_of(cache, k)] for k in data}
    assert len(used) == 3
    assert {port_of(a) for a in cache._topology.primaries()} == used


@pytest.mark.parametrize("driver", DRIVERS)
def test_topology_option_with_plain_urls_works(make_cache: Any, module_cluster: Cluster,
                                               driver: str) -> None:
    location = [node.url for node in module_cluster.primaries()]  # redis://h:p/0 each
    cache = make_cache(location, driver, OPTIONS={"topology": "cluster"})
    assert cache._topology.name == "cluster"
    data = {f"plain:{i}": str(i) for i in range(300)}
    cache.set_many(data)
    assert cache.get_many(list(data)) == data
    assert asyncio.run(cache.aget_many(list(data))) == data
    owners = slot_owners(module_cluster)
    for key in list(data)[:20]:
        assert port_of(cache._topology.locate(cache.make_key(key))) == owners[slot_of(cache, key)]


def test_cluster_url_through_django_settings(module_cluster: Cluster) -> None:
    conf = {"default": {"BACKEND": BACKENDS["valkey"],
                        "LOCATION": module_cluster.url.replace("redis+", "valkey+")}}
    with override_settings(CACHES=conf):
        cache = caches["default"]
        cache.set("through-settings", {"ok": True})
        assert cache.get("through-settings") == {"ok": True}
