"""``python -m benchmarks.near [--rounds N] [--groups single,cluster]``: the near cache
against raw redis-py on hot keys, and its cost on ``set``.

Every row runs in every round (order drawn at random per round) against the same servers,
and each ratio is the median of the per-round ratios, so a busy neighbour moves both sides of
a ratio alike. Rows, per group (single server, 3-primary Cluster):

- ``get``: one hot key read in a loop; cachex with ``near_cache`` / raw redis-py ``get``.
- ``aget x100``: 100 tasks each reading a hot key in a loop on one event loop; cachex
  ``aget`` with ``near_cache`` / raw ``redis.asyncio`` ``get``.
- ``get_many(100)``: 100 hot keys; cachex ``get_many`` with ``near_cache`` / raw ``MGET``
  (Cluster: ``RedisCluster.mget_nonatomic``); ``get_many(100) dicts``: the same with dict
  values, which the near cache must decode on every hit; ``get_many(100) varied``: each call
  a different window of 100 among 200 hot keys.

The raw side is the benchmark suite's raw floor: the driver call plus ``pickle.loads`` of the
reply, the least any cache must do. Values are a 110-character string (immutable: the near
cache keeps it decoded) unless the row says dicts.
- ``set``: cachex ``set`` with ``near_cache`` / the same alias without it (the write cost:
  a local drop; the server's broadcast of the invalidation is paid by the server).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import pickle
import random
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

VALUE = "<li>" + "x" * 100 + "</li>"  # a rendered fragment: immutable, kept decoded
DICT_VALUE = {"user": 42, "name": "x" * 80}  # mutable: decoded again on every hit
TASKS = 100


def _rate(fn: Callable[[], Any], seconds: float) -> float:
    n, started = 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - started)


def _arate(loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[Any, Any, Any]],
           seconds: float) -> float:
    async def worker(stop: float, counts: list[int]) -> None:
        n = 0
        while time.perf_counter() < stop:
            for _ in range(20):
                await make()
            n += 20
        counts.append(n)

    async def run() -> float:
        counts: list[int] = []
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, counts) for _ in range(TASKS)))
        return sum(counts) / (time.perf_counter() - started)

    return loop.run_until_complete(run())


Rows = dict[str, tuple[Callable[[], float], Callable[[], float]]]


def _rows(group: str, lab: Any) -> tuple[Rows, Callable[[], Any]]:
    """name -> (measure near side, measure the other side); each returns calls per second."""
    import redis
    import redis.asyncio
    import redis.asyncio.cluster
    import redis.cluster

    from cachex.backends.redis import RedisCache

    near = RedisCache(lab.url, {"OPTIONS": {"near_cache": {"max_entries": 10_000}}})
    plain = RedisCache(lab.url, {"KEY_PREFIX": "plain"})
    if group == "cluster":
        host, port = lab.primaries()[0].host, lab.primaries()[0].port
        raw: Any = redis.cluster.RedisCluster(host=host, port=port)

        async def make_araw() -> Any:  # made on the loop it runs on
            client = redis.asyncio.cluster.RedisCluster(host=host, port=port)
            await client.initialize()
            return client

        def raw_mget(keys: list[str]) -> Any:
            return raw.mget_nonatomic(keys)
    else:
        raw = redis.Redis(host=lab.host, port=lab.port)

        async def make_araw() -> Any:
            return redis.asyncio.Redis(host=lab.host, port=lab.port)

        def raw_mget(keys: list[str]) -> Any:
            return raw.mget(keys)
    wide = [f"hot{i}" for i in range(200)]
    keys = wide[:100]
    dict_keys = [f"dict{i}" for i in range(100)]
    for key in wide:
        near.set(key, VALUE)
    for key in dict_keys:
        near.set(key, DICT_VALUE)
    made = [near.make_key(k) for k in keys]
    wide_made = [near.make_key(k) for k in wide]
    windows = itertools.cycle(range(100))
    dict_made = [near.make_key(k) for k in dict_keys]
    loads = pickle.loads

    def raw_get() -> Any:
        return loads(raw.get(made[0]))

    async def raw_aget() -> Any:
        return loads(await araw.get(made[0]))

    def raw_get_many(keys: list[str]) -> Any:
        return {k: loads(v) for k, v in zip(keys, raw_mget(keys)) if v is not None}
    deadline = time.monotonic() + 10
    while near.near_stats()["channels_up"] < len(lab.primaries()) if group == "cluster" else \
            near.near_stats()["channels_up"] < 1:
        near.get("hot0")
        if time.monotonic() > deadline:
            raise SystemExit("near cache channels did not come up")
        time.sleep(0.05)
    near.get_many(wide)  # warm: every hot key local
    near.get_many(dict_keys)
    loop = asyncio.new_event_loop()
    araw = loop.run_until_complete(make_araw())
    seconds = 0.3
    return {
        "get": (lambda: _rate(lambda: near.get("hot0"), seconds),
                lambda: _rate(raw_get, seconds)),
        f"aget x{TASKS}": (lambda: _arate(loop, lambda: near.aget("hot0"), seconds),
                           lambda: _arate(loop, raw_aget, seconds)),
        "get_many(100)": (lambda: _rate(lambda: near.get_many(keys), seconds),
                          lambda: _rate(lambda: raw_get_many(made), seconds)),
        "get_many(100) varied": (
            lambda: _rate(lambda: near.get_many(wide[(i := next(windows)):i + 100]), seconds),
            lambda: _rate(lambda: raw_get_many(wide_made[(i := next(windows)):i + 100]),
                          seconds)),
        "get_many(100) dicts": (lambda: _rate(lambda: near.get_many(dict_keys), seconds),
                                lambda: _rate(lambda: raw_get_many(dict_made), seconds)),
        "set (near / no near)": (lambda: _rate(lambda: near.set("w", VALUE), seconds),
                                 lambda: _rate(lambda: plain.set("w", VALUE), seconds)),
    }, lambda: (near._near.close(1), loop.run_until_complete(araw.aclose()), loop.close())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.near")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--groups", default="single,cluster")
    args = parser.parse_args()

    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(CACHES={}, USE_TZ=True, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()
    from contextlib import ExitStack

    from cachex import testing

    print(f"{'group':8} {'row':22} {'near/s':>11} {'other/s':>11} {'ratio':>7}")
    with ExitStack() as stack:
        for group in args.groups.split(","):
            lab = stack.enter_context(testing.cluster() if group == "cluster"
                                      else testing.server())
            if group != "cluster":
                lab.primaries = lambda lab=lab: [lab]
            rows, close = _rows(group, lab)
            rates: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
            for _ in range(args.rounds):
                for name in random.sample(list(rows), len(rows)):
                    mine, other = rows[name]
                    pair = (mine(), other()) if random.random() < 0.5 else \
                        tuple(reversed((other(), mine())))
                    rates[name].append(pair)  # type: ignore[arg-type]
            for name, pairs in rates.items():
                ratio = statistics.median(a / b for a, b in pairs)
                near_rate = statistics.median(a for a, _ in pairs)
                other_rate = statistics.median(b for _, b in pairs)
                print(f"{group:8} {name:22} {near_rate:11,.0f} {other_rate:11,.0f} "
                      f"{ratio:6.1f}x", flush=True)
            close()


if __name__ == "__main__":
    main()
