"""Near caches on the session's labs, each with its own key prefix and closed afterwards."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cachex.backends.redis import RedisCache
from tests import labs

_prefixes = itertools.count()


def wait_ready(cache: Any, timeout: float = 15.0) -> None:
    """Until every primary's invalidation channel is up and a read can be kept."""
    near = cache._near
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if near.token(cache.make_key("probe")) is not None:
            return
        time.sleep(0.02)
    raise AssertionError(f"near cache channels not up: {near.stats()}")


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def warm(cache: Any, *keys: str, version: int | None = None) -> None:
    """Read ``keys`` until each is kept locally (a write's own invalidation, arriving after
    the first read left, voids that read's fill: the next one sticks)."""
    for key in keys:
        made = cache.make_key(key, version=version)
        eventually(lambda made=made, key=key: cache.get(key, version=version) is not None
                   and cache._near.store.has(made))


@pytest.fixture
def near_cache() -> Iterator[Callable[..., Any]]:
    """near_cache(topology or location, **near_options) -> a ready cachex backend."""
    built: list[Any] = []

    def make(where: Any, ready: bool = True, options: dict[str, Any] | None = None,
             **near: Any) -> Any:
        location = labs.location(where) if isinstance(where, str) and "://" not in where \
            else where
        opts = {**(options or {}), "near_cache": near or {"max_entries": 1000}}
        cache = RedisCache(location, {"KEY_PREFIX": f"near{next(_prefixes)}",
                                      "OPTIONS": opts})
        built.append(cache)
        if ready:
            wait_ready(cache)
        return cache

    yield make
    for cache in built:
        cache._near.close()
