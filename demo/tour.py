"""A short tour of cachex on a lab of real servers it starts itself (`make demo`).

Starts one server, three shards and a 6-node cluster with ``cachex.testing``, configures
Django with a cachex alias on each (and Django's own RedisCache beside the single server),
then shows where keys live, sync and native async calls on one alias, a django-redis alias
with only BACKEND changed, bounded pools and partial failures, stampede protection, the operations
command and metrics during a shard outage (on servers of its own), and a small timing.
Everything is stopped and removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import django
from django.conf import settings


def title(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m")


def timed(fn: Callable[[], Any], repeat: int = 5) -> float:
    """Median seconds of ``fn`` over a few runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    from cachex import testing

    with contextlib.ExitStack() as stack:
        title("Starting a local lab of real servers (cachex.testing)")
        single = stack.enter_context(testing.server())
        shards = stack.enter_context(testing.servers(3))
        cluster = stack.enter_context(testing.cluster())
        print(f"single server  {single.url}")
        print(f"3 shards       {', '.join(s.url for s in shards)}")
        print(f"cluster        {cluster.url}")
        sentinel_set = stack.enter_context(testing.sentinel())
        print(f"sentinel set   {sentinel_set.url}")

        caches: dict[str, Any] = {
            "default": {"BACKEND": "cachex.backends.redis.RedisCache", "LOCATION": single.url},
            "valkey": {"BACKEND": "cachex.backends.valkey.ValkeyCache", "LOCATION": single.url,
                       "KEY_PREFIX": "vk"},
            "shards": {"BACKEND": "cachex.backends.redis.RedisCache",
                       "LOCATION": [s.url for s in shards]},
            "cluster": {"BACKEND": "cachex.backends.redis.RedisCache", "LOCATION": cluster.url},
            "sentinel": {"BACKEND": "cachex.backends.redis.RedisCache",
                         "LOCATION": sentinel_set.url},
            "near": {"BACKEND": "cachex.backends.redis.RedisCache", "LOCATION": single.url,
                     "KEY_PREFIX": "near", "OPTIONS": {"near_cache": {"max_entries": 1000}}},
            "django": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                       "LOCATION": single.url, "KEY_PREFIX": "dj"},
        }
        settings.configure(CACHES=caches, USE_TZ=True)
        django.setup()
        from django.core.cache import caches as django_caches

        tour_basics(django_caches["default"], django_caches["valkey"])
        tour_placement(django_caches["shards"], django_caches["cluster"], shards, cluster)
        tour_async(django_caches["cluster"])
        tour_pipelining(cluster.url)
        tour_sentinel(django_caches["sentinel"], sentinel_set)
        tour_migration(single.url)
        tour_hardening()
        tour_stampede(single.url)
        tour_operations()
        tour_near(django_caches["near"], django_caches["default"], single)
        tour_timing(django_caches["default"], django_caches["django"])
        title("Stopping the lab")
    print("all servers stopped, lab directories removed")
    return 0


def tour_basics(cache: Any, valkey: Any) -> None:
    title("The Django cache API, unchanged")
    cache.set("greeting", {"hello": "world"}, timeout=60)
    print("cache.get('greeting')         ->", cache.get("greeting"))
    print("cache.add('greeting', 'x')    ->", cache.add("greeting", "x"), "(already there)")
    cache.set("visits", 41)
    print("cache.incr('visits')          ->", cache.incr("visits"), "(raw int on the wire)")
    print("cache.get_or_set('lazy', f)   ->", cache.get_or_set("lazy", lambda: "computed"))
    valkey.set("driver", "valkey-py")
    print("valkey alias, same server     ->", valkey.get("driver"), "(ValkeyCache)")


def tour_placement(shards: Any, cluster: Any, servers: list[Any], lab: Any) -> None:
    from cachex.routing import key_slot

    title("Where keys live: 3 client-side shards (ketama ring)")
    keys = [f"user:{i}" for i in range(300)]
    shards.set_many({k: k for k in keys})
    spread = Counter(shards._topology.locate(shards.make_key(k)) for k in keys)
    for node, count in sorted(spread.items()):
        print(f"  {node:<22} {count:>4} keys")
    tagged = [shards._topology.locate(shards.make_key(f"user:{{42}}:{f}")) for f in "abc"]
    print(f"  user:{{42}}:a/b/c (hash tag)   -> all on {set(tagged)}")
    before = [s.client().info("commandstats").get("cmdstat_mget", {}).get("calls", 0)
              for s in servers]
    shards.get_many(keys)
    after = [s.client().info("commandstats").get("cmdstat_mget", {}).get("calls", 0)
             for s in servers]
    print(f"  get_many(300 keys) sent MGETs per node: {[a - b for a, b in zip(after, before)]}")

    title("Where keys live: a Redis Cluster (3 primaries + 3 replicas)")
    for key in ("user:1", "user:{42}:a", "user:{42}:b"):
        made = cluster.make_key(key)
        print(f"  {key:<14} slot {key_slot(made):>5} on {cluster._topology.locate(made)}")
    cluster.set_many({k: k for k in keys})
    print(f"  get_many(300 keys) -> {len(cluster.get_many(keys))} values, one batch per "
          f"node ({len(lab.primaries())} primaries), one MGET per slot")


