"""``cachex.backends.redis.RedisCache``: cachex on redis-py."""

from __future__ import annotations

from ..drivers import redis_driver
from .base import CachexCache


class RedisCache(CachexCache):
    """Django cache backend for Redis (and Valkey) through redis-py."""

    driver_factory = staticmethod(redis_driver)
