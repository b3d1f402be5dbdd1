"""``python -m benchmarks.shards_floor [--rounds N] [--calls N]``: a sharded ``get_many(100)``
against what the machine allows, in the same interleaved rounds.

The shards target compares cachex over 4 nodes with raw redis-py ``MGET`` on ONE node. A
4-node request costs more than a 1-node one whatever the client does (four sends, four
server wake-ups, four replies to read), so this shows how much of the distance is the
client's. Rows, each per call, wall-clock and this process's CPU:

- ``raw 1 node``: redis-py ``mget(100)`` on one server plus ``pickle.loads`` per value (the
  benchmark's baseline);
- ``hand 4 nodes``: the leanest hand-written redis-py code doing the same job as cachex:
  prefix the keys, place each on the ketama ring (cachex's own memoised ``Ring``), group
  them, send every node's ``MGET`` (hiredis-packed) before reading any reply, put the values
  back in the caller's order, ``pickle.loads`` -- no validation, no failover, no pooling;
- ``cachex 4 nodes``: ``RedisCache.get_many`` over the same servers (no socket timeout, as
  in the main benchmark).

Every round runs each row (in a random order); a ratio is the median of the per-round
ratios to ``raw 1 node``, so a busy machine slows both sides of each ratio alike.
"""

from __future__ import annotations

import argparse
import pickle
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

KEYS = 100


def _rows(urls: list[str]) -> dict[str, Callable[[], Any]]:
    import hiredis
    import redis
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    from cachex.backends.redis import RedisCache

    cache = RedisCache(urls, {"pool": {"socket_timeout": None}})
    keys = [f"key:{i}" for i in range(KEYS)]
    cache.set_many({k: "x" * 100 for k in keys})
    ring = cache._topology.ring  # type: ignore[attr-defined]
    conns = {n: redis.Redis.from_url(f"redis://{n}").connection_pool.get_connection()
             for n in ring.names}
    one = redis.Redis.from_url(urls[0])
    made = [cache.make_key(k) for k in keys]
    one.mset({k: pickle.dumps("x" * 100) for k in made})
    loads, pack = pickle.loads, hiredis.pack_command

    def raw_one() -> dict[str, Any]:
        return {k: loads(v) for k, v in zip(keys, one.mget(made)) if v is not None}

    def hand() -> dict[str, Any]:
        names = [":1:" + k for k in keys]
        by_node: dict[str, list[int]] = {}
        for pos, node in enumerate(ring.nodes_for(names)):
            try:
                by_node[node].append(pos)
            except KeyError:
                by_node[node] = [pos]
        for node, positions in by_node.items():
            conns[node].send_packed_command([pack(("MGET", *[names[p] for p in positions]))])
        out: list[Any] = [None] * len(names)
        for node, positions in by_node.items():
            for pos, value in zip(positions, conns[node].read_response()):
                out[pos] = value
        return {k: loads(v) for k, v in zip(keys, out) if v is not None}

    def cachex() -> dict[str, Any]:
        return cache.get_many(keys)

    assert hand() == cachex() == raw_one()
    return {"raw 1 node": raw_one, "hand 4 nodes": hand, "cachex 4 nodes": cachex}


def _round(fn: Callable[[], Any], calls: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per call."""
    for _ in range(calls // 10):
        fn()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return ((time.perf_counter() - wall) / calls * 1e6,
            (time.process_time() - cpu) / calls * 1e6)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shards_floor")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=200, help="calls per row and round")
    args = parser.parse_args(argv)
    from cachex.testing import servers

    with servers(4) as nodes:
        rows = _rows([n.url for n in nodes])
        got: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
        for _ in range(args.rounds):
            for name in random.sample(list(rows), len(rows)):
                got[name].append(_round(rows[name], args.calls))
    base = got["raw 1 node"]
    print(f"get_many({KEYS}) of 100-byte values, {args.rounds} rounds x {args.calls} calls; "
          "ratio = median per-round ratio to raw 1 node (higher is better)")
    print(f"{'row':16s} {'wall us':>8s} {'cpu us':>7s} {'wait us':>8s} {'wall x':>7s} "
          f"{'cpu x':>6s}")
    for name, samples in got.items():
        wall = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[1] for s in samples)
        wall_x = statistics.median(b[0] / s[0] for b, s in zip(base, samples))
        cpu_x = statistics.median(b[1] / s[1] for b, s in zip(base, samples))
        print(f"{name:16s} {wall:8.1f} {cpu:7.1f} {wall - cpu:8.1f} {wall_x:6.2f}x "
              f"{cpu_x:5.2f}x")


if __name__ == "__main__":
    main()
