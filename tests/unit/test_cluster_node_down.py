"""A Cluster node that cannot be reached is handled the same way sync and async.

The decision (cachex/topology/cluster.py, ``ClusterTopology``; the marking is done by the
base class's batch I/O, ``note_unreachable``, and by ``_Caller``): the failing call marks the
slot map stale and raises; it never re-reads the map itself. The executor re-reads it before
its retry, and every operation re-reads a stale map before it starts. (The async side used to
re-read inside the failing call while the sync side only marked it: this test catches any
such divergence.) No server: the node's I/O is replaced by a failing stub.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from cachex.config import parse_settings
from cachex.drivers import redis_driver
from cachex.routing import SLOTS
from cachex.topology.cluster import ClusterTopology, _ACaller, _Caller
from cachex.topology.cluster_map import SlotMap
from cachex.topology.idle import AsyncIdle, Checkout, Idle

DRIVER = redis_driver()
NODE = "127.0.0.1:7001"


def _topology() -> tuple[ClusterTopology, list[str]]:
    settings = parse_settings("unit-cluster", "redis+cluster://127.0.0.1:7001", {})
    topo = ClusterTopology(settings, DRIVER)
    topo.map = SlotMap([NODE] * SLOTS)
    topo.wire = True
    topo.freshness.installed()
    reads: list[str] = []

    def refresh() -> None:
        reads.append("sync")
        topo.freshness.installed()

    async def arefresh() -> None:
        reads.append("async")
        topo.freshness.installed()

    topo.refresh = refresh  # type: ignore[method-assign]
    topo.arefresh = arefresh  # type: ignore[method-assign]
    return topo, reads


def _down(*_: Any) -> Any:
    raise DRIVER.connection_error(f"Error while reading from {NODE}: Connection reset by peer")


async def _adown(*_: Any) -> Any:
    _down()


class _DeadClient:
    def execute_command(self, *args: Any) -> Any:
        _down()


class _ADeadClient:
    async def execute_command(self, *args: Any) -> Any:
        _down()


def _outcome(topo: ClusterTopology, reads: list[str], step: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        step()
        raised = None
    except Exception as exc:
        raised = type(exc).__name__
    return raised, topo.stale, len(reads)


@pytest.mark.parametrize("how", ["batch", "batches", "single-key"])
def test_node_down_is_handled_alike_sync_and_async(how: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The node's I/O fails where a connection is taken, below every batch method (the
    # wire path on: a plain MGET batch goes there, one node or several).
    for cls, take in ((Idle, _down), (AsyncIdle, _adown), (Checkout, _down)):
        monkeypatch.setattr(cls, "take", take)
    commands = [("MGET", "a", "b")]

    sync_topo, sync_reads = _topology()
    async_topo, async_reads = _topology()
    if how == "batch":
        sync_step: Callable[[], Any] = lambda: sync_topo.execute(NODE, commands)  # noqa: E731
        async_step: Callable[[], Any] = lambda: asyncio.run(  # noqa: E731
            async_topo.aexecute(NODE, commands))
    elif how == "batches":
        sync_step = lambda: sync_topo.execute_many([(NODE, commands)])  # noqa: E731
        async_step = lambda: asyncio.run(  # noqa: E731
            async_topo.aexecute_many([(NODE, commands)]))
    else:
        sync_step = lambda: _Caller(sync_topo, _DeadClient()).execute_command(  # noqa: E731
            "GET", "a")
        async_step = lambda: asyncio.run(  # noqa: E731
            _ACaller(async_topo, _ADeadClient()).execute_command("GET", "a"))

    sync_outcome = _outcome(sync_topo, sync_reads, sync_step)
    async_outcome = _outcome(async_topo, async_reads, async_step)
    assert sync_outcome == async_outcome
    assert sync_outcome[1:] == (True, 0), "marked stale, not re-read inside the failing call"


def _error() -> BaseException:
    return DRIVER.connection_error(f"Error while reading from {NODE}: Connection reset by peer")