def tour_async(cache: Any) -> None:
    title("Native async on the same alias (no thread pool)")

    async def run() -> None:
        await cache.aset("async:key", "set from a coroutine")
        print("await cache.aget(...)         ->", await cache.aget("async:key"))
        values = await asyncio.gather(*(cache.aget(f"user:{i}") for i in range(100)))
        print(f"100 concurrent aget()         -> {sum(v is not None for v in values)} hits")
        many = await cache.aget_many([f"user:{i}" for i in range(300)])
        print(f"aget_many(300) over the cluster -> {len(many)} values, nodes in parallel")

    asyncio.run(run())
    print("cache.get('async:key') (sync) ->", cache.get("async:key"))


def tour_pipelining(location: str) -> None:
    """OPTIONS["pipelining"]: concurrent aget/aset on one loop share one batch per node."""
    from cachex.backends.redis import RedisCache
    from cachex.topology.base import Topology

    title("Auto-pipelining: 1,000 concurrent aget() share round-trips")
    flushes: list[int] = []
    original = Topology.aexecute_many

    async def counted(self: Any, batches: Any) -> Any:  # count what goes on the wire
        flushes.append(sum(len(cmds) for _, cmds in batches))
        return await original(self, batches)

    async def run(cache: Any) -> float:
        await cache.aset_many({f"p:{i}": i for i in range(1000)})
        started = time.perf_counter()
        values = await asyncio.gather(*(cache.aget(f"p:{i}") for i in range(1000)))
        assert values == list(range(1000))
        return time.perf_counter() - started

    Topology.aexecute_many = counted  # type: ignore[method-assign]
    try:
        for on in (True, False):
            flushes.clear()
            cache = RedisCache(location, {"OPTIONS": {"pipelining": on}, "KEY_PREFIX": "pipe"})
            seconds = asyncio.run(run(cache))
            shared = sum(flushes[1:])  # the first flush is aset_many's own batch
            print(f"  pipelining={on!s:<5} 1,000 aget() in {seconds * 1000:6.1f} ms; "
                  f"{shared} of them rode in {max(len(flushes) - 1, 0)} shared batches")
    finally:
        Topology.aexecute_many = original  # type: ignore[method-assign]


def tour_sentinel(cache: Any, lab: Any) -> None:
    title("Sentinel: the primary is found through the sentinels")
    cache.set("sentinel:key", "before failover")
    print("primary is", lab.primary_node.address, "->", cache.get("sentinel:key"))
    try:
        new = lab.failover()
    except Exception as exc:  # the demo goes on; the failover tests cover this properly
        print("  failover did not complete:", exc)
        return
    started = time.perf_counter()
    errors = 0
    while True:
        try:
            cache.set("sentinel:key", "after failover")
            break
        except Exception:
            errors += 1
            if time.perf_counter() - started > 15:
                raise
            time.sleep(0.05)
    print(f"SENTINEL FAILOVER -> new primary {new.address}; write went through "
          f"({errors} caller-visible errors) ->", cache.get("sentinel:key"))


def tour_migration(url: str) -> None:
    """Settings and calls written for django-redis, with only BACKEND changed."""
    import warnings

    from cachex.backends.redis import RedisCache
    from cachex.compat.options import CachexCompatWarning

    title("Drop-in migration: a django-redis alias with only BACKEND changed")
    options = {"CLIENT_CLASS": "django_redis.client.DefaultClient",
               "IGNORE_EXCEPTIONS": True, "SOCKET_TIMEOUT": 2, "SOCKET_CONNECT_TIMEOUT": 2}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", CachexCompatWarning)
        cache = RedisCache(url, {"KEY_PREFIX": "demo-migrate", "OPTIONS": options})
        cache.get("warm-up")
    for w in seen[:4]:
        print("  warning:", str(w.message).split(". ")[0])
    cache.zadd("scores", {"ada": 1})
    cache.zincrby("scores", 5, "ada")  # redis-py / django-redis order: (key, amount, member)
    print("  zincrby('scores', 5, 'ada')   ->", cache.zscore("scores", "ada"))
    print("  set(..., nx=True) twice       ->", cache.set("once", 1, nx=True),
          cache.set("once", 2, nx=True))
    raw_key = cache.make_key("once")
    client = cache._cache.get_client(raw_key, write=True)  # Django RedisCache's raw access
    print("  cache._cache.get_client(key)  ->", type(client).__name__,
          "TTL", client.ttl(raw_key))
    print("  (docs/migration/: tables old -> new for five peers)")


