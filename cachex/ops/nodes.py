"""Live looks at nodes: one short-lived connection per node, small timeouts, no retries.

Nothing here shares a pool with the alias's own traffic, so a probe cannot exhaust the site's
pool or trip its circuit breaker; and a node that does not answer costs at most ``timeout``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from ..config import Endpoint, PoolOptions
from ..drivers import Driver
from ..topology.connect import connection_kwargs

# Keys counted per node before the count is reported as a lower bound ("at least").
KEY_SCAN_BUDGET = 100_000


@dataclass
class NodeInfo:
    """What one node said (or why it said nothing)."""

    address: str
    role: str  # primary | replica | shard | sentinel
    reachable: bool = False
    error: str | None = None
    version: str | None = None
    ping_ms: float | None = None
    used_memory: int | None = None
    used_memory_human: str | None = None
    maxmemory: int | None = None
    maxmemory_policy: str | None = None
    connected_clients: int | None = None
    keys: int | None = None
    keys_exact: bool = True
    breaker: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        out.update(self.extra)
        return out


def client_for(driver: Driver, endpoint: Endpoint, pool: PoolOptions, timeout: float) -> Any:
    """A plain driver client for one endpoint with ``timeout`` on connect and reply."""
    quick = replace(pool, socket_timeout=timeout, socket_connect_timeout=timeout,
                    max_connections=2, health_check_interval=0)
    kw = connection_kwargs(driver, endpoint, quick, asynchronous=False)
    return driver.client(connection_pool=driver.pool(**kw))


def close(client: Any) -> None:
    try:
        client.connection_pool.disconnect()
    except Exception:  # closing a probe must never mask what it found
        pass


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def probe(driver: Driver, endpoint: Endpoint, pool: PoolOptions, role: str, *,
          timeout: float, key_pattern: str | None, address: str | None = None) -> NodeInfo:
    """PING (timed), INFO, and the number of keys matching ``key_pattern`` (None: no count)."""
    info = NodeInfo(address or endpoint.address, role)
    client = client_for(driver, endpoint, pool, timeout)
    try:
        client.ping()  # connects: the timed PING below measures a round-trip only
        started = time.perf_counter()
        client.ping()
        info.ping_ms = round((time.perf_counter() - started) * 1000, 3)
        info.reachable = True
        fill_info(info, client.info())
        if key_pattern is not None and role != "sentinel":
            info.keys, info.keys_exact = count_keys(client, key_pattern)
    except driver.base_error as exc:
        info.error = describe_error(exc)
    except OSError as exc:
        info.error = describe_error(exc)
    finally:
        close(client)
    return info


def fill_info(info: NodeInfo, raw: dict[str, Any]) -> None:
    info.version = str(raw.get("valkey_version") or raw.get("redis_version") or "") or None
    if raw.get("server_name"):
        info.extra["server"] = str(raw["server_name"])
    elif raw.get("valkey_version"):
        info.extra["server"] = "valkey"
    else:
        info.extra["server"] = "redis"
    info.used_memory = _int(raw.get("used_memory"))
    info.used_memory_human = raw.get("used_memory_human")
    info.maxmemory = _int(raw.get("maxmemory"))
    info.maxmemory_policy = raw.get("maxmemory_policy")
    info.connected_clients = _int(raw.get("connected_clients"))
    server_role = raw.get("role")
    if server_role is not None and info.role != "sentinel":
        info.extra["server_role"] = "primary" if server_role == "master" else "replica"
    if raw.get("master_link_status") is not None:
        info.extra["link"] = raw["master_link_status"]


def count_keys(client: Any, pattern: str, budget: int = KEY_SCAN_BUDGET) -> tuple[int, bool]:
    """Keys matching ``pattern`` by SCAN (never KEYS); (count, exact)."""
    cursor, seen = 0, 0
    while True:
        cursor, batch = client.scan(cursor, match=pattern, count=1000)
        seen += len(batch)
        if int(cursor) == 0:
            return seen, True
        if seen >= budget:
            return seen, False


def sample_keys(client: Any, pattern: str, limit: int) -> list[str]:
    """Up to ``limit`` key names matching ``pattern`` (for ``ring``; never printed)."""
    out: list[str] = []
    cursor = 0
    while len(out) < limit:
        cursor, batch = client.scan(cursor, match=pattern, count=1000)
        out += [k.decode(errors="replace") if isinstance(k, bytes) else str(k) for k in batch]
        if int(cursor) == 0:
            break
    return out[:limit]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
