"""cachex: a Django cache backend for Redis and Valkey that routes every operation by topology."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_redis_connection(alias: str = "default", write: bool = True, key: Any = None) -> Any:
    """The driver client of cache ``alias``, like ``django_redis.get_redis_connection``
    (``write=True``: the primary; ``key``: the node holding that Django-level key, as in
    ``django_valkey.get_valkey_connection``; shards need it). See docs/migration/index.md
    for what a raw client is on each topology."""
    from .backends.raw import get_redis_connection as connection

    return connection(alias, write, key)


get_valkey_connection = get_redis_connection  # django-valkey's name

__all__ = ["__version__", "get_redis_connection", "get_valkey_connection"]
