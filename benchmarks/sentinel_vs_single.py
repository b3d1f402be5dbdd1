"""``python -m benchmarks.sentinel_vs_single [--rounds N] [--replicas N]``: cachex on a
Sentinel-managed primary against cachex on a single server, in the same interleaved rounds.

The main benchmark measures its groups one after another, so a ratio between two groups
carries whatever else the machine did meanwhile. Here both caches run in every round (order
drawn at random), and the ratio is the median of the per-round ratios. Raw redis-py rows show
the labs' own difference with the client's work equal: with ``--replicas 1`` (the default, as
in the main benchmark) the Sentinel primary also feeds a replica on the same machine, which
bounds write batches whatever the client does; ``--replicas 0`` compares the client paths.
``--fed-single`` gives the single server as many replicas (plain REPLICAOF, no sentinel), so
both servers do the same work and the ratio is the client's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

CALLS = 60


def _rate(fn: Callable[[], Any], n: int = CALLS) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentinel_vs_single")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--fed-single", action="store_true",
                        help="the single server feeds as many replicas as the Sentinel primary")
    args = parser.parse_args()

    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(CACHES={}, USE_TZ=True, INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()
    from cachex.backends.redis import RedisCache
    from cachex.testing import sentinel, servers

    keys = [f"k{i}" for i in range(100)]
    data = {k: b"x" * 100 for k in keys}
    loop = asyncio.new_event_loop()

    def sync(fn: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], Any]:
        return lambda: loop.run_until_complete(fn())

    def pipeline(client: Any) -> None:
        pipe = client.pipeline(transaction=False)
        for k in keys:
            pipe.set("raw" + k, b"x" * 100, px=300000)
        pipe.execute()

    fed = args.replicas if args.fed_single else 0
    with servers(1 + fed) as nodes, sentinel(replicas=args.replicas, sentinels=3) as lab:
        single = nodes[0]
        for replica in nodes[1:]:
            replica.client().replicaof(single.host, single.port)
        while single.client().info("replication")["connected_slaves"] < fed:
            time.sleep(0.05)
        a = RedisCache(single.url, {"KEY_PREFIX": "bench"})
        b = RedisCache(lab.url, {"KEY_PREFIX": "bench"})
        raw_a, raw_b = single.client(), lab.primary_node.client()
        work: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            "get_many(100)": (lambda: a.get_many(keys), lambda: b.get_many(keys)),
            "set_many(100)": (lambda: a.set_many(data), lambda: b.set_many(data)),
            "aget_many(100)": (sync(lambda: a.aget_many(keys)), sync(lambda: b.aget_many(keys))),
            "aset_many(100)": (sync(lambda: a.aset_many(data)), sync(lambda: b.aset_many(data))),
            "raw redis-py MGET(100)": (lambda: raw_a.mget(keys), lambda: raw_b.mget(keys)),
            "raw redis-py pipeline, 100 SET": (lambda: pipeline(raw_a),
                                               lambda: pipeline(raw_b)),
        }
        print(f"cachex on Sentinel ({args.replicas} replica(s)) vs single server "
              f"({fed} replica(s)), "
              f"{args.rounds} interleaved rounds, load {os.getloadavg()[0]:.1f}")
        for name, (on_single, on_sentinel) in work.items():
            on_single()
            on_sentinel()
            ratios, rates_a, rates_b = [], [], []
            for _ in range(args.rounds):
                if random.random() < 0.5:
                    x, y = _rate(on_single), _rate(on_sentinel)
                else:
                    y, x = _rate(on_sentinel), _rate(on_single)
                rates_a.append(x)
                rates_b.append(y)
                ratios.append(y / x)
            print(f"  {name:32} single {statistics.median(rates_a):8.0f}/s  sentinel "
                  f"{statistics.median(rates_b):8.0f}/s  {statistics.median(ratios):.2f}x",
                  flush=True)
    loop.close()


if __name__ == "__main__":
    main()
