"""Redis/Valkey Cluster.

cachex keeps its own copy of the slot map (CLUSTER SLOTS) and talks to each node through a
plain pooled client: a single-key command goes straight to the slot's owner, a multi-key
request becomes one pipeline per node holding one command per slot. Anything the map got
wrong (MOVED, ASK, TRYAGAIN during a slot migration or after a failover) is re-run key by key
through the driver's own cluster client, which follows redirects, and the map is refreshed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..config import Endpoint, Settings
from ..drivers import Driver
from ..exceptions import ClusterDown
from ..routing import Batch, key_slot, plan_by_slot
from . import pools
from .base import Topology
from .cluster_map import SlotMap, parse_cluster_slots, split_address

Command = tuple[Any, ...]
SPLITTABLE = {"MGET": "GET", "DEL": "DEL", "UNLINK": "UNLINK", "EXISTS": "EXISTS",
              "TOUCH": "TOUCH"}


def fallback_commands(command: Command) -> tuple[list[Command], Callable[[list[Any]], Any]]:
    """A multi-key command as single-key commands, and how to combine their replies."""
    name = str(command[0]).upper()
    single = SPLITTABLE.get(name)
    if single is None or len(command) <= 2:
        return [command], lambda replies: replies[0]
    combine: Callable[[list[Any]], Any] = list if name == "MGET" else sum
    return [(single, key) for key in command[1:]], combine


class ClusterTopology(Topology):
    name = "cluster"

    def __init__(self, settings: Settings, driver: Driver) -> None:
        super().__init__(settings, driver)
        self.seeds = settings.endpoints
        self.map: SlotMap | None = None
        self.stale = True  # no map yet: the first sync or async use fetches one
        self._map_lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._redirects = (driver.ask_error, driver.try_again_error)
        self._node_down = (driver.connection_error, driver.timeout_error)
        self._cluster: Any = None

    # -- slot map ----------------------------------------------------------------------
    def endpoint(self, addr: str) -> Endpoint:
        ep = self._endpoints.get(addr)
        if ep is None:
            host, port = split_address(addr)
            seed = self.seeds[0]
            ep = self._endpoints[addr] = Endpoint(host, port, 0, None, seed.username,
                                                  seed.password, seed.tls)
        return ep

    def _candidates(self) -> list[str]:
        known = []
        if self.map is not None:
            known = self.map.primaries + [r for rs in self.map.replicas.values() for r in rs]
        return list(dict.fromkeys(known + [s.address for s in self.seeds]))

    def _install(self, reply: Any, addr: str) -> bool:
        new = parse_cluster_slots(reply, split_address(addr)[0])
        if not new.complete:
            return False
        self.map, self.stale = new, False
        return True

    def refresh(self) -> None:
        """Fetch the slot map from the first node that serves a complete one."""
        with self._map_lock:
            errors = []
            for addr in self._candidates():
                try:
                    reply = self._endpoint_client(self.endpoint(addr)).execute_command(
                        "CLUSTER", "SLOTS")
                except self.driver.base_error as exc:
                    errors.append(f"{addr}: {exc}")
                    continue
                if self._install(reply, addr):
                    return
                errors.append(f"{addr}: slot map incomplete")
        raise ClusterDown(f"cachex cache {self.settings.alias!r}: no cluster node served a "
                          f"complete slot map ({'; '.join(errors)})")

    async def arefresh(self) -> None:
        errors = []
        for addr in self._candidates():
            try:
                reply = await self._endpoint_aclient(self.endpoint(addr)).execute_command(
                    "CLUSTER", "SLOTS")
            except self.driver.base_error as exc:
                errors.append(f"{addr}: {exc}")
                continue
            if self._install(reply, addr):
                return
            errors.append(f"{addr}: slot map incomplete")
        raise ClusterDown(f"cachex cache {self.settings.alias!r}: no cluster node served a "
                          f"complete slot map ({'; '.join(errors)})")

    def _owners(self) -> list[str | None]:
        if self.map is None:
            self.refresh()
        assert self.map is not None
        return self.map.owners

    def note_redirect(self, exc: BaseException) -> None:
        """MOVED means the map is out of date (a failover or a finished migration)."""
        if isinstance(exc, self.driver.moved_error):
            self.stale = True

    # -- routing -----------------------------------------------------------------------
    def locate(self, key: str) -> Any:
        return self._owners()[key_slot(key)]

    def colocated(self, a: str, b: str) -> bool:
        return key_slot(a) == key_slot(b)

    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]:
        return plan_by_slot(keys, key_slot, self._owners())

    def primaries(self) -> list[Any]:
        self._owners()
        assert self.map is not None
        return self.map.primaries

    def node_label(self, node: Any) -> str:
        return f"cluster node {node}"

    # -- clients -----------------------------------------------------------------------
    def client(self, key: str, write: bool = True) -> Any:
        if self.stale and self.map is not None:
            self.refresh()
        if self.settings.read_from_replicas and not write:
            return self.cluster_client()
        return _Caller(self, self._endpoint_client(self.endpoint(self.locate(key))))

    def aclient(self, key: str, write: bool = True) -> Any:
        if self.settings.read_from_replicas and not write:
            return self.acluster_client()
        return _ACaller(self, self._endpoint_aclient(self.endpoint(self.locate(key))))

    def node_client(self, node: Any) -> Any:
        return self._endpoint_client(self.endpoint(node))

    def anode_client(self, node: Any) -> Any:
        return self._endpoint_aclient(self.endpoint(node))

    def _cluster_kwargs(self, asynchronous: bool) -> dict[str, Any]:
        seed, pool = self.seeds[0], self.settings.pool
        kw: dict[str, Any] = {
            "username": seed.username, "password": seed.password,
            "socket_timeout": pool.socket_timeout,
            "socket_connect_timeout": pool.socket_connect_timeout,
            "retry": self.driver.async_no_retry() if asynchronous else self.driver.no_retry(),
            "read_from_replicas": self.settings.read_from_replicas,
        }
        if seed.tls:
            kw["ssl"] = True
            kw.update(dict(pool.ssl))
        if pool.client_name:
            kw["client_name"] = pool.client_name
        return kw

    def cluster_client(self) -> Any:
        """The driver's own cluster client: follows MOVED/ASK for the slow path."""
        if self._cluster is None:
            with self._map_lock:
                if self._cluster is None:
                    nodes = [self.driver.cluster_node(s.host, s.port) for s in self.seeds]
                    self._cluster = self.driver.cluster(startup_nodes=nodes,
                                                        **self._cluster_kwargs(False))
        return self._cluster

    def acluster_client(self) -> Any:
        clients = pools.loop_clients().clients
        key = (self._token, "cluster")
        client = clients.get(key)
        if client is None:
            nodes = [self.driver.async_cluster_node(s.host, s.port) for s in self.seeds]
            client = clients[key] = self.driver.async_cluster(
                startup_nodes=nodes, **self._cluster_kwargs(True))
        return client

    # -- batches -----------------------------------------------------------------------
    def execute(self, node: Any, commands: list[Command]) -> list[Any]:
        try:
            replies = super().execute_collect(node, commands)
        except self._node_down:
            self.stale = True
            raise
        todo = self._needs_fallback(replies)
        if todo:
            cluster = self.cluster_client()
            for i in todo:
                singles, combine = fallback_commands(commands[i])
                replies[i] = combine([cluster.execute_command(*c) for c in singles])
        self._raise_errors(replies)
        return replies

    def execute_many(self, batches: Sequence[tuple[Any, list[Command]]]
                     ) -> list[list[Any] | BaseException]:
        results = super().execute_many(batches)
        for (_, commands), result in zip(batches, results):
            if isinstance(result, BaseException):
                if isinstance(result, self._node_down):
                    self.stale = True
                continue
            todo = self._needs_fallback(result)
            if todo:
                cluster = self.cluster_client()
                for i in todo:
                    singles, combine = fallback_commands(commands[i])
                    result[i] = combine([cluster.execute_command(*c) for c in singles])
        return results

    async def aexecute(self, node: Any, commands: list[Command]) -> list[Any]:
        try:
            replies = await super().aexecute_collect(node, commands)
        except self._node_down:
            self.stale = True
            await self.arefresh()
            raise
        todo = self._needs_fallback(replies)
        if todo:
            cluster = self.acluster_client()
            for i in todo:
                singles, combine = fallback_commands(commands[i])
                replies[i] = combine(list(await asyncio.gather(
                    *(cluster.execute_command(*c) for c in singles))))
        self._raise_errors(replies)
        return replies

    def _needs_fallback(self, replies: list[Any]) -> list[int]:
        todo = []
        for i, reply in enumerate(replies):
            if isinstance(reply, self._redirects):
                self.note_redirect(reply)
                todo.append(i)
        return todo

    @staticmethod
    def _raise_errors(replies: list[Any]) -> None:
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply

    def disconnect(self) -> None:
        self._disconnect_endpoints(list(self._endpoints.values()))
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


class _Caller:
    """A node's client for single-key commands, with the redirect slow path."""

    __slots__ = ("client", "topo")

    def __init__(self, topo: ClusterTopology, client: Any) -> None:
        self.topo = topo
        self.client = client

    def execute_command(self, *args: Any) -> Any:
        try:
            return self.client.execute_command(*args)
        except self.topo._redirects as exc:
            self.topo.note_redirect(exc)
            return self.topo.cluster_client().execute_command(*args)
        except self.topo._node_down:
            self.topo.stale = True  # a failover may be under way: re-read the map next time
            raise


class _ACaller(_Caller):
    __slots__ = ()

    async def execute_command(self, *args: Any) -> Any:  # type: ignore[override]
        try:
            return await self.client.execute_command(*args)
        except self.topo._redirects as exc:
            self.topo.note_redirect(exc)
            return await self.topo.acluster_client().execute_command(*args)
        except self.topo._node_down:
            self.topo.stale = True
            await self.topo.arefresh()
            raise
