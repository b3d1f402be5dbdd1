"""Real server labs shared by the whole test session, started on first use.

One lab per kind for the session (servers take seconds to start, tests take milliseconds);
``stop_all`` runs at session end, and ``cachex.testing`` itself kills leftovers at exit.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from cachex import testing

_lock = threading.Lock()
_stack = contextlib.ExitStack()
_labs: dict[str, Any] = {}


def lab(kind: str) -> Any:
    """``single`` -> Server, ``shards`` -> list[Server] (3), ``cluster`` -> Cluster,
    ``sentinel`` -> SentinelSet."""
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
    raise KeyError(topology)


def stop_all() -> None:
    with _lock:
        _labs.clear()
        _stack.close()
