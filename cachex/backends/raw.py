"""Raw access: ``cache._cache`` (alias ``cache.client``), ``cache.get_client()`` and
``cachex.get_redis_connection()``, for code written against Django's RedisCache, django-redis
or django-cachex.

``cache._cache`` has the shape of Django's ``RedisCacheClient``: ``get_client(key=None, *,
write=False)`` hands out the driver's client for the node holding ``key``, and the cache
methods (``get``, ``set``, ``get_many``, ... and the whole extended API, sync and ``a``-prefixed
async) take *stored* keys, already prefixed and versioned, as django-cachex's client does.
That API is not a second implementation: it is the alias's own cache with an identity key
function, so every method the cache gains is there too, through the same router, retry
policy and codec.

What a raw driver client means per topology (see docs/migration/index.md):

- single, sentinel, replicated: the server that serves the role (``write=True``: primary;
  ``write=False``: a replica where reads go to replicas);
- shards: the shard that ``key`` hashes to; ``key=None`` has no answer and raises;
- cluster: ``key`` -> the primary that owns its slot; ``key=None`` -> the driver's cluster
  client, which routes each command itself.

Driver clients are built with the driver's own retries off (cachex retries above them), and
commands sent on them skip cachex's retry/failover policy and ``wait_replicas``.
"""

from __future__ import annotations

import copy
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import CachexCache

# Django-level ideas with no meaning on stored keys: refused rather than silently wrong.
_NOT_RAW = frozenset({
    "make_key", "make_and_validate_key", "validate_key", "key_func", "key_prefix", "version",
    "incr_version", "decr_version", "aincr_version", "adecr_version", "get_client",
    "aget_client", "client",
})


def _stored(key: Any, key_prefix: str, version: Any) -> Any:
    """The identity key function: a stored key is used as it is."""
    return key


def _no_check(key: Any) -> None:
    """Stored keys are not Django keys; Django's RedisCacheClient does not check them."""


class RawClient:
    """``cache._cache``: Django ``RedisCacheClient``-shaped, on stored keys. See the module
    docstring."""

    def __init__(self, cache: CachexCache) -> None:
        self._owner = cache
        view = copy.copy(cache)
        view.__dict__.pop("_cache", None)
        view.key_func = _stored
        view.validate_key = _no_check  # type: ignore[method-assign]
        view._plain_keys = False
        for name in ("reverse_key_func", "_reverse_key", "reverse_key"):  # stored keys out
            if name in view.__dict__:
                view.__dict__[name] = None
        self._view = view

    def __repr__(self) -> str:
        return f"<cachex RawClient of cache {self._owner.alias!r} ({self._owner._topology.name})>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in _NOT_RAW:
            raise AttributeError(
                f"{name!r} is not part of the raw client (stored keys): use it on the cache")
        return getattr(self._view, name)

    def __dir__(self) -> list[str]:
        own = {"get_client", "aget_client", "make_key", "alias"}
        return sorted(own | {n for n in dir(self._view)
                             if not n.startswith("_") and n not in _NOT_RAW})

    def make_key(self, key: Any, version: int | None = None) -> str:
        """The stored key for a Django key (prefix, version and KEY_FUNCTION applied), as
        django-redis's ``cache.client.make_key`` gives it."""
        return str(self._owner.make_key(key, version=version))

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        """The driver's client for the node holding the stored ``key`` (see the module
        docstring for ``key=None``). A bool as first argument is read as django-redis's
        ``get_client(write)``."""
        if isinstance(key, bool):
            key, write = None, key
        topology = self._owner._topology
        if topology.stale:
            topology.refresh()
        if key is None:
            whole = _whole(self._owner, write)
            if whole is not None:
                return whole
        node = topology.plan([str(key) if key is not None else ""], write=write)[0].node
        return topology.node_client(node)

    async def aget_client(self, key: Any = None, *, write: bool = False) -> Any:
        """The asyncio driver client of ``get_client``, bound to the running event loop."""
        if isinstance(key, bool):
            key, write = None, key
        topology = self._owner._topology
        if topology.stale:
            await topology.arefresh()
        if key is None:
            whole = _whole(self._owner, write, asynchronous=True)
            if whole is not None:
                return whole
        node = topology.plan([str(key) if key is not None else ""], write=write)[0].node
        return topology.anode_client(node)


def _whole(cache: CachexCache, write: bool, asynchronous: bool = False) -> Any:
    """A client for "no particular key": the cluster client, an error on shards, else None
    (the topology's one node for that role)."""
    topology: Any = cache._topology
    if topology.name == "cluster":
        return topology.acluster_client() if asynchronous else topology.cluster_client()
    if topology.name == "sharded":
        raise ValueError(
            f"cache {cache.alias!r} is sharded client-side over "
            f"{len(topology.primaries())} servers, so a client without a key has no node: pass "
            "the key (get_client(key) / _cache.get_client(stored_key)), whose shard you get")
    return None


class RawAccess:
    """Mixed into the cache: ``_cache``/``client`` and ``get_client``/``aget_client``."""

    @cached_property
    def _cache(self) -> RawClient:
        """Django RedisCache's attribute: the client object, on stored keys."""
        return RawClient(self)  # type: ignore[arg-type]

    @property
    def client(self) -> RawClient:
        """django-redis's name for the same object (``cache.client.get_client()``)."""
        return self._cache

    def get_client(self, key: Any = None, *, write: bool = False,
                   version: int | None = None) -> Any:
        """The driver's client for the node holding the cache key ``key`` (prefix and
        version applied); ``key=None``: see ``RawClient.get_client``."""
        if isinstance(key, bool):
            key, write = None, key
        made = None if key is None else self.make_and_validate_key(  # type: ignore[attr-defined]
            key, version=version)
        return self._cache.get_client(made, write=write)

    async def aget_client(self, key: Any = None, *, write: bool = False,
                          version: int | None = None) -> Any:
        """Async ``get_client``: the asyncio driver client for the running loop."""
        if isinstance(key, bool):
            key, write = None, key
        made = None if key is None else self.make_and_validate_key(  # type: ignore[attr-defined]
            key, version=version)
        return await self._cache.aget_client(made, write=write)


def get_redis_connection(alias: str = "default", write: bool = True, key: Any = None) -> Any:
    """django-redis's helper: the driver client of cache ``alias`` (``write``: the primary),
    or of the node holding the Django-level ``key`` (needed on shards)."""
    from django.core.cache import caches

    cache = caches[alias]
    getter = getattr(cache, "get_client", None)
    if getter is None:
        raise NotImplementedError(
            f"cache {alias!r} ({type(cache).__name__}) is not a cachex cache and has no "
            "raw client")
    return getter(key, write=write)
