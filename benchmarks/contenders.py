"""Who is measured: cachex, its peers and the raw driver floor, behind one small interface.

Every contender offers the same operations (``Ops`` / ``AsyncOps``; ``None`` where it has no
such operation) so a workload drives them all with the same loop, keys and values. Django
backends are built from ``settings.CACHES`` via ``django.core.cache.caches[alias]``, as users
build them; raw drivers are plain clients plus pickle, the least any cache must do.

Each contender writes under its own 3-character key prefix (``b03:1:key:000042``), so their
data never mixes and every server-side key has the same length.
"""

from __future__ import annotations

import pickle
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.labs import SERVICE, Labs

TIMEOUT_S = 300  # Django's default; every contender writes with this expiry
TTL_MS = TIMEOUT_S * 1000
PROTOCOL = pickle.HIGHEST_PROTOCOL

SyncOp = Callable[..., Any]
AsyncOp = Callable[..., Awaitable[Any]]


@dataclass
class Ops:
    get: SyncOp | None = None
    set: SyncOp | None = None
    get_many: SyncOp | None = None
    set_many: SyncOp | None = None
    delete_many: SyncOp | None = None
    incr: SyncOp | None = None


@dataclass
class AsyncOps:
    aget: AsyncOp | None = None
    aset: AsyncOp | None = None
    aget_many: AsyncOp | None = None
    aset_many: AsyncOp | None = None
    aset_for_seed: AsyncOp | None = None
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)


@dataclass
class Contender:
    """One thing measured. ``build``/``abuild`` make its operations (``abuild`` inside the
    event loop the async workloads run on); either may be ``None``."""

    name: str
    role: str  # "raw" (driver floor), "cachex" or "peer"
    group: str
    prefix: str
    what: str  # human description: backend class / client and options
    baseline: bool = False  # the raw floor this group's ratios are taken against
    cache: dict[str, Any] | None = None  # the CACHES entry for Django-backed contenders
    build: Callable[[], Ops] | None = None
    abuild: Callable[[], AsyncOps | None] | None = None
    reason: str | None = None  # why it is not available, when it is not
    ops: Ops | None = None
    aops: AsyncOps | None = None

    @property
    def alias(self) -> str:
        return f"{self.group}:{self.name}"

    @property
    def available(self) -> bool:
        return self.reason is None

    def key(self, user_key: str) -> str:
        """The key this contender is handed: Django backends make their own; raw clients get
        the finished key (what Django's ``make_key`` would produce) for free."""
        if self.cache is not None:
            return user_key
        return f"{self.prefix}:1:{user_key}"


# ---------------------------------------------------------------------------------- raw floor
def raw_ops(client: Any, *, cluster: bool = False) -> Ops:
    """redis-py/valkey-py plus pickle, written the way Django's wire format needs (ints raw)."""
    dumps, loads = pickle.dumps, pickle.loads
    get_raw, set_raw = client.get, client.set
    mget = client.mget_nonatomic if cluster else client.mget

    def get(key: str) -> Any:
        raw = get_raw(key)
        return None if raw is None else loads(raw)

    def set_value(key: str, value: Any) -> None:
        set_raw(key, value if type(value) is int else dumps(value, PROTOCOL), px=TTL_MS)

    def get_many(keys: Sequence[str]) -> dict[str, Any]:
        return {k: loads(v) for k, v in zip(keys, mget(keys), strict=False) if v is not None}

    def set_many(data: Mapping[str, Any]) -> None:
        pipe = client.pipeline() if cluster else client.pipeline(transaction=False)
        for key, value in data.items():
            pipe.set(key, value if type(value) is int else dumps(value, PROTOCOL), px=TTL_MS)
        pipe.execute()

    def delete_many(keys: Sequence[str]) -> None:
        client.delete(*keys)

    return Ops(get=get, set=set_value, get_many=get_many, set_many=set_many,
               delete_many=delete_many, incr=client.incr)


