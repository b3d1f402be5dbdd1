from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import labs


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    labs.stop_all()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return labs.describe_servers()


@pytest.fixture
def single_server(request: pytest.FixtureRequest) -> Any:
    """The session's single server, of the flavour the test's ``driver`` meets."""
    return labs.lab("single", labs.flavor_for(labs.driver_of(request)))


@pytest.fixture
def shard_servers(request: pytest.FixtureRequest) -> Any:
    """The session's three shard servers, of the flavour the test's ``driver`` meets."""
    return labs.lab("shards", labs.flavor_for(labs.driver_of(request)))


@pytest.fixture
def make_cache() -> Iterator[Any]:
    """Build a cachex backend by hand: make_cache(location, backend='redis', **params)."""
    from cachex.backends.redis import RedisCache
    from cachex.backends.valkey import ValkeyCache

    built: list[Any] = []

    def make(location: Any, driver: str = "redis", **params: Any) -> Any:
        cls = {"redis": RedisCache, "valkey": ValkeyCache}[driver]
        cache = cls(location, params)
        built.append(cache)
        return cache

    yield make
    for cache in built:
        cache.close()
