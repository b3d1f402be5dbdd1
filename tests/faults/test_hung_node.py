"""A SIGSTOPped shard: calls time out instead of being refused. Once the circuit opens,
calls to it stop waiting for the socket timeout; without a breaker each one waits in full."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cachex.exceptions import CommandTimeout, NodeUnavailable
from cachex.testing import Server, servers
from tests.faults._util import identity, keys_per_node, make_cache, wait_until

pytestmark = pytest.mark.timeout(120)
TIMEOUT = 0.25
CALLS = 20


@pytest.fixture
def shards() -> Iterator[list[Server]]:
    with servers(3) as nodes:
        try:
            yield nodes
        finally:
            for node in nodes:
                if node.paused:
                    node.resume()


def timed(call: Any) -> tuple[float, Any]:
    started = time.monotonic()
    try:
        result = call()
    except Exception as exc:
        result = exc
    return time.monotonic() - started, result


def setup(shards: list[Server], pipelining: bool = False, **failover: Any
          ) -> tuple[Any, list[str], list[str]]:
    cache = make_cache([s.url for s in shards], timeout=TIMEOUT, failover=failover,
                       pipelining=pipelining)
    groups = keys_per_node(cache, CALLS)
    victim = identity(shards[0])
    live = [k for node, ks in groups.items() if node != victim for k in ks]
    return cache, groups[victim], live


def test_open_circuit_stops_the_waiting(shards: list[Server]) -> None:
    guarded, hung, live = setup(shards, threshold=3, cooldown=30)
    unguarded, _, _ = setup(shards, threshold=0)
    for k in hung + live:
        guarded.set(k, "v")
    shards[0].pause()

    with_breaker = [timed(lambda k=k: guarded.get(k)) for k in hung]
    without = [timed(lambda k=k: unguarded.get(k)) for k in hung[:8]]

    first = with_breaker[:3]
    rest = with_breaker[3:]
    assert all(isinstance(r, CommandTimeout) for _, r in first)
    assert all(isinstance(r, NodeUnavailable) for _, r in rest)
    assert all(isinstance(r, CommandTimeout) for _, r in without)
    rest_total = sum(t for t, _ in rest)
    print(f"\n[measure] SIGSTOP sync: circuit closed {sum(t for t, _ in first) / 3 * 1000:.0f} "
          f"ms/call (timeouts), open {rest_total / len(rest) * 1000:.2f} ms/call; "
          f"no breaker {sum(t for t, _ in without) / len(without) * 1000:.0f} ms/call")
    # Qualitative, with a wide margin: 17 refused calls cost far less than 17 timeouts.
    assert rest_total < len(rest) * TIMEOUT / 5
    assert all(t >= TIMEOUT * 0.8 for t, _ in without)  # each one waited for the socket
    # other shards are not affected
    assert all(guarded.get(k) == "v" for k in live)
    stats = guarded.policy_stats()
    assert stats["circuit_opens"] == 1 and stats["short_circuits"] == len(rest)


@pytest.mark.parametrize("pipelining", [False, True])  # True: the burst is one batch
def test_open_circuit_stops_the_waiting_async(shards: list[Server], pipelining: bool) -> None:
    guarded, hung, live = setup(shards, pipelining, threshold=3, cooldown=30)
    for k in hung + live:
        guarded.set(k, "v")
    shards[0].pause()

    async def scenario() -> tuple[float, list[Any], float]:
        # A burst: everything already in flight waits for its timeout and opens the circuit.
        started = time.monotonic()
        burst = await asyncio.gather(*(guarded.aget(k) for k in hung[:10]),
                                     return_exceptions=True)
        burst_time = time.monotonic() - started
        assert all(isinstance(r, CommandTimeout) for r in burst)
        later = []
        for k in hung:
            t0 = time.monotonic()
            try:
                await guarded.aget(k)
            except NodeUnavailable:
                later.append(time.monotonic() - t0)
        assert all([await guarded.aget(k) == "v" for k in live])
        return burst_time, later, sum(later)

    burst_time, later, later_total = asyncio.run(scenario())
    print(f"\n[measure] SIGSTOP async: burst of 10 in flight {burst_time * 1000:.0f} ms; then "
          f"{len(later)} calls refused in {later_total * 1000:.1f} ms total")
    assert len(later) == len(hung)
    assert later_total < len(later) * TIMEOUT / 5


@pytest.mark.parametrize("mode", ["raise", "fail_open"])
def test_circuit_probes_and_closes_after_resume(shards: list[Server], mode: str) -> None:
    cache, hung, _ = setup(shards, mode=mode, threshold=2, cooldown=0.4)
    cache.set(hung[0], "v")
    shards[0].pause()
    for _ in range(2):
        if mode == "raise":
            with pytest.raises(CommandTimeout):
                cache.get(hung[0])
        else:
            assert cache.get(hung[0], "miss") == "miss"
    t, result = timed(lambda: cache.get(hung[0], "miss"))
    assert t < TIMEOUT / 2
    assert isinstance(result, NodeUnavailable) if mode == "raise" else result == "miss"
    shards[0].resume()
    started = time.monotonic()

    def served() -> bool:
        try:
            return bool(cache.get(hung[0]) == "v")
        except NodeUnavailable:
            return False

    wait_until(served, 5, "the probe to close the circuit")
    print(f"\n[measure] {mode}: traffic back {time.monotonic() - started:.2f}s after resume "
          "(cooldown 0.4s)")
    assert cache.policy_stats()["circuit_closes"] == 1