def raw_async_ops(client: Any, *, cluster: bool = False) -> AsyncOps:
    """The asyncio twin of :func:`raw_ops`."""
    dumps, loads = pickle.dumps, pickle.loads
    get_, set_raw = client.get, client.set
    mget = client.mget_nonatomic if cluster else client.mget

    async def aget(key: str) -> Any:
        raw = await get_(key)
        return None if raw is None else loads(raw)

    async def aset(key: str, value: Any) -> None:
        await set_raw(key, value if type(value) is int else dumps(value, PROTOCOL), px=TTL_MS)

    async def aget_many(keys: Sequence[str]) -> dict[str, Any]:
        return {k: loads(v) for k, v in zip(keys, await mget(keys), strict=False) if v is not None}

    async def aset_many(data: Mapping[str, Any]) -> None:
        pipe = client.pipeline() if cluster else client.pipeline(transaction=False)
        for key, value in data.items():
            pipe.set(key, value if type(value) is int else dumps(value, PROTOCOL), px=TTL_MS)
        await pipe.execute()

    async def close() -> None:
        closer = getattr(client, "aclose", None) or client.close
        await closer()

    return AsyncOps(aget=aget, aset=aset, aget_many=aget_many, aset_many=aset_many,
                    aset_for_seed=aset_many, closers=[close])


# ---------------------------------------------------------------------------------- Django
def django_ops(cache: Any) -> Ops:
    return Ops(get=cache.get, set=cache.set, get_many=cache.get_many, set_many=cache.set_many,
               delete_many=cache.delete_many, incr=cache.incr)


def django_async_ops(cache: Any) -> AsyncOps | None:
    """The backend's async API as is (some peers have none: then the contender is sync-only)."""
    aget, aset = getattr(cache, "aget", None), getattr(cache, "aset", None)
    aget_many, aset_many = getattr(cache, "aget_many", None), getattr(cache, "aset_many", None)
    if not (aget or aset or aget_many or aset_many):
        return None
    return AsyncOps(aget=aget, aset=aset, aget_many=aget_many, aset_many=aset_many,
                    aset_for_seed=aset_many)


def _django_builders(contender: Contender, *, sync: bool = True) -> None:
    def cache() -> Any:
        from django.core.cache import caches

        return caches[contender.alias]

    contender.build = (lambda: django_ops(cache())) if sync else None
    contender.abuild = lambda: django_async_ops(cache())


# ---------------------------------------------------------------------------------- the line-up
CACHEX = {"redis": "cachex.backends.redis.RedisCache",
          "valkey": "cachex.backends.valkey.ValkeyCache"}
DJANGO = "django.core.cache.backends.redis.RedisCache"
DJANGO_REDIS = "django_redis.cache.RedisCache"
DJANGO_VALKEY = "django_valkey.cache.ValkeyCache"
DJANGO_VALKEY_ASYNC = "django_valkey.async_cache.cache.AsyncValkeyCache"
DJANGO_VALKEY_CLUSTER = "django_valkey.cluster_cache.cache.ClusterValkeyCache"


class _Prefixes:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"b{self.n:02d}"


def line_up(labs: Labs, groups: Sequence[str]) -> list[Contender]:
    """Every contender of every group whose lab runs, in display order."""
    prefixes = _Prefixes()
    out: list[Contender] = []
    for group in groups:
        lab = labs.of(group)
        if lab is None:
            continue
        out += {"single": _single, "shards": _shards, "cluster": _cluster,
                "sentinel": _sentinel}[group](labs, prefixes)
    return out


def _django(group: str, name: str, role: str, prefixes: _Prefixes, backend: str,
            location: Any, options: dict[str, Any] | None = None, *, sync: bool = True,
            what: str = "") -> Contender:
    prefix = prefixes.next()
    entry: dict[str, Any] = {"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": prefix,
                             "TIMEOUT": TIMEOUT_S}
    if options:
        entry["OPTIONS"] = options
    c = Contender(name=name, role=role, group=group, prefix=prefix, cache=entry,
                  what=what or backend + (f" {options}" if options else ""))
    _django_builders(c, sync=sync)
    return c


