"""Real server labs shared by the whole test session, started on first use.

One lab per kind for the session (servers take seconds to start, tests take milliseconds);
``stop_all`` runs at session end, and ``cachex.testing`` itself kills leftovers at exit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from cachex import testing

_lock = threading.Lock()
_stack = contextlib.ExitStack()
_labs: dict[str, Any] = {}


def lab(kind: str) -> Any:
    """``single`` -> Server, ``shards`` -> list[Server] (3), ``cluster`` -> Cluster,
    ``sentinel`` -> SentinelSet, ``replicated`` -> [primary, replica]."""
    with _lock:
        if kind not in _labs:
            if kind == "single":
                _labs[kind] = _stack.enter_context(testing.server())
            elif kind == "shards":
                _labs[kind] = _stack.enter_context(testing.servers(3))
            elif kind == "cluster":
                _labs[kind] = _stack.enter_context(testing.cluster())
            elif kind == "sentinel":
                _labs[kind] = _stack.enter_context(testing.sentinel())
            elif kind == "replicated":
                _labs[kind] = primary, replica = _stack.enter_context(testing.servers(2))
                replica.client().execute_command("REPLICAOF", primary.host, primary.port)
                _wait_for_link(replica)
            else:
                raise KeyError(kind)
        return _labs[kind]


def location(topology: str) -> Any:
    """A LOCATION for ``topology`` on the session's labs."""
    if topology == "single":
        return lab("single").url
    if topology == "sharded":
        return [s.url for s in lab("shards")]
    if topology == "cluster":
        return lab("cluster").url
    if topology == "sentinel":
        return lab("sentinel").url
    if topology == "replicated":
        return [s.url for s in lab("replicated")]
    raise KeyError(topology)


def options(topology: str) -> dict[str, Any]:
    """OPTIONS a topology needs on these labs (replicated: read-your-writes via WAIT)."""
    if topology == "replicated":
        return {"topology": "replicated", "wait_replicas": 1}
    return {}


def _wait_for_link(replica: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = replica.client().info("replication")
        if info.get("master_link_status") == "up":
            return
        time.sleep(0.05)
    raise RuntimeError(f"replica {replica.address} did not connect to its primary")


def stop_all() -> None:
    with _lock:
        _labs.clear()
        _stack.close()
