"""Multi-key operations are one round-trip per node, proven with INFO commandstats."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest


def stats(server: Any) -> Counter[str]:
    info = server.client().info("commandstats")
    return Counter({name: int(v["calls"]) for name, v in info.items()})


def delta(before: Counter[str], after: Counter[str], name: str) -> int:
    return after[f"cmdstat_{name}"] - before[f"cmdstat_{name}"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("driver", ["redis", "valkey"])
def test_get_many_is_one_mget_per_node(shard_servers: Any, make_cache: Any, driver: str,
                                       mode: str) -> None:
    cache = make_cache([s.url for s in shard_servers], driver, KEY_PREFIX=f"grp-{driver}-{mode}")
    data = {f"key{i}": i for i in range(100)}
    holders = Counter(cache._topology.locate(cache.make_key(k)) for k in data)
    assert len(holders) == 3  # the 100 keys really span the 3 nodes

    before = [stats(s) for s in shard_servers]
    if mode == "sync":
        cache.set_many(data)
        got = cache.get_many(list(data))
        cache.delete_many(list(data))
    else:
        async def run() -> Any:
            await cache.aset_many(data)
            result = await cache.aget_many(list(data))
            await cache.adelete_many(list(data))
            return result
        got = asyncio.run(run())
    after = [stats(s) for s in shard_servers]

    assert got == data
    for server, b, a in zip(shard_servers, before, after):
        node = f"{server.host}:{server.port}"
        assert delta(b, a, "mget") == 1, node       # exactly one MGET per node
        assert delta(b, a, "get") == 0, node        # and no per-key GETs
        assert delta(b, a, "del") == 1, node        # one DEL per node for delete_many
        assert delta(b, a, "set") == holders[node]  # set_many: that node's keys, pipelined
