"""pytest fixtures serving real servers to a test suite.

Enable with ``pytest_plugins = ["cachex.testing.pytest_plugin"]`` in your top-level conftest.py
(or ``-p cachex.testing.pytest_plugin``). Each fixture is session-scoped and starts its lab the
first time a test asks for it, so a run that needs no cluster starts none.

Data is not flushed between tests: call :func:`cachex.testing.flushall` where it matters, or use
distinct keys. A test that pauses, kills or fails over nodes of a shared lab must put it back
(``resume()``/``restart()`` and ``wait_ready()``) or start its own lab with the context managers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cachex.testing.clusters import Cluster, cluster
from cachex.testing.lab import server, servers
from cachex.testing.node import Server
from cachex.testing.sentinels import SentinelSet, sentinel

__all__ = ["cachex_cluster", "cachex_sentinel", "cachex_server", "cachex_servers"]


@pytest.fixture(scope="session")
def cachex_server() -> Iterator[Server]:
    """One standalone server for the whole session."""
    with server() as node:
        yield node


@pytest.fixture(scope="session")
def cachex_servers() -> Iterator[list[Server]]:
    """Three independent servers (client-side shards) for the whole session."""
    with servers(3) as nodes:
        yield nodes


@pytest.fixture(scope="session")
def cachex_cluster() -> Iterator[Cluster]:
    """A 3-primary, 3-replica cluster for the whole session."""
    with cluster() as started:
        yield started


@pytest.fixture(scope="session")
def cachex_sentinel() -> Iterator[SentinelSet]:
    """Primary + replica watched by 3 sentinels (service ``mymaster``) for the whole session."""
    with sentinel() as started:
        yield started
