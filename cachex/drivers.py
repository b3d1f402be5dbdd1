"""Driver records: the few classes cachex needs from redis-py or valkey-py.

A backend binds one record; everything else in cachex talks to the record, never to a
driver module by name, so the two drivers share every line of routing and topology code.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Driver:
    """Classes and exception types of one driver (redis-py or valkey-py)."""

    name: str
    client: Any
    pool: Any
    connection: Any
    ssl_connection: Any
    unix_connection: Any
    async_client: Any
    async_pool: Any
    async_connection: Any
    async_ssl_connection: Any
    async_unix_connection: Any
    cluster: Any
    async_cluster: Any
    cluster_node: Any
    async_cluster_node: Any
    sentinel: Any
    async_sentinel: Any
    retry: Any
    async_retry: Any
    no_backoff: Any
    # exception types
    base_error: type[Exception]
    connection_error: type[Exception]
    timeout_error: type[Exception]
    response_error: type[Exception]
    readonly_error: type[Exception]
    cluster_down_error: type[Exception]
    try_again_error: type[Exception]
    moved_error: type[Exception]
    ask_error: type[Exception]
    pool_needs_command_name: bool
    async_pool_needs_command_name: bool
    parse_error: Any  # error reply text -> the driver's exception (MovedError, ...)

    def no_retry(self) -> Any:
        """A driver ``Retry`` that never retries: cachex owns retries (no multiplying)."""
        return self.retry(self.no_backoff(), 0)

    def async_no_retry(self) -> Any:
        return self.async_retry(self.no_backoff(), 0)

    def checkout(self, pool: Any) -> Any:
        """A connection from a sync pool (redis-py >= 5.3 deprecates the command-name
        argument that older redis-py and valkey-py still require)."""
        if self.pool_needs_command_name:
            return pool.get_connection("_")
        return pool.get_connection()

    async def acheckout(self, pool: Any) -> Any:
        """A connection from an asyncio pool (same signature difference as ``checkout``)."""
        if self.async_pool_needs_command_name:
            return await pool.get_connection("_")
        return await pool.get_connection()


def _load(pkg: str, client: str, cluster: str) -> Driver:
    from .topology import seam  # here: topology imports this module

    mod = importlib.import_module(pkg)
    aio = importlib.import_module(f"{pkg}.asyncio")
    aio_conn = importlib.import_module(f"{pkg}.asyncio.connection")
    aio_cluster = importlib.import_module(f"{pkg}.asyncio.cluster")
    sync_cluster = importlib.import_module(f"{pkg}.cluster")
    sentinel = importlib.import_module(f"{pkg}.sentinel")
    aio_sentinel = importlib.import_module(f"{pkg}.asyncio.sentinel")
    retry = importlib.import_module(f"{pkg}.retry")
    aio_retry = importlib.import_module(f"{pkg}.asyncio.retry")
    backoff = importlib.import_module(f"{pkg}.backoff")
    exc = importlib.import_module(f"{pkg}.exceptions")
    return Driver(
        name=pkg,
        client=getattr(mod, client),
        pool=mod.ConnectionPool,
        connection=mod.Connection,
        ssl_connection=mod.SSLConnection,
        unix_connection=mod.UnixDomainSocketConnection,
        async_client=getattr(aio, client),
        async_pool=aio.ConnectionPool,
        async_connection=aio_conn.Connection,
        async_ssl_connection=aio_conn.SSLConnection,
        async_unix_connection=aio_conn.UnixDomainSocketConnection,
        cluster=getattr(sync_cluster, cluster),
        async_cluster=getattr(aio_cluster, cluster),
        cluster_node=sync_cluster.ClusterNode,
        async_cluster_node=aio_cluster.ClusterNode,
        sentinel=sentinel.Sentinel,
        async_sentinel=aio_sentinel.Sentinel,
        retry=retry.Retry,
        async_retry=aio_retry.Retry,
        no_backoff=backoff.NoBackoff,
        base_error=getattr(exc, f"{client}Error"),
        connection_error=exc.ConnectionError,
        timeout_error=exc.TimeoutError,
        response_error=exc.ResponseError,
        readonly_error=exc.ReadOnlyError,
        cluster_down_error=exc.ClusterDownError,
        try_again_error=exc.TryAgainError,
        moved_error=exc.MovedError,
        ask_error=exc.AskError,
        pool_needs_command_name=_needs_command_name(mod.ConnectionPool.get_connection),
        async_pool_needs_command_name=_needs_command_name(aio.ConnectionPool.get_connection),
        # Where cachex parses replies itself (the fast path): the driver's mapping of error
        # replies to its exception classes; without it (see topology/seam.py) the fast path
        # is off and this plain ResponseError is never used.
        parse_error=seam.error_parser(pkg) or exc.ResponseError,
    )


def _needs_command_name(method: Any) -> bool:
    param = inspect.signature(method).parameters.get("command_name")
    return param is not None and param.default is inspect.Parameter.empty


@cache
def redis_driver() -> Driver:
    """redis-py (``redis`` on PyPI)."""
    return _load("redis", "Redis", "RedisCluster")


@cache
def valkey_driver() -> Driver:
    """valkey-py (``valkey`` on PyPI)."""
    return _load("valkey", "Valkey", "ValkeyCluster")
