from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cachex.testing import Server, client_pause, client_unpause, debug_sleep, server

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def node() -> Iterator[Server]:
    with server() as started:
        yield started


def quick(node: Server, timeout: float = 0.3) -> redis.Redis:
    return node.client(
        socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def test_debug_sleep_stalls_the_node_without_blocking_the_caller(node: Server) -> None:
    quick(node).set("k", "v")
    sleeper = debug_sleep(node, 1.5)
    assert sleeper.is_alive()  # we got control back while the node sleeps
    with pytest.raises(redis.TimeoutError):
        quick(node).get("k")
    sleeper.join(10)
    assert not sleeper.is_alive()
    assert quick(node).get("k") == b"v"


def test_client_pause_write_blocks_writes_only(node: Server) -> None:
    quick(node).set("k", "v")
    client_pause(node, 5000, mode="WRITE")
    try:
        assert quick(node).get("k") == b"v"
        with pytest.raises(redis.TimeoutError):
            quick(node).set("k", "w")
    finally:
        client_unpause(node)
    assert quick(node, 5).get("k") in (b"v", b"w")  # the queued SET may have run by now


def test_client_pause_all_blocks_reads(node: Server) -> None:
    client_pause(node, 1000)  # ALL holds back CLIENT UNPAUSE too: let it expire
    with pytest.raises(redis.TimeoutError):
        quick(node).get("k")
    assert quick(node, 5).ping()


def test_client_pause_rejects_unknown_modes(node: Server) -> None:
    with pytest.raises(ValueError, match="mode"):
        client_pause(node, 10, mode="READ")
