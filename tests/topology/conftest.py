"""Labs and helpers for the topology tests: real servers, one lab per module."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cachex.testing import SentinelSet, Server, flushall, sentinel
from tests import labs

DATA_PASSWORD = "data-secret"
SENTINEL_PASSWORD = "sentinel-secret"
BACKENDS = {"redis": "cachex.backends.redis.RedisCache",
            "valkey": "cachex.backends.valkey.ValkeyCache"}


@pytest.fixture(scope="module")
def sentinel_sets() -> Iterator[Callable[[str | None], SentinelSet]]:
    """``sentinel_sets(flavor)``: the module's sentinel set of that server flavour, started on
    first use. Primary + replica + 3 sentinels; data nodes and sentinels have different
    passwords, so a test passes only if each side gets its own credentials."""
    with contextlib.ExitStack() as stack:
        made: dict[str | None, SentinelSet] = {}

        def get(flavor: str | None) -> SentinelSet:
            if flavor not in made:
                made[flavor] = stack.enter_context(sentinel(
                    password=DATA_PASSWORD, sentinel_password=SENTINEL_PASSWORD, flavor=flavor))
            return made[flavor]

        yield get


@pytest.fixture
def sentinel_set(sentinel_sets: Callable[[str | None], SentinelSet],
                 request: pytest.FixtureRequest) -> SentinelSet:
    """The module's sentinel set of the flavour the test's ``driver`` meets."""
    return sentinel_sets(labs.flavor_for(labs.driver_of(request)))


@pytest.fixture
def sentinel_lab(sentinel_set: SentinelSet) -> Iterator[SentinelSet]:
    """The module's sentinel set, whole and empty before the test; made whole again after a
    test that killed, paused or failed over a node, so the next test has a replica."""
    heal(sentinel_set)
    flushall(sentinel_set)
    yield sentinel_set
    heal(sentinel_set)


def heal(lab: SentinelSet) -> None:
    restarted = []
    for node in lab.nodes + lab.sentinels:
        if node.paused:
            node.resume()
            restarted.append(node)
        elif not node.is_running():
            node.restart()
            restarted.append(node)
    primary = lab.primary_node
    for node in restarted:
        # A killed (or hung) primary comes back as a master. Sentinel would demote it after
        # its next INFO round (about 10 s); do it now, as Sentinel would, so the next test
        # has a replica at once.
        if node in lab.nodes and node is not primary and node.execute("ROLE")[0] == "master":
            node.execute("REPLICAOF", primary.host, primary.port)
    lab.wait_ready(60)


def sentinel_location(lab: SentinelSet) -> str:
    """LOCATION with the data nodes' password; the sentinels' goes in OPTIONS."""
    return lab.url.replace("://", f"://:{DATA_PASSWORD}@", 1)


def sentinel_options(**extra: Any) -> dict[str, Any]:
    return {"sentinel": {"password": SENTINEL_PASSWORD}, **extra}


def command_calls(node: Server, command: str) -> int:
    """How many times ``node`` ran ``command`` since the last CONFIG RESETSTAT."""
    stats = node.execute("INFO", "commandstats")
    entry = stats.get(f"cmdstat_{command.lower()}")
    return int(entry["calls"]) if entry else 0


def reset_stats(nodes: list[Server]) -> None:
    for node in nodes:
        node.execute("CONFIG", "RESETSTAT")
