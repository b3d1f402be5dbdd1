"""Contract of the extended API itself: every sync method has a native async twin, and
non-idempotent writes are marked so the retry policy never replays them."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from cachex.backends.extended import ExtendedAPI
from tests.api.conftest import Api


def public_methods() -> list[str]:
    names = set()
    for klass in ExtendedAPI.__mro__:
        if klass is object:
            continue
        names |= {n for n, v in vars(klass).items() if callable(v) and not n.startswith("_")}
    return sorted(names)


def test_every_sync_method_has_an_async_twin() -> None:
    names = set(public_methods())
    sync = sorted(n for n in names if not (n.startswith("a") and n[1:] in names))
    assert len(sync) >= 35
    for name in sync:
        twin = getattr(ExtendedAPI, "a" + name, None)
        assert twin is not None, f"{name} has no async twin"
        if name.endswith("iter_keys") or name.endswith("scan_iter"):
            assert inspect.isasyncgenfunction(twin)
        elif name in ("lock", "get_lock"):
            assert hasattr(twin(_Fake(), "k"), "__aenter__")
        else:
            assert inspect.iscoroutinefunction(twin), name


def test_no_name_shadows_the_django_facade() -> None:
    """ExtendedAPI comes first in CachexCache's bases: it must not hide any of its names."""
    from cachex.backends.base import CachexCache

    facade = {n for klass in CachexCache.__mro__ if not issubclass(ExtendedAPI, klass)
              for n in vars(klass)}
    own = {n for klass in ExtendedAPI.__mro__ if klass is not object for n in vars(klass)}
    assert own & facade - {"__module__", "__doc__", "__dict__", "__weakref__",
                           "__annotations__", "__qualname__", "__firstlineno__",
                           "__static_attributes__"} == set()


class _Fake:
    """Just enough of a cache to build a lock object without I/O."""

    _router = None

    def make_and_validate_key(self, key: Any, version: Any = None) -> str:
        return f":1:{key}"


# method, args, expected idempotent flag of the write it sends
WRITES = [
    ("lpush", ("k", 1), False), ("rpush", ("k", 1), False), ("lpop", ("k",), False),
    ("rpop", ("k",), False), ("zincrby", ("k", 1, "m"), False), ("hincrby", ("k", "f"), False),
    ("hset", ("k", "f", 1), True), ("sadd", ("k", 1), True), ("zadd", ("k", {"m": 1}), True),
    ("hdel", ("k", "f"), True), ("srem", ("k", 1), True), ("zrem", ("k", "m"), True),
    ("expire", ("k", 10), True), ("persist", ("k",), True),
]


@pytest.mark.parametrize(("method", "args", "idempotent"), WRITES,
                         ids=[w[0] for w in WRITES])
def test_idempotency_flags(monkeypatch: pytest.MonkeyPatch, cache: Any, mode: str,
                           loop: asyncio.AbstractEventLoop, method: str,
                           args: tuple[Any, ...], idempotent: bool) -> None:
    seen: list[bool] = []
    router = cache._router
    name = "call" if mode == "sync" else "acall"
    real = getattr(router, name)

    def spy(key: str, *cmd: Any, write: bool = True, idempotent: bool = True,
            **kw: Any) -> Any:
        seen.append(idempotent)
        return real(key, *cmd, write=write, idempotent=idempotent, **kw)

    monkeypatch.setattr(router, name, spy)
    getattr(Api(cache, mode, loop), method)(*args)
    assert seen == [idempotent]


@pytest.mark.parametrize("topology", ["single"])
def test_rename_is_not_replayed(monkeypatch: pytest.MonkeyPatch, cache: Any) -> None:
    seen: list[tuple[Any, bool]] = []
    real = cache._router.call

    def spy(key: str, *cmd: Any, write: bool = True, idempotent: bool = True,
            **kw: Any) -> Any:
        seen.append((cmd[0], idempotent))
        return real(key, *cmd, write=write, idempotent=idempotent, **kw)

    cache.set("{t}a", 1)
    monkeypatch.setattr(cache._router, "call", spy)
    cache.rename("{t}a", "{t}b")
    assert seen == [("RENAME", False)]
