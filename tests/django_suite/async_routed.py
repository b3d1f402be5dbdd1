"""Backends whose every sync method runs the async twin on one long-lived event loop.

Used to run Django's sync test-suite through cachex's native async code. The loop lives in
this (the test) thread, so ORM queries triggered while pickling a model or a QuerySet use the
test's own database connection; Django's guard against ORM use inside a running loop is
lifted for those tests only (DJANGO_ALLOW_ASYNC_UNSAFE, set by the test class).
"""

from __future__ import annotations

import asyncio
from typing import Any

from cachex.backends.redis import RedisCache
from cachex.backends.valkey import ValkeyCache

_loop: asyncio.AbstractEventLoop | None = None

ROUTED = {
    "get": "aget", "set": "aset", "add": "aadd", "touch": "atouch", "delete": "adelete",
    "has_key": "ahas_key", "incr": "aincr", "decr": "adecr", "get_many": "aget_many",
    "set_many": "aset_many", "delete_many": "adelete_many", "clear": "aclear",
    "get_or_set": "aget_or_set", "incr_version": "aincr_version",
    "decr_version": "adecr_version", "close": "aclose",
}


def loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop


def _route(async_name: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return loop().run_until_complete(getattr(self, async_name)(*args, **kwargs))

    method.__name__ = async_name[1:]
    return method


def _routed(cls: type) -> type:
    body = {sync: _route(asy) for sync, asy in ROUTED.items()}
    return type(f"AsyncRouted{cls.__name__}", (cls,), body)


AsyncRoutedRedisCache = _routed(RedisCache)
AsyncRoutedValkeyCache = _routed(ValkeyCache)
