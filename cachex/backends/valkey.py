"""``cachex.backends.valkey.ValkeyCache``: cachex on valkey-py."""

from __future__ import annotations

from ..drivers import valkey_driver
from .base import CachexCache


class ValkeyCache(CachexCache):
    """Django cache backend for Valkey (and Redis) through valkey-py."""

    driver_factory = staticmethod(valkey_driver)