def tour_hardening() -> None:
    """Bounded pools that wait, honest partial failures, bounded decompression."""
    import zlib

    from cachex import testing
    from cachex.backends.redis import RedisCache
    from cachex.exceptions import PartialFailure

    title("Hardening: pools that wait, partial failures that say what was applied")
    with testing.servers(3) as nodes:
        bounded = RedisCache(nodes[0].url, {"KEY_PREFIX": "demo-pool", "OPTIONS": {
            "pool": {"max_connections": 4, "pool_timeout": 5}}})
        nodes[0].client().execute_command("CLIENT", "PAUSE", "300", "WRITE")

        async def burst() -> list[Any]:
            return await asyncio.gather(*(bounded.aset(f"k{i}", i) for i in range(100)),
                                        return_exceptions=True)

        results = asyncio.run(burst())
        errors = sum(isinstance(r, Exception) for r in results)
        stored = len(bounded.get_many([f"k{i}" for i in range(100)]))
        print(f"  100 concurrent aset, max_connections=4, server paused 0.3 s -> "
              f"{errors} errors, {stored} stored")

        shards = RedisCache([n.url for n in nodes], {"KEY_PREFIX": "demo-partial",
                                                     "OPTIONS": {"retry": None}})
        nodes[2].kill()
        try:
            shards.set_many({f"user:{i}": i for i in range(30)})
        except PartialFailure as exc:
            print(f"  set_many(30) with 1 of 3 shards killed -> PartialFailure: "
                  f"{len(exc.applied)} applied, {len(exc.not_applied)} not applied")

    with testing.server() as server:
        from cachex.codec import DecodeError

        cache = RedisCache(server.url, {"KEY_PREFIX": "demo-bomb",
                                        "OPTIONS": {"compressor": "zlib"}})
        squeeze = zlib.compressobj(9)
        chunk = bytes(1 << 20)  # a pickle of 256 MB of zeros, never held in memory here
        bomb = squeeze.compress(b"\x80\x04\x8e" + (256 << 20).to_bytes(8, "little"))
        bomb += b"".join(squeeze.compress(chunk) for _ in range(256))
        bomb += squeeze.compress(b".") + squeeze.flush()
        server.client().set(cache.make_key("bomb"), b"\x00pz" + bomb)  # pickle+zlib header
        try:
            cache.get("bomb")
        except DecodeError as exc:
            print(f"  a stored {len(bomb) // 1024} KB zlib value inflating to 256 MB -> "
                  f"refused: {str(exc)[:70]}...")


