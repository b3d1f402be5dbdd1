"""A stalled server (DEBUG SLEEP, CLIENT PAUSE): the call times out, yet the command may run.

The policy retries timeouts here (``on: ["connection", "timeout"]``): GETs are retried through
the stall and succeed, while an INCR, which may already sit in the server's input buffer, is
not replayed. What the server then does with the timed-out INCR depends on the stall:

- DEBUG SLEEP blocks the server's event loop; when it wakes it reads the INCR before it sees
  that the client hung up, and runs it: applied exactly once.
- CLIENT PAUSE parks the client with its command; the client's disconnect (redis-py drops a
  connection that timed out) frees it, command and all: applied zero times.

Either way never twice, and the caller got a ``CommandTimeout`` saying the outcome is unknown.
The control case (``replay_unsafe``) shows what the guard prevents under DEBUG SLEEP: the INCR
is applied once per attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cachex.exceptions import CommandTimeout
from cachex.testing import Server, client_pause, debug_sleep, server
from tests.faults._util import make_cache, wait_until

pytestmark = pytest.mark.timeout(60)
TIMEOUT = 0.2
STALL = 0.9
APPLIED = {"debug_sleep": 1, "client_pause": 0}  # see the module docstring


@pytest.fixture(scope="module")
def node() -> Iterator[Server]:
    with server() as started:
        yield started


def stall_with(kind: str) -> Callable[[Server], Any]:
    if kind == "debug_sleep":
        return lambda node: debug_sleep(node, STALL)
    return lambda node: client_pause(node, int(STALL * 1000), "ALL")


def policy(replay_unsafe: bool = False) -> dict[str, Any]:
    return {"retry": {"attempts": 10, "backoff": 0.05, "max_backoff": 0.1, "deadline": 5,
                      "on": ["connection", "timeout"], "replay_unsafe": replay_unsafe},
            # keep the breaker out of this test: it would open after a few timeouts
            "failover": {"threshold": 0}}


def warm_up(cache: Any, key: str) -> None:
    """One incr beforehand: incr sends the script by digest (EVALSHA) and only on NOSCRIPT in
    full, so the first incr on a fresh server would answer NOSCRIPT after the stall instead
    of counting. With the script cached the stalled incr is the real thing."""
    assert cache.incr(key) == 1


def stored(node: Server, cache: Any, key: str) -> int:
    """The counter as the server has it once the stall is over."""
    wait_until(lambda: node.ping(timeout=0.1), 5, "the stall to end")
    return int(node.client().get(cache.make_key(key)))


@pytest.mark.parametrize("kind", ["debug_sleep", "client_pause"])
def test_incr_applied_once_while_gets_are_retried(node: Server, kind: str) -> None:
    cache = make_cache(node.url, timeout=TIMEOUT, **policy())
    key = f"counter-{kind}"
    cache.set(key, 0)
    warm_up(cache, key)
    cache.set("payload", "value")
    stall_with(kind)(node)
    with pytest.raises(CommandTimeout):
        cache.incr(key)  # sent, timed out, not replayed
    retries_before = cache.policy_stats()["retries"]
    assert cache.get("payload") == "value"  # retried through the stall
    retried = cache.policy_stats()["retries"] - retries_before
    print(f"\n[measure] {kind}: GET needed {retried} retries; INCR raised after one timeout")
    assert retried >= 1
    assert stored(node, cache, key) == APPLIED[kind] + 1


@pytest.mark.parametrize("kind", ["debug_sleep", "client_pause"])
def test_incr_applied_once_async(node: Server, kind: str) -> None:
    cache = make_cache(node.url, timeout=TIMEOUT, **policy())
    key = f"acounter-{kind}"

    async def scenario() -> None:
        await cache.aset(key, 0)
        assert await cache.aincr(key) == 1  # the server now has the script cached
        await cache.aset("apayload", "value")
        await asyncio.to_thread(stall_with(kind), node)
        with pytest.raises(CommandTimeout):
            await cache.aincr(key)
        assert await cache.aget("apayload") == "value"

    asyncio.run(scenario())
    assert stored(node, cache, key) == APPLIED[kind] + 1


def test_control_replaying_incr_applies_it_more_than_once(node: Server) -> None:
    """Without the guard the same scenario double-counts: what the tests above rule out."""
    cache = make_cache(node.url, timeout=TIMEOUT, **policy(replay_unsafe=True))
    key = "counter-replayed"
    cache.set(key, 0)
    warm_up(cache, key)
    stall_with("debug_sleep")(node)
    result = cache.incr(key)  # replayed until the stall ends
    total = stored(node, cache, key) - 1
    print(f"\n[measure] replay_unsafe: incr returned {result}, counter went up by {total}")
    assert total >= 2
