"""Real Redis/Valkey topologies on loopback, for cachex's tests, demo and benchmarks, and for
users' own test suites: a single server, independent shards, a cluster and a sentinel set.

Every lab lives in a temporary directory and is torn down when its context manager exits::

    from cachex.testing import cluster

    with cluster() as c:
        client = c.client()
        client.set("{user:1}:name", "ada")
        c.failover(c.slot_owner(client.keyslot("{user:1}:name")))

See docs/testing.md for the pytest plugin, the environment variables and the fault helpers.
"""

from __future__ import annotations

from cachex.testing.binaries import Binaries, find_binaries
from cachex.testing.clusters import Cluster, SlotMigration, cluster
from cachex.testing.errors import LabError
from cachex.testing.faults import client_pause, client_unpause, debug_sleep
from cachex.testing.flush import flushall
from cachex.testing.lab import Lab, server, servers
from cachex.testing.node import Server
from cachex.testing.ports import free_port
from cachex.testing.sentinels import SentinelSet, sentinel

__all__ = [
    "Binaries",
    "Cluster",
    "Lab",
    "LabError",
    "SentinelSet",
    "Server",
    "SlotMigration",
    "client_pause",
    "client_unpause",
    "cluster",
    "debug_sleep",
    "find_binaries",
    "flushall",
    "free_port",
    "sentinel",
    "server",
    "servers",
]
