"""Native async on a shared alias: loops, threads, short-lived loops and cancellation."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import pytest

from cachex import testing
from cachex.topology import pools

DRIVERS = ["redis", "valkey"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_two_loops_and_many_threads_share_one_alias(single_server: Any, make_cache: Any,
                                                    driver: str) -> None:
    cache = make_cache(single_server.url, driver, KEY_PREFIX=f"loops-{driver}")
    errors: list[BaseException] = []

    def loop_worker(n: int) -> None:
        async def work() -> None:
            for i in range(200):
                await cache.aset(f"l{n}:{i}", i)
                assert await cache.aget(f"l{n}:{i}") == i
                got = await cache.aget_many([f"l{n}:{i}", "missing"])
                assert got == {f"l{n}:{i}": i}
        try:
            asyncio.run(work())
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    def thread_worker(n: int) -> None:
        try:
            for i in range(200):
                cache.set(f"t{n}:{i}", i)
                assert cache.get(f"t{n}:{i}") == i
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=loop_worker, args=(n,)) for n in range(2)]
    threads += [threading.Thread(target=thread_worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]


@pytest.mark.parametrize("driver", DRIVERS)
def test_one_loop_per_call_leaves_no_pools_behind(single_server: Any, make_cache: Any,
                                                  driver: str) -> None:
    cache = make_cache(single_server.url, driver, KEY_PREFIX=f"short-{driver}")
    cache.set("k", "v")
    admin = single_server.client()
    before = int(admin.info("clients")["connected_clients"])
    loops_before = len(pools._loops)  # other tests may keep a long-lived loop of their own

    async def one() -> Any:
        return await cache.aget("k")

    for _ in range(1000):
        assert asyncio.run(one()) == "v"
    # Measured before any garbage collection or sweeping: each loop's connection was
    # closed, and its registry entry removed, as that loop shut down.
    after = int(admin.info("clients")["connected_clients"])
    assert after - before <= 2, (before, after)
    assert len(pools._loops) == loops_before
    gc.collect()
    assert pools.live_loop_count() == loops_before


@pytest.mark.parametrize("driver", DRIVERS)
def test_loops_closed_without_shutdown_are_swept(single_server: Any, make_cache: Any,
                                                 driver: str) -> None:
    cache = make_cache(single_server.url, driver, KEY_PREFIX=f"sweep-{driver}")
    loops_before = pools.live_loop_count()
    for _ in range(20):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(cache.aset("k", 1))
        loop.close()  # no shutdown_asyncgens: the registry must still forget this loop
    # each new loop's first lookup swept the closed ones before it; only the last remains...
    assert len(pools._loops) == loops_before + 1
    gc.collect()
    assert pools.live_loop_count() == loops_before  # ...until the next lookup sweeps it


@pytest.mark.timeout(60)
@pytest.mark.parametrize("driver", DRIVERS)
def test_cancelled_aget_leaves_connection_usable(make_cache: Any, driver: str) -> None:
    with testing.server() as server:
        cache = make_cache(server.url, driver, OPTIONS={"pool": {"max_connections": 1}})

        async def scenario() -> None:
            await cache.aset("slow", "first")
            await cache.aset("next", "second")
            stalled = testing.debug_sleep(server, 0.5)  # the server stops answering
            task = asyncio.create_task(cache.aget("slow"))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            stalled.join()
            # One connection in the pool: the next read must get its own reply, not the
            # late reply to the cancelled GET.
            assert await cache.aget("next") == "second"
            assert await cache.aget("slow") == "first"

        asyncio.run(scenario())
