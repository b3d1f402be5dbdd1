"""Connection keyword arguments for one endpoint. Pure: builds dicts, opens nothing."""

from __future__ import annotations

from typing import Any

from ..config import Endpoint, PoolOptions
from ..drivers import Driver

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
