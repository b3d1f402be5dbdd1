"""Puts a stampede mode on one backend instance: the Django methods whose behaviour changes.

With ``OPTIONS["stampede"]`` in herd or early mode, ``get``/``set``/``add``/``set_many``/
``touch`` (and their ``a`` twins) become instance attributes running this package's flows;
the class's own methods, the hot path of every alias without the option, are untouched.
Lock mode changes only ``get_or_set``, which the facade routes here itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT

from ..backends.flow import adrive, drive
from . import flows
from .options import StampedeOptions

if TYPE_CHECKING:
    from ..backends.base import CachexCache


def install(cache: CachexCache, opts: StampedeOptions) -> None:
    if opts.mode == "lock":
        return
    router = cache._router

    def get(key: Any, default: Any = None, version: int | None = None) -> Any:
        return drive(router, flows.get(cache, opts, key, default, version))

    async def aget(key: Any, default: Any = None, version: int | None = None) -> Any:
        return await adrive(router, flows.get(cache, opts, key, default, version))

    def set(key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: int | None = None, nx: bool = False, xx: bool = False) -> Any:
        return drive(router, flows.set_(cache, opts, key, value, timeout, version, nx, xx))

    async def aset(key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
                   version: int | None = None, nx: bool = False, xx: bool = False) -> Any:
        return await adrive(router,
                            flows.set_(cache, opts, key, value, timeout, version, nx, xx))

    def add(key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: int | None = None) -> bool:
        return drive(router, flows.add(cache, opts, key, value, timeout, version))

    async def aadd(key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
                   version: int | None = None) -> bool:
        return await adrive(router, flows.add(cache, opts, key, value, timeout, version))

    def set_many(data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT,
                 version: int | None = None) -> list[Any]:
        return drive(router, flows.set_many(cache, opts, data, timeout, version))

    async def aset_many(data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT,
                        version: int | None = None) -> list[Any]:
        return await adrive(router, flows.set_many(cache, opts, data, timeout, version))

    def touch(key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return drive(router, flows.touch(cache, opts, key, timeout, version))

    async def atouch(key: Any, timeout: Any = DEFAULT_TIMEOUT,
                     version: int | None = None) -> bool:
        return await adrive(router, flows.touch(cache, opts, key, timeout, version))

    for fn in (get, aget, set, aset, add, aadd, set_many, aset_many, touch, atouch):
        cache.__dict__[fn.__name__] = fn
