"""A Sentinel-managed primary with replicas and sentinels on loopback.

Sentinels start already knowing each other and the replicas (``sentinel myid`` and
``known-sentinel`` / ``known-replica`` lines written by the lab), so the set is ready in about a
second instead of waiting for several hello/INFO periods. Failure detection is tuned short:
``down-after-milliseconds 1000`` and ``failover-timeout 3000``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.sentinel import Sentinel

from cachex.testing.errors import LabError
from cachex.testing.lab import Lab
from cachex.testing.node import HOST, Server, quote_value

__all__ = ["SentinelSet", "sentinel"]

DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
_POLL = 0.05
_UNHEALTHY = frozenset({"s_down", "o_down", "disconnected"})


class SentinelSet:
    """A running primary + replicas + sentinels. Roles are asked live from the sentinels."""

    service: str
    nodes: list[Server]
    sentinels: list[Server]
    password: str | None
    sentinel_password: str | None

    def __init__(
        self,
        service: str,
        nodes: list[Server],
        sentinels: list[Server],
        *,
        password: str | None,
        sentinel_password: str | None,
        replicas_command: str = "REPLICAS",
    ) -> None:
        self.service = service
        self.nodes = nodes
        self.sentinels = sentinels
        self.password = password
        self.sentinel_password = sentinel_password
        self._replicas_command = replicas_command

    def __repr__(self) -> str:
        return f"<SentinelSet {self.service} {len(self.nodes)} nodes {self.url}>"

    @property
    def url(self) -> str:
        """``redis+sentinel://127.0.0.1:S1,.../<service>/0``; passwords are in attributes only."""
        addresses = ",".join(node.address for node in self.sentinels)
        return f"redis+sentinel://{addresses}/{self.service}/0"

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``(host, port)`` of every sentinel, the form ``redis.sentinel.Sentinel`` takes."""
        return [(node.host, node.port) for node in self.sentinels]

    @property
    def primary_node(self) -> Server:
        """The primary the sentinels name now (GET-MASTER-ADDR-BY-NAME)."""
        errors: list[str] = []
        for sentinel_node in self._reachable(self.sentinels):
            try:
                return self._node_at(self._primary_port(sentinel_node))
            except (redis.RedisError, LabError) as exc:
                errors.append(f"{sentinel_node.name}: {exc}")
        raise LabError(f"no sentinel names a primary: {'; '.join(errors) or 'none running'}")

    @property
    def replica_nodes(self) -> list[Server]:
        """The data nodes other than the current primary."""
        primary = self.primary_node
        return [node for node in self.nodes if node is not primary]

    replicas_nodes = replica_nodes  # the spelling of the original brief

    def sentinel_client(self, **kwargs: Any) -> Sentinel:
        """A fresh ``redis.sentinel.Sentinel`` over every sentinel, with both passwords set.

        ``kwargs`` go to the data-node connections (``master_for``/``slave_for``).
        """
        options: dict[str, Any] = {"socket_timeout": 5.0, "password": self.password}
        options.update(kwargs)
        sentinel_kwargs = {"socket_timeout": 5.0, "password": self.sentinel_password}
        return Sentinel(self.sentinel_addresses, sentinel_kwargs=sentinel_kwargs, **options)

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until every running sentinel names the same primary (which says it is master),
        knows the other sentinels and sees every running replica healthy with its link up.
        Paused and stopped nodes are left out of the check.
        """
        self._wait_until(self._not_ready, time.monotonic() + timeout, "sentinel set not ready")

    def failover(self, timeout: float = 30) -> Server:
        """``SENTINEL FAILOVER``; returns the new primary once every sentinel names it, it says
        it is master, and the set is ready again.
        """
        deadline = time.monotonic() + timeout
        old = self.primary_node
        self._wait_until(self._request_failover, deadline, "SENTINEL FAILOVER refused")
        return self._await_switch(old, deadline)

    def wait_for_new_primary(self, old: Server, timeout: float = 60) -> Server:
        """After ``old`` was killed or paused: wait for the sentinels' own failover; returns the
        new primary once every running sentinel names it and the set is ready again.
        """
        return self._await_switch(old, time.monotonic() + timeout)

    # -- internals -------------------------------------------------------------------------

    def _request_failover(self) -> str | None:
        node = next(iter(self._reachable(self.sentinels)), None)
        if node is None:
            return "no sentinel is running"
        try:
            node.execute("SENTINEL", "FAILOVER", self.service)
        except redis.ResponseError as exc:
            # NOGOODSLAVE: the sentinel has no fresh word on a replica yet; INPROG: one running.
            if "NOGOODSLAVE" in str(exc) or "INPROG" in str(exc):
                return str(exc)
            raise
        return None

    def _await_switch(self, old: Server, deadline: float) -> Server:
        found: list[Server] = []

        def problem() -> str | None:
            ports = {self._primary_port(node) for node in self._reachable(self.sentinels)}
            if len(ports) != 1:
                return f"sentinels name different primaries: {sorted(ports)}"
            port = ports.pop()
            if port == old.port:
                return f"sentinels still name {old.name}"
            new = self._node_at(port)
            role = new.execute("ROLE")[0]
            if role != "master":
                return f"{new.name} is still {role}"
            found[:] = [new]
            return None

        self._wait_until(problem, deadline, f"no new primary replaced {old.name}")
        new = found[0]
        if old.is_running() and not old.paused:
            # Sentinel demotes a live old primary only ~10 s after the switch (it waits for
            # newer configs first); do it now so the set is whole when this returns.
            self._wait_until(lambda: self._demote(old, new), deadline, f"{old.name} not demoted")
        self._wait_until(self._not_ready, deadline, "sentinel set not ready after failover")
        return new

    @staticmethod
    def _demote(old: Server, new: Server) -> None:
        if old.execute("ROLE")[0] == "master":
            old.execute("REPLICAOF", new.host, new.port)
            old.execute("CONFIG", "REWRITE")  # as Sentinel does: a restart keeps the role

    def _not_ready(self) -> str | None:
        sentinels = list(self._reachable(self.sentinels))
        if not sentinels:
            return "no sentinel is running"
        ports = {self._primary_port(node) for node in sentinels}
        if len(ports) != 1:
            return f"sentinels name different primaries: {sorted(ports)}"
        primary = self._node_at(ports.pop())
        if not primary.is_running() or primary.paused:
            return f"the primary {primary.name} is not running"
        role = primary.execute("ROLE")[0]
        if role != "master":
            return f"{primary.name} is named primary but is {role}"
        replicas = [n for n in self._reachable(self.nodes) if n is not primary]
        for node in replicas:
            info = node.execute("INFO", "replication")
            if info.get("master_port") != primary.port or info.get("master_link_status") != "up":
                return f"{node.name} does not replicate {primary.name} yet"
        for node in sentinels:
            state = _pairs(node.execute("SENTINEL", "MASTER", self.service))
            flags = set(state.get("flags", "").split(","))
            if flags != {"master"}:
                return f"{node.name} flags the primary {','.join(sorted(flags))}"
            others = int(state.get("num-other-sentinels", -1))
            if others != len(self.sentinels) - 1:
                return f"{node.name} knows {others} other sentinels"
            listed = node.execute("SENTINEL", self._replicas_command, self.service)
            seen = {int(item["port"]): item for item in map(_pairs, listed)}
            for replica in replicas:
                item = seen.get(replica.port)
                if item is None:
                    return f"{node.name} does not know {replica.name}"
                # Not master-link-status: a sentinel refreshes it every 10 s only; the replica's
                # own INFO (checked above) is the live truth.
                if set(item.get("flags", "").split(",")) & _UNHEALTHY:
                    return f"{node.name} sees {replica.name} as {item.get('flags')}"
        return None

    def _primary_port(self, sentinel_node: Server) -> int:
        reply = sentinel_node.execute("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        if not reply:
            raise LabError(f"{sentinel_node.name} does not monitor {self.service!r}")
        return int(reply[1])

    def _node_at(self, port: int) -> Server:
        for node in self.nodes:
            if node.port == port:
                return node
        raise LabError(f"no lab data node listens on port {port}")

    @staticmethod
    def _reachable(nodes: list[Server]) -> Iterator[Server]:
        return (node for node in nodes if node.is_running() and not node.paused)

    @staticmethod
    def _wait_until(problem_of: Callable[[], str | None], deadline: float, what: str) -> None:
        while True:
            try:
                problem = problem_of()
            except (redis.RedisError, LabError) as exc:  # mid-failover: nodes come and go
                problem = f"{type(exc).__name__}: {exc}"
            if problem is None:
                return
            if time.monotonic() > deadline:
                raise LabError(f"{what}: {problem}")
            time.sleep(_POLL)


def _pairs(flat: list[Any]) -> dict[str, Any]:
    """A flat ``[k1, v1, k2, v2...]`` reply as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


@contextmanager
def sentinel(
    service: str = "mymaster",
    replicas: int = 1,
    sentinels: int = 3,
    password: str | None = None,
    sentinel_password: str | None = None,
    *,
    timeout: float = 30,
    flavor: str | None = None,
) -> Iterator[SentinelSet]:
    """A primary with ``replicas`` replicas, watched by ``sentinels`` sentinels (quorum: a
    majority). ``password`` protects the data nodes, ``sentinel_password`` the sentinels.
    ``flavor`` (``"redis"`` or ``"valkey"``) picks the server; default: ``CACHEX_FLAVOR``.
    """
    if replicas < 0 or sentinels < 1:
        raise LabError("sentinel() needs replicas >= 0 and sentinels >= 1")
    with Lab("sentinel", flavor=flavor) as lab:
        version = lab.binaries.version
        primary = lab.data_node("node0", password=password)
        lab.start([primary])
        follow = [f"replicaof {HOST} {primary.port}"]
        data = [primary] + [
            lab.data_node(f"node{i}", password=password, lines=follow)
            for i in range(1, replicas + 1)
        ]
        lab.start(data[1:])
        watchers: list[Server] = []
        ids: dict[str, str] = {}

        def body(node: Server) -> list[str]:
            out = [f"sentinel myid {ids[node.name]}"]
            if version >= (6, 2, 0):
                out.append("sentinel resolve-hostnames no")
            out += [
                f"sentinel monitor {service} {HOST} {primary.port} {sentinels // 2 + 1}",
                f"sentinel down-after-milliseconds {service} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {service} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {service} 1",
            ]
            if password is not None:
                out.append(f"sentinel auth-pass {service} {quote_value(password)}")
            if sentinel_password is not None:
                out.append(f"requirepass {quote_value(sentinel_password)}")
            out += [f"sentinel known-replica {service} {HOST} {n.port}" for n in data[1:]]
            out += [
                f"sentinel known-sentinel {service} {HOST} {other.port} {ids[other.name]}"
                for other in watchers
                if other is not node
            ]
            return out

        for i in range(sentinels):
            name = f"sentinel{i}"
            ids[name] = os.urandom(20).hex()
            watchers.append(lab.add(name, body, password=sentinel_password, sentinel=True))
        lab.start(watchers)
        started = SentinelSet(
            service,
            data,
            watchers,
            password=password,
            sentinel_password=sentinel_password,
            replicas_command="REPLICAS" if version >= (6, 2, 0) else "SLAVES",
        )
        started.wait_ready(timeout)
        yield started