def tour_stampede(url: str) -> None:
    """Stampede protection: 20 threads and 20 tasks ask for one key that just expired."""
    import threading

    from cachex.backends.redis import RedisCache

    title("Stampede protection: 40 callers, one expired key, one recomputation")

    def burst(cache: Any, prepare: Callable[[], None]) -> int:
        computed: list[int] = []

        def compute() -> str:
            computed.append(1)
            time.sleep(0.05)  # a slow query
            return "fresh"

        async def acompute() -> str:
            computed.append(1)
            await asyncio.sleep(0.05)
            return "fresh"

        async def tasks() -> None:  # an async default is awaited
            await asyncio.gather(*(cache.aget_or_set("hot", acompute, 30) for _ in range(20)))

        prepare()
        barrier = threading.Barrier(20)

        def caller() -> None:
            barrier.wait()
            cache.get_or_set("hot", compute, 30)

        threads = [threading.Thread(target=caller) for _ in range(20)]
        threads.append(threading.Thread(target=asyncio.run, args=(tasks(),)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(computed)

    plain = RedisCache(url, {"KEY_PREFIX": "demo-plain"})
    print(f"  {'no protection (Django logic)':<34} recomputations:",
          burst(plain, lambda: plain.delete("hot")))
    for mode in ("herd", "lock"):
        cache = RedisCache(url, {"KEY_PREFIX": f"demo-{mode}",
                                 "OPTIONS": {"stampede": {"mode": mode}}})

        def expire(cache: Any = cache, mode: str = mode) -> None:
            if mode == "herd":  # soft-expired: stale value still stored, served meanwhile
                cache.set("hot", "stale", 0.01)
                time.sleep(0.02)
            else:
                cache.delete("hot")

        print(f"  {'OPTIONS[stampede] mode ' + repr(mode):<34} recomputations:",
              burst(cache, expire))
    print("  (docs/stampede.md; `make bench-stampede` measures 200 callers and 4 processes)")


def tour_operations() -> None:
    """Self-contained: three servers of its own, one of them killed on purpose, looked at
    with ``python -m cachex`` and through the Prometheus collector."""
    from cachex import testing
    from cachex.backends.redis import RedisCache
    from cachex.ops import cli

    title("Operating cachex: python -m cachex status, metrics during an outage")
    try:
        from prometheus_client import CollectorRegistry, generate_latest
    except ImportError:
        print("  (pip install 'django-cachex-router[prometheus]' to see the metrics part)")
        return
    registry = CollectorRegistry()
    with testing.servers(3) as nodes:
        location = ",".join(n.url for n in nodes)
        pool = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        same = ["--options", json.dumps({"pool": pool})]  # same servers and settings
        cache = RedisCache([n.url for n in nodes], {"KEY_PREFIX": "ops", "OPTIONS": {
            "pool": pool,
            "failover": {"mode": "fail_open", "threshold": 3, "cooldown": 5.0},
            "metrics": {"prometheus": {"registry": registry}}}})
        cache.set_many({f"item:{i}": i for i in range(300)})
        print("$ python -m cachex status --location ... --key-prefix ops")
        cli.main(["status", "--location", location, "--key-prefix", "ops", *same])
        victim = nodes[1]
        victim.kill()
        print(f"\nkilled {victim.address}; 300 gets with failover mode 'fail_open' "
              "(its keys read as misses):")
        found = sum(cache.get(f"item:{i}") is not None for i in range(300))
        print(f"  {found} of 300 found, no exception")
        print("\n$ python -m cachex status ...  (exit 2: a shard is unreachable; the breaker "
              "column is this process's circuit)")
        code = cli.main(["status", "--location", location, "--key-prefix", "ops", *same])
        print(f"exit code {code}")
        print("\nscraped from the Prometheus collector:")
        for line in generate_latest(registry).decode().splitlines():
            if line.startswith(("cachex_errors_total", "cachex_failovers_total",
                                "cachex_circuit_open", "cachex_misses_total")):
                print("  " + line)


def tour_near(near: Any, plain: Any, server: Any) -> None:
    title("Near cache: hot keys answered from process memory, invalidated by the server")
    near.set("fragment", "<li>hello</li>")
    plain.set("fragment", "<li>hello</li>")
    deadline = time.monotonic() + 5
    while near.near_stats()["fills"] == 0 and time.monotonic() < deadline:
        near.get("fragment")  # the first reads fill it once the channel is up
        time.sleep(0.01)
    a = timed(lambda: [near.get("fragment") for _ in range(2000)])
    b = timed(lambda: [plain.get("fragment") for _ in range(2000)])
    print(f"  get x 2000: {a * 1000:.1f}ms with near_cache, {b * 1000:.1f}ms without "
          f"({b / a:.0f}x)")
    started = time.monotonic()
    server.client().set(near.make_key("fragment"), b"42")  # another client, plain redis-py
    while near.get("fragment") != 42 and time.monotonic() < started + 5:
        pass
    print(f"  another client wrote it: this process read the new value "
          f"{(time.monotonic() - started) * 1000:.1f}ms later (CLIENT TRACKING BCAST)")
    stats = near.near_stats()
    print("  near_stats():", {k: stats[k] for k in ("hits", "misses", "fills",
                                                    "invalidations", "entries")})
    near.disconnect()  # its invalidation channel too, before the lab stops


def tour_timing(ours: Any, theirs: Any) -> None:
    title("A small timing beside Django's built-in RedisCache (same server, same run)")
    keys = [f"t{i}" for i in range(100)]
    for c in (ours, theirs):
        c.set_many({k: "x" * 100 for k in keys})
        c.set("one", "x" * 100)
    rows = []
    for label, fn in (
        ("get x 2000", lambda c: [c.get("one") for _ in range(2000)]),
        ("get_many(100) x 200", lambda c: [c.get_many(keys) for _ in range(200)]),
    ):
        a = timed(lambda fn=fn: fn(ours))  # type: ignore[misc]
        b = timed(lambda fn=fn: fn(theirs))  # type: ignore[misc]
        rows.append((label, a, b))

    async def concurrent(c: Any) -> None:
        for _ in range(10):
            await asyncio.gather(*(c.aget("one") for _ in range(100)))

    a = timed(lambda: asyncio.run(concurrent(ours)), repeat=3)
    b = timed(lambda: asyncio.run(concurrent(theirs)), repeat=3)
    rows.append(("aget, 100 concurrent x 10", a, b))
    print(f"  {'workload':<28}{'cachex':>10}{'Django':>10}{'speed-up':>10}")
    for label, a, b in rows:
        print(f"  {label:<28}{a * 1000:>8.1f}ms{b * 1000:>8.1f}ms{b / a:>9.2f}x")
    print("  (medians of a few runs; `make bench` runs the real benchmark suite)")


if __name__ == "__main__":
    sys.exit(main())
