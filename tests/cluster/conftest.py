"""Helpers for the Cluster acceptance tests (GitHub issue 4): real clusters, one per module.

Every module starts its own 3 primaries + 3 replicas (``cachex.testing.cluster``) rather than
the session lab in ``tests/labs.py``: these tests reset command statistics, flush every node,
migrate slots and fail primaries over.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from cachex.routing import SLOTS, key_slot
from cachex.testing import Cluster, Server, cluster, flushall
from tests import labs

DRIVERS = ["redis", "valkey"]


@pytest.fixture(scope="module")
def module_clusters() -> Iterator[Callable[[str | None], Cluster]]:
    """``module_clusters(flavor)``: the module's cluster of that server flavour, started on
    first use (a module whose tests all use one driver starts one cluster)."""
    with contextlib.ExitStack() as stack:
        made: dict[str | None, Cluster] = {}

        def get(flavor: str | None) -> Cluster:
            if flavor not in made:
                made[flavor] = stack.enter_context(cluster(flavor=flavor))
            return made[flavor]

        yield get


@pytest.fixture
def module_cluster(module_clusters: Callable[[str | None], Cluster],
                   request: pytest.FixtureRequest) -> Cluster:
    """The module's cluster of the flavour the test's ``driver`` meets."""
    return module_clusters(labs.flavor_for(labs.driver_of(request)))


@pytest.fixture
def lab(module_cluster: Cluster) -> Cluster:
    """The module's cluster, empty before the test."""
    flushall(module_cluster)
    return module_cluster


def build(make_cache: Any, lab: Cluster, driver: str, **options: Any) -> Any:
    """A cachex backend on ``lab`` (LOCATION ``redis+cluster://...`` listing every node)."""
    return make_cache(lab.url, driver, OPTIONS=options)


def slot_of(cache: Any, key: str, version: int | None = None) -> int:
    """The slot of the key cachex really sends (prefix and version included)."""
    return key_slot(cache.make_key(key, version=version))


def one_key_per_slot(cache: Any, prefix: str = "slot") -> list[str]:
    """16384 cache keys; the made key of entry ``i`` hashes to slot ``i``."""
    found: list[str | None] = [None] * SLOTS
    missing, i = SLOTS, 0
    while missing:
        key = f"{prefix}:{i}"
        slot = slot_of(cache, key)
        if found[slot] is None:
            found[slot] = key
            missing -= 1
        i += 1
    return [k for k in found if k is not None]


def keys_in_slot(cache: Any, slot: int, count: int, prefix: str = "in") -> list[str]:
    """``count`` cache keys whose made keys hash to ``slot`` (no hash tags involved)."""
    out: list[str] = []
    i = 0
    while len(out) < count:
        key = f"{prefix}:{i}"
        if slot_of(cache, key) == slot:
            out.append(key)
        i += 1
    return out


def slot_owners(lab: Cluster) -> list[int]:
    """Port of the primary serving each slot, as the cluster itself says (CLUSTER NODES)."""
    owners = [0] * SLOTS
    for entry in lab.view().values():
        if entry.is_primary and "fail" not in entry.flags:
            for lo, hi in entry.slots:
                owners[lo:hi + 1] = [entry.port] * (hi - lo + 1)
    assert all(owners), "some slot has no primary"
    return owners


def node_at(lab: Cluster, port: int) -> Server:
    return next(node for node in lab.nodes if node.port == port)


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def command_calls(node: Server, command: str) -> int:
    """How many times ``node`` ran ``command`` since its last CONFIG RESETSTAT."""
    entry = node.execute("INFO", "commandstats").get(f"cmdstat_{command.lower()}")
    return int(entry["calls"]) if entry else 0


def reset_stats(nodes: Sequence[Server]) -> None:
    for node in nodes:
        node.execute("CONFIG", "RESETSTAT")


def wait_replicated(lab: Cluster) -> None:
    """Every primary's writes so far have reached its replica."""
    for primary in lab.primaries():
        assert primary.execute("WAIT", 1, 5000) == 1, f"{primary.name}: replica did not ack"


def dbsize(node: Server) -> int:
    return int(node.execute("DBSIZE"))
