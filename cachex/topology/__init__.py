"""Topologies own connections: one small module per topology."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..drivers import Driver
from .base import Topology

_lock = threading.Lock()
_topologies: dict[Any, Topology] = {}


def _factories() -> dict[str, Callable[[Settings, Driver], Topology]]:
    from .replicated import ReplicatedTopology
    from .sharded import ShardedTopology
    from .single import SingleTopology

    out: dict[str, Callable[[Settings, Driver], Topology]] = {
        "single": SingleTopology, "sharded": ShardedTopology, "replicated": ReplicatedTopology,
    }
    try:
        from .cluster import ClusterTopology
        out["cluster"] = ClusterTopology
    except ImportError:
        pass
    try:
        from .sentinel import SentinelTopology
        out["sentinel"] = SentinelTopology
    except ImportError:
        pass
    return out


def topology_for(settings: Settings, driver: Driver) -> Topology:
    """The process-wide topology for these connection settings and driver."""
    key = (driver.name, settings.registry_key)
    topo = _topologies.get(key)
    if topo is None:
        with _lock:
            topo = _topologies.get(key)
            if topo is None:
                factory = _factories().get(settings.topology)
                if factory is None:
                    from django.core.exceptions import ImproperlyConfigured
                    raise ImproperlyConfigured(
                        f"cachex cache {settings.alias!r}: the {settings.topology} topology "
                        "is not available in this version of cachex"
                    )
                topo = _topologies[key] = factory(settings, driver)
    return topo


__all__ = ["Topology", "topology_for"]