def _raw_single(group: str, name: str, prefixes: _Prefixes, url: str, driver: str,
                baseline: bool, what: str) -> Contender:
    def build() -> Ops:
        mod = __import__(driver)
        client_cls = mod.Redis if driver == "redis" else mod.Valkey
        return raw_ops(client_cls.from_url(url))

    def abuild() -> AsyncOps:
        aio = __import__(f"{driver}.asyncio", fromlist=["x"])
        client_cls = aio.Redis if driver == "redis" else aio.Valkey
        return raw_async_ops(client_cls.from_url(url))

    return Contender(name=name, role="raw", group=group, prefix=prefixes.next(), what=what,
                     baseline=baseline, build=build, abuild=abuild)


# Like for like: every peer and the raw drivers read without a socket timeout by default
# (redis-py, Django's RedisCache, django-redis), so cachex is measured the same way. Its own
# default read timeout (2 s) is measured beside it as "cachex[redis] 2s-timeout".
LIKE_FOR_LIKE = {"pool": {"socket_timeout": None}}


def _cachex_pair(group: str, prefixes: _Prefixes, location: Any,
                 options: dict[str, Any] | None = None) -> list[Contender]:
    merged = {**LIKE_FOR_LIKE, **(options or {})}
    return [_django(group, f"cachex[{drv}]", "cachex", prefixes, CACHEX[drv], location,
                    merged) for drv in ("redis", "valkey")]


def _single(labs: Labs, prefixes: _Prefixes) -> list[Contender]:
    assert labs.single is not None
    url = labs.single.url
    g = "single"
    return [
        _raw_single(g, "redis-py", prefixes, url, "redis", True,
                    "redis.Redis / redis.asyncio.Redis + pickle (hiredis parser if installed)"),
        _raw_single(g, "valkey-py", prefixes, url, "valkey", False,
                    "valkey.Valkey / valkey.asyncio.Valkey + pickle"),
        *_cachex_pair(g, prefixes, url),
        _django(g, "cachex[redis] 2s-timeout", "cachex", prefixes, CACHEX["redis"], url,
                what="cachex RedisCache with its default OPTIONS (2 s socket read timeout)"),
        *_metrics_contenders(g, prefixes, url),
        _django(g, "django", "peer", prefixes, DJANGO, url,
                what="Django's built-in RedisCache (async = sync_to_async)"),
        _django(g, "django-redis", "peer", prefixes, DJANGO_REDIS, url,
                what="django-redis DefaultClient (async = Django's sync_to_async fallback)"),
        _django(g, "django-valkey", "peer", prefixes, DJANGO_VALKEY, url,
                what="django-valkey ValkeyCache, default client (async = sync_to_async)"),
        # valkey:// rather than redis://: django-valkey caches pools by URL across its sync
        # and async factories, so the same URL would hand the async backend a sync pool.
        _django(g, "django-valkey-async", "peer", prefixes, DJANGO_VALKEY_ASYNC,
                url.replace("redis://", "valkey://", 1), sync=False,
                what="django-valkey AsyncValkeyCache (native async, async only)"),
    ]


def _metrics_contenders(group: str, prefixes: _Prefixes, url: str) -> list[Contender]:
    """cachex[redis] with each metrics integration on (OPTIONS['metrics']), beside the same
    alias with metrics off: the cost of instrumentation. Left out when the library is not
    installed (pip install -e '.[prometheus,otel]')."""
    out: list[Contender] = []
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:
        pass
    else:
        out.append(_django(group, "cachex[redis] +prometheus", "cachex", prefixes,
                           CACHEX["redis"], url,
                           {**LIKE_FOR_LIKE,
                            "metrics": {"prometheus": {"registry": CollectorRegistry()}}},
                           what="cachex RedisCache with OPTIONS['metrics'] = "
                                "{'prometheus': ...} (a private registry)"))
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        pass
    else:
        otel = {"meter_provider": MeterProvider(metric_readers=[InMemoryMetricReader()]),
                "tracer_provider": TracerProvider()}
        out.append(_django(group, "cachex[redis] +otel", "cachex", prefixes, CACHEX["redis"],
                           url, {**LIKE_FOR_LIKE, "metrics": {"otel": otel}},
                           what="cachex RedisCache with OPTIONS['metrics'] = {'otel': ...} "
                                "(SDK meter provider, in-memory reader; SDK tracer provider, "
                                "spans sampled, no exporter)"))
    return out


