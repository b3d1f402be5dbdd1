"""Writers in other processes change keys while readers here read them in a tight loop.

The rule checked on every read: once the invalidation for a write has been applied here, no
reader returns a value older than that write. Each key has one writer and writes 1, 2, 3...
one at a time, so the m-th invalidation of a key announces its m-th write (two writes that
land in one server tick would share a message: the check only gets weaker). A reader takes the
count of invalidations applied for its key *before* its read starts, and the value it gets
must be at least that count.

The window between a write's acknowledgement and the last read that still returned an older
value is measured and printed (p50/p99/max), never asserted: it depends on the machine.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Any

import pytest

from cachex.near.core import NearCache
from tests import labs
from tests.near.conftest import warm

SECONDS = 2.0
RAW_KEYS = [f"r{i}" for i in range(3)]
CACHEX_KEYS = [f"c{i}" for i in range(3)]


@pytest.mark.parametrize("topology", ["single", "cluster"])
def test_no_read_is_older_than_an_applied_invalidation(near_cache: Any, monkeypatch: Any,
                                                       topology: str) -> None:
    applied: Counter[str] = Counter()
    original = NearCache._on_keys

    def counting(self: NearCache, keys: list[bytes] | None) -> None:
        original(self, keys)  # applied first: only then may a reader rely on it
        for key in keys or ():
            applied[key.decode()] += 1

    monkeypatch.setattr(NearCache, "_on_keys", counting)
    cache = near_cache(topology)
    keys = RAW_KEYS + CACHEX_KEYS
    cache.set_many(dict.fromkeys(keys, 0), None)
    warm(cache, *keys)
    time.sleep(0.3)  # the seed's own invalidations are in
    made = {k: cache.make_key(k) for k in keys}
    base = {k: applied[made[k]] for k in keys}

    location = labs.location(topology)
    writers = [subprocess.Popen([sys.executable, "-m", "tests.near._writer", kind, location,
                                 cache.key_prefix, str(SECONDS), *ks], stdout=subprocess.PIPE,
                                text=True)
               for kind, ks in (("raw", RAW_KEYS), ("cachex", CACHEX_KEYS))]

    violations: list[tuple[str, int, int]] = []
    last_seen: dict[str, dict[int, float]] = defaultdict(dict)  # key -> value -> last read end
    reads = [0]
    stop = threading.Event()
    lock = threading.Lock()

    def check(key: str, before: int, value: int, ended: float) -> None:
        with lock:
            reads[0] += 1
            if value < before:
                violations.append((key, before, value))
            seen = last_seen[key]
            if seen.get(value, 0.0) < ended:
                seen[value] = ended

    def sync_reader() -> None:
        while not stop.is_set():
            for key in keys:
                before = applied[made[key]] - base[key]
                value = cache.get(key)
                check(key, before, value, time.monotonic())

    async def async_readers() -> None:
        async def one() -> None:
            while not stop.is_set():
                for key in keys:
                    before = applied[made[key]] - base[key]
                    value = await cache.aget(key)
                    check(key, before, value, time.monotonic())
                await asyncio.sleep(0)

        await asyncio.gather(*(one() for _ in range(4)))

    threads = [threading.Thread(target=sync_reader) for _ in range(2)]
    threads.append(threading.Thread(target=lambda: asyncio.run(async_readers())))
    for t in threads:
        t.start()
    outputs = [w.communicate(timeout=60)[0] for w in writers]
    time.sleep(0.2)  # the last invalidations arrive; reads go on meanwhile
    stop.set()
    for t in threads:
        t.join()

    acks = [tuple(a) for out in outputs for a in json.loads(out)]
    assert all(w.returncode == 0 for w in writers)
    assert violations == [], violations[:5]
    stats = cache.near_stats()
    assert acks and reads[0] > len(acks) and stats["hits"] > 0
    assert stats["invalidations"] > 0
    for key in keys:  # every key's last write was applied and read back
        assert applied[made[key]] - base[key] >= max(v for k, v, _ in acks if k == key)
        assert cache.get(key) == max(v for k, v, _ in acks if k == key)

    windows = []
    for key, value, acked in acks:
        stale_ends = [t for v, t in last_seen[key].items() if v < value]
        windows.append(max(0.0, max(stale_ends, default=0.0) - acked) * 1000)
    windows.sort()
    p99 = windows[min(len(windows) - 1, int(len(windows) * 0.99))]
    print(f"\n[near staleness {topology}] {len(acks)} writes, {reads[0]} reads, "
          f"hits {stats['hits']}, invalidations {stats['invalidations']}; window from a "
          f"write's ack to the last stale read (ms): p50 {statistics.median(windows):.3f} "
          f"p99 {p99:.3f} max {windows[-1]:.3f}")
