"""Client-side shards on a ketama ring: each key on one node, each batch one node's keys."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from ..config import Settings
from ..drivers import Driver
from ..routing import Batch, Commands, Positions, Ring, RingNode, node_commands, plan_nodes
from .base import Topology
from .wire import AsyncWireClient, WireClient


class ShardedTopology(Topology):
    name = "sharded"
    reroutable = True

    def __init__(self, settings: Settings, driver: Driver) -> None:
        super().__init__(settings, driver)
        self.endpoints = {e.identity: e for e in settings.endpoints}
        self.ring = Ring([RingNode(e.identity, e.weight) for e in settings.endpoints])
        self._node_for = self.ring.node_for
        self._nodes_for = self.ring.nodes_for
        self._without: dict[frozenset[str], Ring | None] = {}

    def client(self, key: str, write: bool = True) -> Any:
        node = self._node_for(key)
        client = self._sync.get(node)
        if client is None:
            client = self._endpoint_client(self.endpoints[node])
        return WireClient(self, client) if self.wire else client

    def aclient(self, key: str, write: bool = True) -> Any:
        client = self._endpoint_aclient(self.endpoints[self._node_for(key)])
        return AsyncWireClient(self, client) if self.wire else client

    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]:
        return plan_nodes(keys, self._nodes_for(keys))

    def commands(self, name: str, keys: Sequence[str], write: bool = False
                 ) -> tuple[Commands[Any], Positions]:
        return node_commands(name, keys, self._nodes_for(keys))

    def node_client(self, node: Any) -> Any:
        client = self._sync.get(node)  # built already (a node is its endpoint's identity)
        if client is None:
            client = self._endpoint_client(self.endpoints[node])
        return client

    def anode_client(self, node: Any) -> Any:
        return self._endpoint_aclient(self.endpoints[node])

    def primaries(self) -> list[Any]:
        return list(self.endpoints)

    def locate(self, key: str) -> Any:
        return self._node_for(key)

    def fallback_node(self, key: str, down: Collection[str]) -> str | None:
        """Where ``key`` goes while the nodes in ``down`` are out: the next node on the ring
        (None when every node is down). Used by the failover policy's ``reroute`` mode."""
        gone = frozenset(down)
        if not gone:
            return self._node_for(key)  # type: ignore[no-any-return]
        try:
            ring = self._without[gone]
        except KeyError:
            if len(self._without) > 64:  # a handful of outage combinations at most
                self._without.clear()
            ring = self._without[gone] = self.ring.without(list(gone))
        return None if ring is None else ring.node_for(key)

    def disconnect(self) -> None:
        self._disconnect_endpoints(list(self.endpoints.values()))
