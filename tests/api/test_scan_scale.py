"""iter_keys/aiter_keys over 100,000 keys on 3 shards (and on the cluster): every key
exactly once, pages fetched lazily, and memory bounded by the page size, not the key count.
"""

from __future__ import annotations

import asyncio
import inspect
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tests import labs
from tests.api.conftest import BACKENDS, data_nodes

N = 100_000
ITERSIZE = 500


@pytest.fixture(scope="module", params=["sharded", "cluster"])
def dataset(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """N keys ``n:<i>`` under one KEY_PREFIX, spread over every primary; written once per
    topology and read by both drivers (they share the wire format)."""
    topology, prefix = str(request.param), f"api-big-{uuid.uuid4().hex[:8]}"
    cache = BACKENDS["redis"](labs.location(topology), {"KEY_PREFIX": prefix})
    chunk = 10_000
    for start in range(0, N, chunk):
        cache.set_many({f"n:{i}": 1 for i in range(start, start + chunk)}, timeout=600)
    yield topology, prefix
    assert cache.delete_pattern("n:*") == N


@pytest.fixture
def big(dataset: tuple[str, str], driver: str) -> Any:
    topology, prefix = dataset
    cache = BACKENDS[driver](labs.location(topology), {"KEY_PREFIX": prefix})
    cache.topology_name = topology
    return cache


def scan_calls(nodes: list[Any]) -> int:
    total = 0
    for node in nodes:
        entry = node.execute("INFO", "commandstats").get("cmdstat_scan")
        total += int(entry["calls"]) if entry else 0
    return total


def peak_while(consume: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = consume()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_iter_keys_exactly_once_bounded(big: Any) -> None:
    nodes = data_nodes(big.topology_name)
    assert len(nodes) == 3

    # Lazy: nothing is sent until iterated, then the first key costs one SCAN round (one
    # page per node), not the whole scan.
    before = scan_calls(nodes)
    it = big.iter_keys("n:*", itersize=ITERSIZE)
    assert inspect.isgenerator(it)
    assert scan_calls(nodes) == before
    seen = {next(it)}
    assert 1 <= scan_calls(nodes) - before <= len(nodes)
    # Exactly once: no duplicate, nothing missing.
    for key in it:
        assert key not in seen, f"{key} returned twice"
        seen.add(key)
    assert seen == {f"n:{i}" for i in range(N)}
    assert scan_calls(nodes) - before >= N // (ITERSIZE * 3)  # many pages, one at a time
    del seen

    # Bounded memory: iterating peaks far below holding the full list of keys.
    count, iter_peak = peak_while(
        lambda: sum(1 for _ in big.iter_keys("n:*", itersize=ITERSIZE)))
    assert count == N
    full, full_peak = peak_while(lambda: big.keys("n:*"))
    assert len(full) == N
    assert iter_peak * 10 < full_peak, (iter_peak, full_peak)


def test_aiter_keys_exactly_once_bounded(big: Any, loop: asyncio.AbstractEventLoop) -> None:
    nodes = data_nodes(big.topology_name)

    async def lazily_exactly_once() -> tuple[int, int, set[str]]:
        before = scan_calls(nodes)
        keys: AsyncIterator[str] = big.aiter_keys("n:*", itersize=ITERSIZE)
        is_async_generator = inspect.isasyncgen(keys)  # (kept apart: no type narrowing)
        assert is_async_generator
        assert scan_calls(nodes) == before
        seen = {await anext(keys)}
        after_first = scan_calls(nodes) - before
        async for key in keys:
            assert key not in seen, f"{key} returned twice"
            seen.add(key)
        return after_first, scan_calls(nodes) - before, seen

    after_first, after_all, seen = loop.run_until_complete(lazily_exactly_once())
    assert 1 <= after_first <= len(nodes)
    assert after_all >= N // (ITERSIZE * 3)
    assert seen == {f"n:{i}" for i in range(N)}
    del seen

    async def count() -> int:
        n = 0
        async for _ in big.aiter_keys("n:*", itersize=ITERSIZE):
            n += 1
        return n

    total, iter_peak = peak_while(lambda: loop.run_until_complete(count()))
    assert total == N
    full, full_peak = peak_while(lambda: loop.run_until_complete(big.akeys("n:*")))
    assert len(full) == N
    assert iter_peak * 10 < full_peak, (iter_peak, full_peak)