def _shards(labs: Labs, prefixes: _Prefixes) -> list[Contender]:
    assert labs.shards is not None
    urls = [n.url for n in labs.shards]
    g = "shards"
    return [
        _raw_single(g, "redis-py 1 node", prefixes, urls[0], "redis", True,
                    "redis.Redis on ONE of the 4 servers: the single-node MGET floor"),
        *_cachex_pair(g, prefixes, urls),
        _django(g, "django-redis shard", "peer", prefixes, DJANGO_REDIS, urls,
                {"CLIENT_CLASS": "django_redis.client.ShardClient"},
                what="django-redis ShardClient over the same 4 servers"),
    ]


def _cluster(labs: Labs, prefixes: _Prefixes) -> list[Contender]:
    assert labs.cluster is not None
    lab = labs.cluster
    seeds = [(n.host, n.port) for n in lab.nodes]
    g = "cluster"

    def build() -> Ops:
        from redis.cluster import ClusterNode, RedisCluster

        return raw_ops(RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in seeds]),
                       cluster=True)

    def abuild() -> AsyncOps:
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        return raw_async_ops(RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in seeds]),
                             cluster=True)

    raw = Contender(name="RedisCluster", role="raw", group=g, prefix=prefixes.next(),
                    baseline=True, build=build, abuild=abuild,
                    what="redis.cluster.RedisCluster (mget_nonatomic) / "
                         "redis.asyncio.cluster.RedisCluster (mget_nonatomic) + pickle")
    first = lab.nodes[0]
    return [
        raw,
        *_cachex_pair(g, prefixes, lab.url),
        _django(g, "django-valkey cluster", "peer", prefixes, DJANGO_VALKEY_CLUSTER,
                f"valkey://{first.host}:{first.port}", sync=True,
                what="django-valkey ClusterValkeyCache (async = sync_to_async)"),
    ]


def _sentinel(labs: Labs, prefixes: _Prefixes) -> list[Contender]:
    assert labs.sentinel is not None
    lab = labs.sentinel
    addresses = lab.sentinel_addresses
    g = "sentinel"

    def build() -> Ops:
        from redis.sentinel import Sentinel

        return raw_ops(Sentinel(addresses).master_for(SERVICE))

    def abuild() -> AsyncOps:
        from redis.asyncio.sentinel import Sentinel

        return raw_async_ops(Sentinel(addresses).master_for(SERVICE))

    raw = Contender(name="redis-py sentinel", role="raw", group=g, prefix=prefixes.next(),
                    baseline=True, build=build, abuild=abuild,
                    what="redis.sentinel.Sentinel(...).master_for() (sync and asyncio) + pickle")
    return [
        raw,
        *_cachex_pair(g, prefixes, lab.url),
        _django(g, "django-redis sentinel", "peer", prefixes, DJANGO_REDIS,
                f"redis://{SERVICE}/0",
                {"CLIENT_CLASS": "django_redis.client.SentinelClient",
                 "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                 "SENTINELS": list(addresses)},
                what="django-redis SentinelClient"),
    ]


def caches_setting(contenders: Sequence[Contender]) -> dict[str, dict[str, Any]]:
    """``settings.CACHES`` for every Django-backed contender (plus the required default)."""
    out: dict[str, dict[str, Any]] = {
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    for c in contenders:
        if c.cache is not None:
            out[c.alias] = c.cache
    return out


def build_sync(contenders: Sequence[Contender]) -> None:
    """Build each contender's sync operations; one that cannot be built is marked unavailable
    with the reason (e.g. a topology cachex does not have yet)."""
    for c in contenders:
        if c.build is None or c.reason is not None:
            continue
        try:
            c.ops = c.build()
        except Exception as exc:
            c.reason = _why(exc)


def build_async(contenders: Sequence[Contender]) -> None:
    """Build the async operations; call from inside the event loop that will run them."""
    for c in contenders:
        if c.abuild is None or c.reason is not None:
            continue
        try:
            c.aops = c.abuild()
        except Exception as exc:
            c.reason = _why(exc)


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"not available ({type(exc).__name__}: {text})"
