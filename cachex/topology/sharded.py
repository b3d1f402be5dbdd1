"""Client-side shards on a ketama ring: each key on one node, each batch one node's keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import Settings
from ..drivers import Driver
from ..routing import Batch, Ring, RingNode, plan
from .base import Topology


class ShardedTopology(Topology):
    name = "sharded"

    def __init__(self, settings: Settings, driver: Driver) -> None:
        super().__init__(settings, driver)
        self.endpoints = {e.identity: e for e in settings.endpoints}
        self.ring = Ring([RingNode(e.identity, e.weight) for e in settings.endpoints])
        self._node_for = self.ring.node_for

    def client(self, key: str, write: bool = True) -> Any:
        return self._endpoint_client(self.endpoints[self._node_for(key)])

    def aclient(self, key: str, write: bool = True) -> Any:
        return self._endpoint_aclient(self.endpoints[self._node_for(key)])

    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]:
        return plan(keys, self._node_for)

    def node_client(self, node: Any) -> Any:
        return self._endpoint_client(self.endpoints[node])

    def anode_client(self, node: Any) -> Any:
        return self._endpoint_aclient(self.endpoints[node])

    def primaries(self) -> list[Any]:
        return list(self.endpoints)

    def locate(self, key: str) -> Any:
        return self._node_for(key)

    def disconnect(self) -> None:
        self._disconnect_endpoints(list(self.endpoints.values()))
