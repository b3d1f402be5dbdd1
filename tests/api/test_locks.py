"""Locks on every topology and both drivers: mutual exclusion between threads and between
asyncio tasks, expiry frees a lock whose holder never releases, only the holder releases."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from cachex.backends.extended import LockError, LockNotOwned
from tests.api.conftest import raw_client

ROUNDS = 15


def test_threads_exclude_each_other(cache: Any) -> None:
    state = {"inside": 0, "overlaps": 0, "counter": 0}
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(ROUNDS):
                with cache.lock("mutex", timeout=30, blocking_timeout=30, sleep=0.001):
                    state["inside"] += 1
                    if state["inside"] > 1:
                        state["overlaps"] += 1
                    seen = state["counter"]
                    time.sleep(0.002)  # a lost update would show without the lock
                    state["counter"] = seen + 1
                    state["inside"] -= 1
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert state["overlaps"] == 0
    assert state["counter"] == 2 * ROUNDS
    assert cache.lock("mutex").locked() is False  # every holder released


def test_tasks_exclude_each_other(cache: Any, loop: asyncio.AbstractEventLoop) -> None:
    state = {"inside": 0, "overlaps": 0, "counter": 0}

    async def worker() -> None:
        for _ in range(ROUNDS):
            async with cache.alock("mutex", timeout=30, blocking_timeout=30, sleep=0.001):
                state["inside"] += 1
                if state["inside"] > 1:
                    state["overlaps"] += 1
                seen = state["counter"]
                await asyncio.sleep(0.002)  # the other task runs here
                state["counter"] = seen + 1
                state["inside"] -= 1

    async def main() -> bool:
        await asyncio.gather(worker(), worker())
        return bool(await cache.alock("mutex").locked())

    still_locked = loop.run_until_complete(main())
    assert state["overlaps"] == 0
    assert state["counter"] == 2 * ROUNDS
    assert still_locked is False  # every holder released


def test_held_lock_blocks_others(cache: Any) -> None:
    first = cache.lock("L")  # no timeout: held until released
    assert first.acquire() is True
    other = cache.lock("L")
    assert other.acquire(blocking=False) is False
    assert other.acquire(blocking_timeout=0.05) is False
    with pytest.raises(LockError, match="could not acquire"), \
            cache.lock("L", blocking_timeout=0.05):
        pass
    assert first.owned() is True and other.owned() is False
    first.release()
    assert other.acquire(blocking=False) is True
    other.release()


def test_expiry_frees_an_abandoned_lock(cache: Any) -> None:
    abandoned = cache.lock("E", timeout=0.3)
    assert abandoned.acquire() is True
    waiter = cache.lock("E", timeout=30, sleep=0.02)
    assert waiter.acquire(blocking=False) is False
    assert waiter.acquire(blocking_timeout=30) is True  # after the holder's lock expired
    assert waiter.owned() is True
    with pytest.raises(LockNotOwned):
        abandoned.release()  # the late release must not free the new holder's lock
    assert waiter.owned() is True
    waiter.release()
    assert waiter.locked() is False


def test_async_expiry_frees_an_abandoned_lock(cache: Any,
                                              loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> None:
        abandoned = cache.alock("E", timeout=0.3)
        assert await abandoned.acquire() is True
        waiter = cache.alock("E", timeout=30, sleep=0.02)
        assert await waiter.acquire(blocking=False) is False
        assert await waiter.acquire(blocking_timeout=30) is True
        with pytest.raises(LockNotOwned):
            await abandoned.release()
        assert await waiter.owned() is True
        await waiter.release()
        assert await waiter.locked() is False

    loop.run_until_complete(main())


def test_lock_is_one_prefixed_key_with_ttl(cache: Any) -> None:
    with cache.lock("L", timeout=60) as held:
        made = cache.make_key("L")
        client = raw_client(cache, made)
        assert client.execute_command("GET", made) == held.token
        assert 0 < client.execute_command("PTTL", made) <= 60_000
    assert client.execute_command("EXISTS", made) == 0


def test_extend(cache: Any) -> None:
    lock = cache.lock("L", timeout=5)
    with pytest.raises(LockError, match="not held"):
        lock.extend(10)
    lock.acquire()
    assert lock.extend(100) is True  # redis-py: adds to the time left
    made = cache.make_key("L")
    assert 100_000 < raw_client(cache, made).execute_command("PTTL", made) <= 105_000
    assert lock.extend(10, replace_ttl=True) is True
    assert 5_000 < raw_client(cache, made).execute_command("PTTL", made) <= 10_000
    assert lock.reacquire() is True  # back to the lock's own timeout
    assert 0 < raw_client(cache, made).execute_command("PTTL", made) <= 5_000
    lock.extend(None)
    assert raw_client(cache, made).execute_command("PTTL", made) == -1
    with pytest.raises(LockError, match="no expiry"):
        lock.extend(5)
    lock.release()
    with pytest.raises(LockError, match="not held"):
        lock.release()


def test_locks_of_different_aliases_do_not_contend(make: Any, topology: str,
                                                   driver: str) -> None:
    a, b = make(topology, driver), make(topology, driver)
    with a.lock("same-name"):
        assert b.lock("same-name").acquire(blocking=False) is True


def test_bad_timeout(cache: Any) -> None:
    with pytest.raises(ValueError, match="positive"):
        cache.lock("L", timeout=0)
