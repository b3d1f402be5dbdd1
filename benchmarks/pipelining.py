"""``python -m benchmarks.pipelining [--seconds S] [--rounds N] [--groups single,cluster]
[--lone] [--lone-rounds R] [--lone-calls C]``: async auto-pipelining
(``OPTIONS["pipelining"]``) against raw redis.asyncio and against cachex with the switch off.

Rows, per group (single server, 3 shards, 3-primary Cluster, Sentinel): ``aget``/``aset``
with 100 and with 1,000 concurrent tasks on one event loop, each task calling in a loop over
its own keys. Contenders: cachex with pipelining on, cachex with it off, and raw
redis.asyncio (shards: a raw client of one shard, the floor; Cluster: ``RedisCluster``;
Sentinel: ``master_for``), raw only at 100 tasks (at 1,000 it runs out of connections:
redis-py 8 caps a pool at 100). Every round runs every row in a fresh order (its contenders
back to back) against the same servers; a rate is the median over rounds, a ratio the
median of the per-round ratios. Errors are counted, not raised: the error column must be 0.

Then a lone ``aget`` (one task), on against off (``--lone``: only that): ``--lone-rounds``
rounds, each running ``--lone-calls`` calls per contender back to back in a fresh order,
timed by wall clock and by this process's CPU time (``time.process_time``: the servers are
other processes). Per round, on÷off is off's time per call over on's (above 1: on is
faster); the report gives the median over rounds and the quartiles. On a shared machine the
wall ratio moves with whatever else runs; the CPU ratio, which counts only this process's
own work, is the steadier measure of what pipelining adds to a lone call. A control, off
timed twice in each round, gives the measure's own noise (its true ratio is 1).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
                 rounds: int, lone_only: bool, lone_rounds: int, lone_calls: int
                 ) -> tuple[dict[tuple[str, str], list[float]], dict[tuple[str, str], int], Lone]:
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
    if lone_only:
        plans = []
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
    lone = await _lone(cachex_get(on), cachex_get(off), lone_rounds, lone_calls)
    close = getattr(raw, "aclose", None) or raw.close
    await close()
    return rates, errors, lone


Lone = dict[str, list[float]]  # per round: "wall"/"cpu" on÷off, "wall aa"/"cpu aa" off÷off


async def _lone(on: Callable[[int], Coroutine[Any, Any, Any]],
                off: Callable[[int], Coroutine[Any, Any, Any]], rounds: int, calls: int
                ) -> Lone:
    """Per-round on÷off of a lone ``aget`` (off's time per call over on's), by wall clock
    and by this process's CPU time. Each round runs on, off and off again (the control: its
    ratio to off, whose truth is 1, shows the noise of the measure) back to back in a fresh
    order, with the collector paused (its pauses would land on one side)."""
    contenders = {"on": on, "off": off, "off again": off}
    for make in (on, off):  # warm up: connections opened, code paths taken
        for _ in range(200):
            await make(0)
    ratios: Lone = {"wall": [], "cpu": [], "wall aa": [], "cpu aa": [], "on us": [],
                    "on cpu us": []}
    for _ in range(rounds):
        taken: dict[str, tuple[float, float]] = {}
        order = list(contenders)
        random.shuffle(order)
        for who in order:
            make = contenders[who]
            gc.collect()
            gc.disable()
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(calls):
                await make(0)
            t1, c1 = time.perf_counter(), time.process_time()
            gc.enable()
            taken[who] = (t1 - t0, max(c1 - c0, 1e-9))
        for i, what in enumerate(("wall", "cpu")):
            ratios[what].append(taken["off"][i] / taken["on"][i])
            ratios[f"{what} aa"].append(taken["off"][i] / taken["off again"][i])
        ratios["on us"].append(taken["on"][0] / calls * 1e6)
        ratios["on cpu us"].append(taken["on"][1] / calls * 1e6)
    return ratios


def _lone_report(lone: Lone, calls: int) -> list[str]:
    lines = [f"lone aget over {len(lone['wall'])} rounds of {calls} calls per contender, "
             f"on: {statistics.median(lone['on us']):.1f} us wall, "
             f"{statistics.median(lone['on cpu us']):.1f} us CPU per call",
             f"{'':<7}{'on/off':>8}{'quartiles':>16}{'control off/off':>17}{'quartiles':>16}"]
    for what in ("wall", "cpu"):
        q1, median, q3 = statistics.quantiles(lone[what], n=4)
        a1, amed, a3 = statistics.quantiles(lone[f"{what} aa"], n=4)
        lines.append(f"  {what:<5}{median:>8.3f}{q1:>8.3f}{q3:>8.3f}"
                     f"{amed:>17.3f}{a1:>8.3f}{a3:>8.3f}")
    return lines


def _report(group: str, rates: dict[tuple[str, str], list[float]],
            errors: dict[tuple[str, str], int]) -> list[str]:
    """Rates are medians over rounds; ratios are medians of the per-round ratios."""
    def ratio(a: tuple[str, str], b: tuple[str, str]) -> float:
        return statistics.median(x / y for x, y in zip(rates[a], rates[b]))

    lines = [f"== {group}"]
    if not rates:
        return lines
    lines += [f"{'row':<12}{'on/s':>10}{'off/s':>10}{'raw/s':>10}{'on/off':>8}"
             f"{'on/raw100':>10}  errors on/off/raw"]
    for row in ("aget x100", "aget x1000", "aset x100", "aset x1000"):
        if (row, "on") not in rates:
            continue
        raw_row = row.split()[0] + " x100"
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
                        help="only the lone aget on/off measurement")
    parser.add_argument("--lone-rounds", type=int, default=200)
    parser.add_argument("--lone-calls", type=int, default=200)
    args = parser.parse_args(argv)
    _setup_django()
    out: list[str] = []
    for group in args.groups.split(","):
        with ExitStack() as stack:
            location, raw_factory = _lab(group, stack)
            rates, errors, lone = asyncio.run(_group(
                group, location, raw_factory, args.seconds, args.rounds, args.lone,
                args.lone_rounds, args.lone_calls))
        lines = _report(group, rates, errors) + _lone_report(lone, args.lone_calls)
        print("\n".join(lines), flush=True)
        out += lines
    return 0


if __name__ == "__main__":
    sys.exit(main())
