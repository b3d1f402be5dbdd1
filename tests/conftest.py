from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import labs


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    labs.stop_all()


@pytest.fixture(scope="session")
def single_server() -> Any:
    return labs.lab("single")


@pytest.fixture(scope="session")
def shard_servers() -> Any:
    return labs.lab("shards")


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
