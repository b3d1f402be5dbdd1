"""``python -m benchmarks.pipelining [--seconds S] [--rounds N] [--groups single,cluster]``:
async auto-pipelining (``OPTIONS["pipelining"]``) against raw redis.asyncio and against
cachex with the switch off.

Rows, per group (single server, 3 shards, 3-primary Cluster, Sentinel): ``aget``/``aset``
with 100 and with 1,000 concurrent tasks on one event loop, each task calling in a loop over
its own keys, and ``lone aget`` (one task). Contenders: cachex with pipelining on, cachex with
it off, and raw redis.asyncio (shards: a raw client of one shard, the floor; Cluster:
``RedisCluster``; Sentinel: ``master_for``), raw only at 100 tasks and alone (at 1,000 it
runs out of connections: redis-py 8 caps a pool at 100). Every round runs every
row in a fresh order (its contenders back to back) against the same servers; a rate is
the median over rounds, a ratio the median of the per-round ratios.
Errors are counted, not raised: the error column must be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from contextlib import ExitStack
from typing import Any

GROUPS = ("single", "shards", "cluster", "sentinel")
VALUE = "x" * 100


def _setup_django() -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure()


async def _rate(make: Callable[[int], Coroutine[Any, Any, Any]], tasks: int,
                seconds: float) -> tuple[float, int]:
    """(calls per second over ``tasks`` concurrent workers, errors)."""
    stop = time.perf_counter() + seconds
    counts: list[int] = []
    errors = [0]

    async def worker(n: int) -> None:
        done = 0
        while time.perf_counter() < stop:
            for _ in range(10):
                try:
                    await make(n)
                except Exception:
                    errors[0] += 1
            done += 10
        counts.append(done)

    started = time.perf_counter()
    await asyncio.gather(*[worker(i) for i in range(tasks)])
    return sum(counts) / (time.perf_counter() - started), errors[0]


def _lab(group: str, stack: ExitStack) -> tuple[Any, Callable[[], Any]]:
    """(cachex LOCATION, a factory of the raw redis.asyncio client) for ``group``."""
    from cachex import testing

    if group == "single":
        server = stack.enter_context(testing.server())
        return server.url, lambda: _raw_url(server.url)
    if group == "shards":
        servers = stack.enter_context(testing.servers(3))
        return [s.url for s in servers], lambda: _raw_url(servers[0].url)
    if group == "cluster":
        cluster = stack.enter_context(testing.cluster())

        def raw_cluster() -> Any:
            from redis.asyncio.cluster import ClusterNode, RedisCluster

            host, port = cluster.url.split("://")[1].split(",")[0].split(":")
            return RedisCluster(startup_nodes=[ClusterNode(host, int(port))])
        return cluster.url, raw_cluster
    sentinels = stack.enter_context(testing.sentinel())

    def raw_sentinel() -> Any:
        from redis.asyncio.sentinel import Sentinel

        rest = sentinels.url.split("://")[1]
        hosts, service = rest.split("/")[0], rest.split("/")[1]
        pairs = [(h.split(":")[0], int(h.split(":")[1])) for h in hosts.split(",")]
        return Sentinel(pairs).master_for(service)
    return sentinels.url, raw_sentinel


def _raw_url(url: str) -> Any:
    import redis.asyncio

    return redis.asyncio.Redis.from_url(url)


async def _group(group: str, location: Any, raw_factory: Callable[[], Any], seconds: float,
                 rounds: int, lone_only: bool = False) -> tuple[dict[tuple[str, str], list[float]],
                                       dict[tuple[str, str], int]]:
    import pickle

    from cachex.backends.redis import RedisCache

    # one KEY_PREFIX: both sides read and write the same keys, on the same nodes
    on = RedisCache(location, {"OPTIONS": {"pipelining": True}, "KEY_PREFIX": "bench"})
    off = RedisCache(location, {"OPTIONS": {"pipelining": False}, "KEY_PREFIX": "bench"})
    raw = raw_factory()
    payload = pickle.dumps(VALUE)
    for cache in (on, off):
        await cache.aset_many({f"k{i}": VALUE for i in range(1000)})
    for i in range(1000):
        await raw.set(f"raw:k{i}", payload)

    def cachex_get(cache: Any) -> Callable[[int], Coroutine[Any, Any, Any]]:
        return lambda n: cache.aget(f"k{n}")

    def cachex_set(cache: Any) -> Callable[[int], Coroutine[Any, Any, Any]]:
        return lambda n: cache.aset(f"k{n}", VALUE)

    async def raw_get(n: int) -> Any:
        reply = await raw.get(f"raw:k{n}")
        return pickle.loads(reply)

    async def raw_set(n: int) -> Any:
        return await raw.set(f"raw:k{n}", pickle.dumps(VALUE))

    plans: list[tuple[str, str, Callable[[int], Coroutine[Any, Any, Any]], int]] = []
    for op, make in (("aget", cachex_get), ("aset", cachex_set)):
        for tasks in (100, 1000):
            plans.append((f"{op} x{tasks}", "on", make(on), tasks))
            plans.append((f"{op} x{tasks}", "off", make(off), tasks))
    plans.append(("aget x100", "raw", raw_get, 100))
    plans.append(("aset x100", "raw", raw_set, 100))
    plans += [("lone aget", "on", cachex_get(on), 1), ("lone aget", "off", cachex_get(off), 1),
              ("lone aget", "raw", raw_get, 1)]
    if lone_only:
        plans = [p for p in plans if p[0] == "lone aget"]
    rates: dict[tuple[str, str], list[float]] = {}
    errors: dict[tuple[str, str], int] = {}
    for _, _, make_, tasks in plans:  # warm up: connections opened
        await _rate(make_, tasks, 0.1)
    rows = list(dict.fromkeys(p[0] for p in plans))
    for _ in range(rounds):
        random.shuffle(rows)
        for row in rows:  # a row's contenders back to back: a round's ratio is fair
            order = [p for p in plans if p[0] == row]
            random.shuffle(order)
            for _, who, make_, tasks in order:
                rate, errs = await _rate(make_, tasks, seconds)
                rates.setdefault((row, who), []).append(rate)
                errors[(row, who)] = errors.get((row, who), 0) + errs
    close = getattr(raw, "aclose", None) or raw.close
    await close()
    return rates, errors


def _report(group: str, rates: dict[tuple[str, str], list[float]],
            errors: dict[tuple[str, str], int]) -> list[str]:
    """Rates are medians over rounds; ratios are medians of the per-round ratios."""
    def ratio(a: tuple[str, str], b: tuple[str, str]) -> float:
        return statistics.median(x / y for x, y in zip(rates[a], rates[b]))

    lines = [f"== {group}",
             f"{'row':<12}{'on/s':>10}{'off/s':>10}{'raw/s':>10}{'on/off':>8}"
             f"{'on/raw100':>10}  errors on/off/raw"]
    for row in ("aget x100", "aget x1000", "aset x100", "aset x1000", "lone aget"):
        if (row, "on") not in rates:
            continue
        raw_row = row if row == "lone aget" else row.split()[0] + " x100"
        on, off, raw = (row, "on"), (row, "off"), (raw_row, "raw")
        raw_errs = errors.get((row, "raw"), "-")
        lines.append(f"{row:<12}{statistics.median(rates[on]):>10.0f}"
                     f"{statistics.median(rates[off]):>10.0f}"
                     f"{statistics.median(rates[raw]):>10.0f}{ratio(on, off):>8.2f}"
                     f"{ratio(on, raw):>10.2f}  {errors[on]}/{errors[off]}/{raw_errs}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipelining")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--groups", default=",".join(GROUPS))
    parser.add_argument("--lone", action="store_true",
                        help="only the lone aget row (many rounds settle its ratio)")
    args = parser.parse_args(argv)
    _setup_django()
    out: list[str] = []
    for group in args.groups.split(","):
        with ExitStack() as stack:
            location, raw_factory = _lab(group, stack)
            rates, errors = asyncio.run(_group(group, location, raw_factory, args.seconds,
                                               args.rounds, args.lone))
        lines = _report(group, rates, errors)
        print("\n".join(lines), flush=True)
        out += lines
    return 0


if __name__ == "__main__":
    sys.exit(main())
