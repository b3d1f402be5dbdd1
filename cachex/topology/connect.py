"""Connection keyword arguments and pools for one endpoint. Opens nothing: pools connect
lazily, on their first checkout."""

from __future__ import annotations

import asyncio
import queue
import sys
from functools import cache
from typing import Any

from ..config import Endpoint, PoolOptions
from ..drivers import Driver
from ..exceptions import PoolExhausted

UNBOUNDED = 2**31


def connection_kwargs(driver: Driver, endpoint: Endpoint, pool: PoolOptions, *,
                      asynchronous: bool) -> dict[str, Any]:
    """Arguments for the driver's ConnectionPool; the driver's own retries are switched off."""
    kw: dict[str, Any] = {
        "db": endpoint.db,
        "username": endpoint.username,
        "password": endpoint.password,
        "socket_timeout": pool.socket_timeout,
        "socket_connect_timeout": pool.socket_connect_timeout,
        "retry_on_timeout": False,
        "retry": driver.async_no_retry() if asynchronous else driver.no_retry(),
        "health_check_interval": pool.health_check_interval,
        "client_name": pool.client_name,
    }
    if endpoint.path is not None:
        kw["path"] = endpoint.path
        kw["connection_class"] = (driver.async_unix_connection if asynchronous
                                  else driver.unix_connection)
    else:
        kw["host"] = endpoint.host
        kw["port"] = endpoint.port
        kw["socket_keepalive"] = pool.socket_keepalive
        if endpoint.tls:
            kw["connection_class"] = (driver.async_ssl_connection if asynchronous
                                      else driver.ssl_connection)
            kw.update(dict(pool.ssl))
        else:
            kw["connection_class"] = (driver.async_connection if asynchronous
                                      else driver.connection)
    # redis-py 8 (8.1 here) caps an unconfigured pool at 100 connections and then fails
    # the 101st concurrent command with "Too many connections"; valkey-py does not cap.
    kw["max_connections"] = pool.max_connections or UNBOUNDED
    return kw


def pool_wait(pool: PoolOptions) -> float:
    """Seconds a caller waits for a free connection of a bounded pool: ``pool_timeout``,
    else the socket timeout (a wait longer than one command may take is rarely wanted)."""
    if pool.pool_timeout is not None:
        return pool.pool_timeout
    return pool.socket_timeout or PoolOptions.socket_timeout or 2.0


def make_pool(driver: Driver, endpoint: Endpoint, pool: PoolOptions, *,
              asynchronous: bool) -> Any:
    """The driver pool for one endpoint: the driver's plain pool, or, with
    ``max_connections`` set, a blocking pool whose callers wait up to ``pool_wait`` for a
    free connection and then get ``PoolExhausted`` (naming the node, the size and the wait)."""
    kw = connection_kwargs(driver, endpoint, pool, asynchronous=asynchronous)
    if not pool.max_connections:
        return (driver.async_pool if asynchronous else driver.pool)(**kw)
    cls = _bounded_class(driver, asynchronous)
    return cls(timeout=pool_wait(pool), cachex_label=endpoint.address, **kw)


@cache
def _bounded_class(driver: Driver, asynchronous: bool) -> type:
    """A subclass of the driver's ``BlockingConnectionPool`` (found beside its plain pool)
    that turns "no connection available" into ``PoolExhausted``."""
    plain = driver.async_pool if asynchronous else driver.pool
    base = sys.modules[plain.__module__].BlockingConnectionPool
    connection_error = driver.connection_error

    def exhausted(pool: Any, exc: BaseException) -> BaseException:
        # The drivers raise a bare ConnectionError from the wait's own timeout (queue.Empty
        # sync, asyncio.TimeoutError async); connect failures are other classes or causes.
        cause = exc.__cause__ or exc.__context__
        if type(exc) is not connection_error or not isinstance(
                cause, (queue.Empty, asyncio.TimeoutError, TimeoutError)):
            return exc
        size, wait = pool.max_connections, pool.timeout
        return PoolExhausted(
            f"{pool.cachex_label}: all {size} connections of this process's pool stayed busy "
            f"for {wait:g}s (OPTIONS['pool']['max_connections'] = {size}, pool_timeout = "
            f"{wait:g}); raise either, or lower the load", node=pool.cachex_label,
            size=size, waited=wait)

    if asynchronous:
        class AsyncBoundedPool(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, cachex_label: str = "?", **kw: Any) -> None:
                super().__init__(*args, **kw)
                self.cachex_label = cachex_label

            async def get_connection(self, *args: Any, **kw: Any) -> Any:
                try:
                    return await super().get_connection(*args, **kw)
                except connection_error as exc:
                    err = exhausted(self, exc)
                    if err is exc:
                        raise
                    raise err from exc

        return AsyncBoundedPool

    class BoundedPool(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, cachex_label: str = "?", **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.cachex_label = cachex_label

        def get_connection(self, *args: Any, **kw: Any) -> Any:
            try:
                return super().get_connection(*args, **kw)
            except connection_error as exc:
                err = exhausted(self, exc)
                if err is exc:
                    raise
                raise err from exc

    return BoundedPool
