"""One server: no hashing, every key and every batch goes to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import Settings
from ..drivers import Driver
from ..routing import Batch, single_batch
from .base import Topology
from .wire import AsyncWireClient, WireClient


class SingleTopology(Topology):
    name = "single"

    def __init__(self, settings: Settings, driver: Driver) -> None:
        super().__init__(settings, driver)
        self.endpoint = settings.endpoints[0]
        self._node = self.endpoint.identity

    def client(self, key: str, write: bool = True) -> Any:
        client = self._sync.get(self._node)
        if client is None:
            client = self._endpoint_client(self.endpoint)
        return WireClient(self, client) if self.wire else client

    def aclient(self, key: str, write: bool = True) -> Any:
        client = self._endpoint_aclient(self.endpoint)
        return AsyncWireClient(self, client) if self.wire else client

    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]:
        return single_batch(self._node, keys)

    def node_client(self, node: Any) -> Any:
        return self._endpoint_client(self.endpoint)

    def anode_client(self, node: Any) -> Any:
        return self._endpoint_aclient(self.endpoint)

    def primaries(self) -> list[Any]:
        return [self._node]

    def locate(self, key: str) -> Any:
        return self._node

    def colocated(self, a: str, b: str) -> bool:
        return True

    def disconnect(self) -> None:
        self._disconnect_endpoints([self.endpoint])
