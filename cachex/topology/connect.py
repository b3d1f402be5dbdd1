"""Connection keyword arguments and pools for one endpoint. Opens nothing: pools connect
lazily, on their first checkout."""

from __future__ import annotations

import asyncio
import collections
import inspect
import queue
import sys
import weakref
from functools import cache
from typing import Any

from ..config import Endpoint, PoolOptions
from ..drivers import Driver
from ..exceptions import PoolExhausted

UNBOUNDED = 2**31
# New asyncio connections opened at once per event loop; more wait their turn first.
CONNECTING = 50


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
    if asynchronous:
        kw["connection_class"] = gated_connection(kw["connection_class"])
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


def pool_exhausted(label: str, size: int, wait: float) -> PoolExhausted:
    """The error for a bounded pool whose ``size`` connections stayed busy for ``wait``."""
    return PoolExhausted(
        f"{label}: all {size} connections of this process's pool stayed busy "
        f"for {wait:g}s (OPTIONS['pool']['max_connections'] = {size}, pool_timeout = "
        f"{wait:g}); raise either, or lower the load", node=label, size=size, waited=wait)


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


def bounded_sentinel_pool(driver: Driver, *, asynchronous: bool) -> type:
    """The pool class for Sentinel-managed clients with ``max_connections`` set: the
    driver's ``SentinelConnectionPool`` (which asks the sentinels where the primary is)
    over its ``BlockingConnectionPool`` (which makes callers wait), raising
    ``PoolExhausted`` like ``make_pool``'s. Built with ``timeout=pool_wait(...)`` and
    ``cachex_label``."""
    return _bounded_class(driver, asynchronous, sentinel=True)


class _Gate:
    """A counting gate (an ``asyncio.Semaphore`` binds one loop; this needs none)."""

    __slots__ = ("free", "waiters")

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def wait(self) -> None:
        """Until a slot is handed over by ``release``."""
        future = asyncio.get_running_loop().create_future()
        self.waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # handed a slot, then cancelled
                self.release()
            raise

    def release(self) -> None:
        while self.waiters:
            future = self.waiters.popleft()
            if not future.done():
                future.set_result(None)  # the slot passes to the next waiter
                return
        self.free += 1


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gate] = (
    weakref.WeakKeyDictionary())


@cache
def gated_connection(cls: type) -> type:
    """``cls`` (a driver's asyncio connection class) opening at most ``CONNECTING`` new
    connections at once per event loop.

    Why: 1,000 concurrent calls on fresh pools (an ASGI site's burst after start-up, or with
    auto-pipelining off) opened 1,000 connections at once on one loop; each connect's timer
    ran while the loop served the others' handshakes, and hundreds ended in "Timeout
    connecting to server" (``CommandTimeout``). Waiting for a turn runs no timer. Only a
    connect passes the gate: a checkout of an open connection never does.
    """

    class Gated(cls):  # type: ignore[misc, valid-type]
        async def connect(self, *args: Any, **kw: Any) -> Any:
            if self.is_connected:
                return await super().connect(*args, **kw)
            loop = asyncio.get_running_loop()
            gate = _gates.get(loop)
            if gate is None:
                gate = _gates[loop] = _Gate(CONNECTING)
            if gate.free > 0 and not gate.waiters:
                gate.free -= 1
            else:
                await gate.wait()
            try:
                return await super().connect(*args, **kw)
            finally:
                gate.release()

    Gated.__name__ = Gated.__qualname__ = cls.__name__  # the seam's messages name the driver's
    return Gated


class _Labelled:
    """A bounded pool's name for the node in ``PoolExhausted`` (``cachex_label``)."""

    def __init__(self, *args: Any, cachex_label: str = "?", **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.cachex_label = cachex_label


@cache
def _bounded_class(driver: Driver, asynchronous: bool, sentinel: bool = False) -> type:
    """A subclass of the driver's ``BlockingConnectionPool`` (found beside its plain pool)
    that turns "no connection available" into ``PoolExhausted``; with ``sentinel``, of the
    driver's ``SentinelConnectionPool`` first (its address lookup, its blocking checkout)."""
    plain = driver.async_pool if asynchronous else driver.pool
    bases: tuple[Any, ...] = (sys.modules[plain.__module__].BlockingConnectionPool,)
    if sentinel:
        manager = driver.async_sentinel if asynchronous else driver.sentinel
        bases = (sys.modules[manager.__module__].SentinelConnectionPool, *bases)
    connection_error = driver.connection_error

    def exhausted(pool: Any, exc: BaseException) -> BaseException:
        """``exc``, or ``PoolExhausted`` (caused by it) when it says the wait timed out."""
        # The drivers raise a bare ConnectionError from the wait's own timeout (queue.Empty
        # sync, asyncio.TimeoutError async); connect failures are other classes or causes.
        cause = exc.__cause__ or exc.__context__
        if type(exc) is not connection_error or not isinstance(
                cause, (queue.Empty, asyncio.TimeoutError, TimeoutError)):
            return exc
        err = pool_exhausted(pool.cachex_label, pool.max_connections, pool.timeout)
        err.__cause__ = exc
        return err

    # Twins (``get_connection``): subclasses of the driver's sync and async pools, whose
    # checkout the driver calls (and awaits); the decision is shared (``exhausted``).
    if asynchronous:
        class AsyncBoundedPool(_Labelled, *bases):  # type: ignore[misc]
            async def get_connection(self, *args: Any, **kw: Any) -> Any:
                try:
                    return await super().get_connection(*args, **kw)
                except connection_error as exc:
                    raise exhausted(self, exc)  # noqa: B904 - the cause is set

        return AsyncBoundedPool

    # Sentinel's pool drops idle connections when the primary moved with
    # ``disconnect(inuse_connections=False)``; the sync blocking pool of redis-py 5.0 takes no
    # argument and valkey-py's names it ``_``: those drop every connection instead.
    keyword = "inuse_connections" in inspect.signature(bases[-1].disconnect).parameters

    class BoundedPool(_Labelled, *bases):  # type: ignore[misc]
        def disconnect(self, inuse_connections: bool = True) -> None:
            if keyword:
                super().disconnect(inuse_connections=inuse_connections)
            else:
                super().disconnect()

        def get_connection(self, *args: Any, **kw: Any) -> Any:
            try:
                return super().get_connection(*args, **kw)
            except connection_error as exc:
                raise exhausted(self, exc)  # noqa: B904 - the cause is set

    return BoundedPool
