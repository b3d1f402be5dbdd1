"""What is measured: operations, value sizes, batch sizes and concurrency, per group.

A workload turns a contender's operations into a body ``run(n)`` that performs ``n`` calls
(sync) or an async ``arun(n)``; the runner times bodies, nothing else. Keys and values are
made before timing and are identical for every contender (only the key prefix differs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import cycle, islice, repeat
from typing import Any

from benchmarks.contenders import Contender

KB = 1024
MB = 1024 * 1024
POOL = 100  # distinct keys cycled through by single-key workloads
BIG_POOL = 10  # ... when values are 1 MB
ALL = ("single", "shards", "cluster", "sentinel")
SINGLE = ("single",)
SPREAD = ("single", "shards", "cluster")  # multi-node topologies where batching matters
# 1,000-key batches: not on shards, where django-redis's ShardClient makes one round-trip per
# key (seconds per measurement, and the 100-key case already shows it).
ONE_AND_CLUSTER = ("single", "cluster")

SyncBody = Callable[[int], None]
AsyncBody = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class Workload:
    op: str  # get | get_miss | set | get_many | set_many | delete_many | incr | mixed
    #          aget | aset | aget_many | aset_many
    size: int = 100
    count: int = 1  # keys per call for *_many
    tasks: int = 1  # concurrent asyncio tasks (async single-key ops)
    groups: tuple[str, ...] = SINGLE

    @property
    def is_async(self) -> bool:
        return self.op.startswith("a")

    @property
    def name(self) -> str:
        size = _size(self.size)
        if self.op == "get_miss":
            return "get miss"
        if self.op == "incr":
            return "incr"
        if self.op == "mixed":
            return f"mixed 90/10 {size}"
        if self.op.endswith("_many"):
            return f"{self.op}({self.count}) {size}"
        if self.is_async:
            return f"{self.op} x{self.tasks} {size}"
        return f"{self.op} {size}"

    def describe(self) -> str:
        """One line for the docs and the JSON: what a single timed call does."""
        what = {
            "get": "cache.get of an existing key", "get_miss": "cache.get of a missing key",
            "set": "cache.set (default timeout)", "incr": "cache.incr of an existing counter",
            "get_many": f"cache.get_many of {self.count} existing keys",
            "set_many": f"cache.set_many of {self.count} keys",
            "delete_many": f"cache.delete_many of {self.count} keys",
            "mixed": "every 10th call cache.set, the others cache.get",
            "aget": f"await cache.aget, {self.tasks} concurrent task(s)",
            "aset": f"await cache.aset, {self.tasks} concurrent task(s)",
            "aget_many": f"await cache.aget_many of {self.count} keys",
            "aset_many": f"await cache.aset_many of {self.count} keys",
        }[self.op]
        return what

    def supported_by(self, c: Contender) -> bool:
        ops: Any = c.aops if self.is_async else c.ops
        if ops is None:
            return False
        needed = {"get_miss": "get", "mixed": "get"}.get(self.op, self.op)
        return getattr(ops, needed) is not None and (self.op != "mixed" or ops.set is not None)


def _size(n: int) -> str:
    if n >= MB:
        return f"{n // MB}MB"
    if n >= KB:
        return f"{n // KB}KB"
    return f"{n}B"


def catalogue() -> list[Workload]:
    """Every workload, in report order."""
    w = Workload
    return [
        w("get", 100, groups=ALL), w("get", 10 * KB), w("get", MB), w("get_miss", groups=SPREAD),
        w("set", 100, groups=ALL), w("set", 10 * KB), w("set", MB),
        w("get_many", 100, 10, groups=SPREAD), w("get_many", 100, 100, groups=ALL),
        w("get_many", 100, 1000, groups=ONE_AND_CLUSTER),
        w("get_many", 10 * KB, 100, groups=SPREAD),
        w("get_many", MB, 10),
        w("set_many", 100, 10), w("set_many", 100, 100, groups=ALL),
        w("set_many", 100, 1000, groups=ONE_AND_CLUSTER), w("set_many", 10 * KB, 100),
        w("set_many", MB, 10),
        w("delete_many", 100, 10), w("delete_many", 100, 100, groups=SPREAD),
        w("delete_many", 100, 1000),
        w("incr", groups=SPREAD),
        w("mixed", 100, groups=ALL), w("mixed", 10 * KB),
        w("aget", 100, tasks=1), w("aget", 100, tasks=10), w("aget", 100, tasks=100, groups=ALL),
        w("aget", 10 * KB, tasks=100),
        w("aset", 100, tasks=1), w("aset", 100, tasks=10), w("aset", 100, tasks=100, groups=ALL),
        w("aget_many", 100, 10), w("aget_many", 100, 100, groups=ALL),
        w("aset_many", 100, 10), w("aset_many", 100, 100, groups=ALL),
    ]


def value_of(size: int) -> bytes:
    """A deterministic, incompressible-looking value of ``size`` bytes."""
    block = bytes((i * 131 + 17) % 251 for i in range(251))
    return (block * (size // len(block) + 1))[:size]


def _need(op: Callable[..., Any] | None) -> Callable[..., Any]:
    if op is None:
        raise TypeError("operation not offered by this contender")
    return op


# ------------------------------------------------------------------------------------ bodies
class Prepared:
    """A workload bound to one contender: seeded keys and the body to time."""

    def __init__(self, workload: Workload, contender: Contender) -> None:
        self.workload = workload
        self.contender = contender
        w = workload
        value = value_of(w.size)
        pool = BIG_POOL if w.size >= MB else POOL
        n_keys = w.count if w.op.endswith("_many") else pool
        stem = "miss" if w.op == "get_miss" else "key"
        self.keys = [contender.key(f"{stem}:{i:06d}") for i in range(n_keys)]
        self.value = value
        self.seed_data: dict[str, Any] = {}
        if w.op in ("get", "get_many", "mixed", "delete_many", "aget", "aget_many"):
            self.seed_data = dict.fromkeys(self.keys, value)
        elif w.op == "incr":
            self.keys = [contender.key("counter")]
            self.seed_data = {self.keys[0]: 0}

    # -- seeding -------------------------------------------------------------------------
    def seed(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write the keys the workload reads, with the contender's own code (formats differ)."""
        if not self.seed_data:
            return
        c = self.contender
        if c.ops is not None and c.ops.set_many is not None:
            c.ops.set_many(self.seed_data)
        elif c.aops is not None and c.aops.aset_for_seed is not None:
            loop.run_until_complete(c.aops.aset_for_seed(self.seed_data))

    # -- bodies --------------------------------------------------------------------------
    def body(self) -> SyncBody:
        ops = self.contender.ops
        assert ops is not None
        w, keys, value = self.workload, self.keys, self.value
        if w.op in ("get", "get_miss"):
            get = _need(ops.get)

            def run_get(n: int) -> None:
                for key in islice(cycle(keys), n):
                    get(key)

            return run_get
        if w.op == "set":
            set_ = _need(ops.set)

            def run_set(n: int) -> None:
                for key in islice(cycle(keys), n):
                    set_(key, value)

            return run_set
        if w.op == "mixed":
            get, set_ = _need(ops.get), _need(ops.set)

            def run_mixed(n: int) -> None:
                for i, key in zip(range(n), cycle(keys)):
                    if i % 10 == 9:
                        set_(key, value)
                    else:
                        get(key)

            return run_mixed
        if w.op == "incr":
            incr, key = _need(ops.incr), keys[0]

            def run_incr(n: int) -> None:
                for _ in repeat(None, n):
                    incr(key)

            return run_incr
        many: Any = getattr(ops, w.op)
        arg: Any = dict.fromkeys(keys, value) if w.op == "set_many" else keys

        def run_many(n: int) -> None:
            for _ in repeat(None, n):
                many(arg)

        return run_many

    def abody(self) -> AsyncBody:
        aops = self.contender.aops
        assert aops is not None
        w, keys, value = self.workload, self.keys, self.value
        if w.op in ("aget", "aset"):
            op: Any = aops.aget if w.op == "aget" else aops.aset
            tasks = w.tasks

            async def worker(count: int, start: int) -> None:
                ks = keys[start:] + keys[:start]
                if w.op == "aget":
                    for key in islice(cycle(ks), count):
                        await op(key)
                else:
                    for key in islice(cycle(ks), count):
                        await op(key, value)

            async def run_single(n: int) -> None:
                if tasks == 1:
                    await worker(n, 0)
                    return
                per = n // tasks
                await asyncio.gather(*(worker(per, (i * 7) % len(keys)) for i in range(tasks)))

            return run_single
        many: Any = getattr(aops, w.op)
        arg: Any = dict.fromkeys(keys, value) if w.op == "aset_many" else keys

        async def run_many(n: int) -> None:
            for _ in repeat(None, n):
                await many(arg)

        return run_many
