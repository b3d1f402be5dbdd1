"""The I/O layer's one source: the same steps give the same results and errors whether
``perform`` (sync) or ``aperform`` (async) runs them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cachex.steps import Each, Io, Retry, Steps, aperform, perform


class Boom(Exception):
    pass


class _Store:
    """Records every I/O call, sync or async, so the two runs can be compared."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def get(self, key: str) -> Any:
        self.calls.append(("get", key))
        if key == "bad":
            raise Boom(key)
        return key.upper()

    async def aget(self, key: str) -> Any:
        await asyncio.sleep(0)
        return self.get(key)


class _Policy:
    """A retry policy that retries once (``RetryPolicy``'s interface)."""

    def recover(self, err: BaseException, again: Any, *, idempotent: bool, where: str) -> Any:
        return again()

    async def arecover(self, err: BaseException, again: Any, *, idempotent: bool,
                       where: str) -> Any:
        return await again()


def _one(store: _Store, key: str) -> Steps[Any]:
    try:
        return (yield Io(store.get, store.aget, key))
    except Boom:  # an error is thrown back where the I/O was
        return (yield Retry(_Policy(), Boom(key), lambda: _one(store, "retried"), True, key))


def _flow(store: _Store) -> Steps[list[Any]]:
    first = yield from _one(store, "a")
    both = yield Each([_one(store, "b"), _one(store, "bad")])
    return [first, *both]


def _failing(store: _Store) -> Steps[Any]:
    yield Io(store.get, store.aget, "x")
    yield Each([_raises(store), _one(store, "y")])


def _raises(store: _Store) -> Steps[Any]:
    yield Io(store.get, store.aget, "bad")


def test_sync_and_async_run_the_same_steps() -> None:
    sync, asynchronous = _Store(), _Store()
    assert perform(_flow(sync)) == ["A", "B", "RETRIED"]
    assert asyncio.run(aperform(_flow(asynchronous))) == ["A", "B", "RETRIED"]
    assert sync.calls == asynchronous.calls


def test_an_error_not_handled_by_the_steps_leaves_both_loops() -> None:
    sync, asynchronous = _Store(), _Store()
    with pytest.raises(Boom):
        perform(_failing(sync))
    with pytest.raises(Boom):
        asyncio.run(aperform(_failing(asynchronous)))
    # sync runs Each in turn and stops at the error; async runs all to the end first
    assert sync.calls == [("get", "x"), ("get", "bad")]
    assert sorted(asynchronous.calls) == [("get", "bad"), ("get", "x"), ("get", "y")]
