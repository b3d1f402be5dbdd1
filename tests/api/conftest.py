"""Fixtures for the extended API: a cache per (topology, driver) with its own KEY_PREFIX,
and ``api``, which calls a method through the sync name or through its native ``a`` twin
on one event loop, so each behaviour test runs both ways."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cachex.backends.redis import RedisCache
from cachex.backends.valkey import ValkeyCache
from tests import labs

TOPOLOGIES = ["single", "sharded", "cluster", "sentinel"]
DRIVERS = ["redis", "valkey"]
MODES = ["sync", "async"]


BACKENDS: dict[str, type] = {"redis": RedisCache, "valkey": ValkeyCache}


@pytest.fixture(params=TOPOLOGIES)
def topology(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make() -> Iterator[Callable[..., Any]]:
    """``make(topology, driver, **params)``: a backend on the session's lab with a fresh
    KEY_PREFIX (unless given); every key it made is deleted afterwards, on every node."""
    built: list[Any] = []

    def build(topology: str, driver: str, **params: Any) -> Any:
        params.setdefault("KEY_PREFIX", f"api-{uuid.uuid4().hex[:12]}")
        cache = BACKENDS[driver](labs.location(topology), params)
        built.append(cache)
        return cache

    yield build
    for cache in built:
        for version in (cache.version, cache.version + 1, cache.version + 2):
            cache.delete_pattern("*", version=version)


@pytest.fixture
def cache(make: Callable[..., Any], topology: str, driver: str) -> Any:
    return make(topology, driver)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


class Api:
    """``api.hset(...)`` is ``cache.hset(...)`` in sync mode and
    ``loop.run_until_complete(cache.ahset(...))`` in async mode."""

    def __init__(self, cache: Any, mode: str, loop: asyncio.AbstractEventLoop) -> None:
        self.cache = cache
        self.mode = mode
        self.loop = loop

    def __getattr__(self, name: str) -> Any:
        if self.mode == "sync":
            return getattr(self.cache, name)
        twin = getattr(self.cache, "a" + name)

        def run(*args: Any, **kwargs: Any) -> Any:
            return self.loop.run_until_complete(twin(*args, **kwargs))

        return run


@pytest.fixture
def api(cache: Any, mode: str, loop: asyncio.AbstractEventLoop) -> Api:
    return Api(cache, mode, loop)


def raw_client(cache: Any, key: str) -> Any:
    """The driver client holding the stored key ``key`` (for planting bytes the API never
    writes, and for looking at what it stored)."""
    return cache._topology.client(key, True)


def data_nodes(topology: str) -> list[Any]:
    """The lab servers that hold data for ``topology``: every primary."""
    lab = labs.lab({"sharded": "shards"}.get(topology, topology))
    if topology == "single":
        return [lab]
    if topology == "sharded":
        return list(lab)
    if topology == "cluster":
        return list(lab.primaries())
    return [lab.primary_node]
