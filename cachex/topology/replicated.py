"""Django's own multi-server layout: the first URL takes writes, the others serve reads.

Like Django's RedisCache, a read goes to a randomly chosen replica; replication is
asynchronous, so a read right after a write may not see it yet — unless
``OPTIONS["wait_replicas"]`` makes each write wait for the replicas' acknowledgement.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ..config import Settings
from ..drivers import Driver
from ..routing import Batch, single_batch
from .base import Topology


class ReplicatedTopology(Topology):
    name = "replicated"

    def __init__(self, settings: Settings, driver: Driver) -> None:
        super().__init__(settings, driver)
        self.primary, *self.replicas = settings.endpoints
        self.by_id = {e.identity: e for e in settings.endpoints}
        self._ack_nodes = frozenset({self.primary.identity})
        self.reads_located = False  # Django's semantics: a random replica per read

    def _pick(self, write: bool) -> Any:
        return self.primary if write else random.choice(self.replicas)

    def client(self, key: str, write: bool = True) -> Any:
        return self._acking(self._endpoint_client(self._pick(write)), write, False)

    def aclient(self, key: str, write: bool = True) -> Any:
        return self._acking(self._endpoint_aclient(self._pick(write)), write, True)

    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]:
        return single_batch(self._pick(write).identity, keys)

    def node_client(self, node: Any) -> Any:
        return self._endpoint_client(self.by_id[node])

    def anode_client(self, node: Any) -> Any:
        return self._endpoint_aclient(self.by_id[node])

    def primaries(self) -> list[Any]:
        return [self.primary.identity]

    def locate(self, key: str) -> Any:
        return self.primary.identity

    def colocated(self, a: str, b: str) -> bool:
        return True

    def disconnect(self) -> None:
        self._disconnect_endpoints(list(self.by_id.values()))
