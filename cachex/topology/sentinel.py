"""A Sentinel-managed primary (plus replicas): the sentinels say where the primary is now.

Clients come from the driver's own ``Sentinel.master_for``/``slave_for``: their pools ask the
sentinels for an address each time they open a connection, and drop a connection that finds
the old primary demoted (READONLY), so after a failover the next connection, which is what a
cachex retry opens, reaches the new primary. cachex adds an error that says which alias and
which sentinels failed, and keeps the driver's own retries off.

Multi-key batches take the fast path (base.py, wire.py) on connections from those same
pools; there cachex does the driver's READONLY check itself: a READONLY reply closes the
connection and the ones parked for the pool, so the retry's new connection asks the
sentinels again.

Node names in plans are roles, not addresses (the address changes at each failover):
``"primary"`` for writes, ``"replica"`` for reads when ``read_from_replicas`` is set.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

from ..config import Settings
from ..drivers import Driver
from ..routing import Batch, single_batch
from ..steps import Io, Steps, aperform, perform
from . import pools
from .base import Topology
from .connect import bounded_sentinel_pool, pool_wait
from .sentinel_support import (
    PRIMARY,
    REPLICA,
    ROLES,
    SentinelReport,
    judge,
    no_primary_message,
    node_kwargs,
    sentinel_addresses,
    sentinel_kwargs,
    unreachable,
)

__all__ = ["SentinelTopology"]


def _address(sentinel_client: Any) -> str:
    kw = sentinel_client.connection_pool.connection_kwargs
    return f"{kw.get('host')}:{kw.get('port')}"


class _Discovery:
    """Finding the primary as I/O-free steps, shared by the sync and async managers: ``ask``
    names the next sentinel to query, ``answer`` takes its SENTINEL MASTERS reply (or the
    error that reached it) and says whether the search is over; ``result`` is the primary's
    address or the error that names the alias and what each sentinel said."""

    __slots__ = ("manager", "not_found", "reports", "service", "todo")

    def __init__(self, manager: Any, service: str, not_found: type[Exception]) -> None:
        self.manager = manager
        self.service = service
        self.not_found = not_found
        self.todo = list(manager.sentinels)
        self.reports: list[SentinelReport] = []

    def ask(self) -> Any:
        return self.todo[0] if self.todo else None

    def answer(self, masters: Any) -> tuple[str, int] | None:
        sentinel = self.todo.pop(0)
        if isinstance(masters, BaseException):
            self.reports.append(unreachable(_address(sentinel), masters))
            return None
        report = judge(_address(sentinel), masters, self.service,
                       self.manager.min_other_sentinels)
        if report is not None:
            self.reports.append(report)
            return None
        with self.manager.cachex_lock:
            _ask_first(self.manager.sentinels, sentinel)
        state = masters[self.service]
        return state["ip"], state["port"]

    def failed(self) -> Exception:
        return self.not_found(no_primary_message(self.manager.cachex_alias, self.service,
                                                 self.reports))

    def steps(self) -> Steps[tuple[str, int]]:
        """Each sentinel in turn until one names a usable primary."""
        while (sentinel := self.ask()) is not None:
            try:
                masters = yield Io(sentinel.sentinel_masters, sentinel.sentinel_masters)
            except self.manager.cachex_errors as exc:
                masters = exc
            if (found := self.answer(masters)) is not None:
                return found
        raise self.failed()


class _Manager:
    """What cachex adds to the driver's ``Sentinel`` (sync or async): the alias and the
    errors that mean "this sentinel could not be asked", for ``_Discovery``."""

    _new_lock: Any = staticmethod(threading.Lock)

    def __init__(self, *args: Any, alias: str, errors: tuple[type[BaseException], ...],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cachex_alias = alias
        self.cachex_errors = errors
        self.cachex_lock = self._new_lock()


@cache
def _sync_manager_class(base: type) -> type:
    """The driver's ``Sentinel`` whose failed discovery names the alias and each sentinel."""
    not_found = importlib.import_module(base.__module__).MasterNotFoundError

    class CachexSentinel(_Manager, base):  # type: ignore[valid-type, misc]
        # Twin of one line: the driver calls (or awaits) this method; the search is the
        # one-source ``_Discovery.steps``.
        def discover_master(self, service_name: str) -> tuple[str, int]:
            return perform(_Discovery(self, service_name, not_found).steps())

    return CachexSentinel


@cache
def _async_manager_class(base: type) -> type:
    """The asyncio twin of ``_sync_manager_class`` (one event loop: no lock needed)."""
    not_found = importlib.import_module(base.__module__).MasterNotFoundError

    class CachexAsyncSentinel(_Manager, base):  # type: ignore[valid-type, misc]
        _new_lock = staticmethod(contextlib.nullcontext)  # one event loop: no lock needed

        async def discover_master(self, service_name: str) -> tuple[str, int]:
            return await aperform(_Discovery(self, service_name, not_found).steps())

    return CachexAsyncSentinel


def _ask_first(sentinels: list[Any], answered: Any) -> None:
    """Ask the sentinel that just answered first next time (skips dead ones quickly)."""
    for i, item in enumerate(sentinels):
        if item is answered:
            sentinels[0], sentinels[i] = sentinels[i], sentinels[0]
            return


class _AsyncSentinels:
    """Holds one loop's sentinel manager so that loop shutdown closes its connections."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    async def aclose(self) -> None:
        for client in self.manager.sentinels:
            await pools.close_async_client(client)


class SentinelTopology(Topology):
    """Writes (and, by default, reads) on the primary the sentinels name; reads on replicas
    with ``read_from_replicas``. One batch per request: every key lives on the one primary."""

    name = "sentinel"

    def __init__(self, settings: Settings, driver: Driver) -> None:
        super().__init__(settings, driver)
        if not settings.service:  # config.py rejects this already; never build half a topology
            raise ValueError("a sentinel topology needs a service name")
        self.service: str = settings.service
        self._read_role = REPLICA if settings.read_from_replicas else PRIMARY
        self._ack_nodes = frozenset({PRIMARY})
        self._manager: Any = None
        self._lock = threading.Lock()

    def _connection_classes(self) -> tuple[list[type], list[type]]:
        """The driver's Sentinel-managed connection classes (they ask the sentinels where
        the primary is on every connect)."""
        ssl = self.settings.endpoints[0].tls
        name = "SentinelManagedSSLConnection" if ssl else "SentinelManagedConnection"
        return ([getattr(importlib.import_module(self.driver.sentinel.__module__), name)],
                [getattr(importlib.import_module(self.driver.async_sentinel.__module__), name)])

    # -- routing ----------------------------------------------------------------------
    def _role(self, write: bool) -> str:
        return PRIMARY if write else self._read_role

    def client(self, key: str, write: bool = True) -> Any:
        return self._acking(self.node_client(self._role(write)), write, False)

    def aclient(self, key: str, write: bool = True) -> Any:
        return self._acking(self.anode_client(self._role(write)), write, True)

    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]:
        return single_batch(self._role(write), keys)

    def primaries(self) -> list[Any]:
        return [PRIMARY]

    def locate(self, key: str) -> Any:
        return PRIMARY

    def colocated(self, a: str, b: str) -> bool:
        return True

    def node_label(self, node: Any) -> str:
        return f"sentinel service {self.service!r} {node}"

    # -- clients ------------------------------------------------------------------------
    def node_client(self, node: Any) -> Any:
        try:
            return self._sync[node]
        except KeyError:
            pass
        if node not in ROLES:
            raise KeyError(f"{node!r} is not a sentinel role; use one of {ROLES}")
        with self._lock:
            client = self._sync.get(node)
            if client is None:
                client = self._sync[node] = self._for_role(self._sync_manager(), node,
                                                           asynchronous=False)
            return client

    def anode_client(self, node: Any) -> Any:
        clients = pools.loop_clients().clients
        key = (self._token, node)
        try:
            return clients[key]
        except KeyError:
            pass
        if node not in ROLES:
            raise KeyError(f"{node!r} is not a sentinel role; use one of {ROLES}")
        holder = clients.get((self._token, "sentinels"))
        if holder is None:
            holder = clients[(self._token, "sentinels")] = _AsyncSentinels(
                self._new_manager(asynchronous=True))
        client = clients[key] = self._for_role(holder.manager, node, asynchronous=True)
        return client

    def _sync_manager(self) -> Any:
        if self._manager is None:
            self._manager = self._new_manager(asynchronous=False)
        return self._manager

    def _new_manager(self, *, asynchronous: bool) -> Any:
        """The driver's Sentinel over LOCATION's sentinels; opens nothing until first use."""
        cls = (_async_manager_class(self.driver.async_sentinel) if asynchronous
               else _sync_manager_class(self.driver.sentinel))
        return cls(
            sentinel_addresses(self.settings),
            sentinel_kwargs=sentinel_kwargs(self.driver, self.settings,
                                            asynchronous=asynchronous),
            alias=self.settings.alias,
            errors=(self.driver.base_error, OSError),
            **node_kwargs(self.driver, self.settings, asynchronous=asynchronous),
        )

    def _for_role(self, manager: Any, role: str, *, asynchronous: bool) -> Any:
        cls = self.driver.async_client if asynchronous else self.driver.client
        bounded: dict[str, Any] = {}
        if self.settings.pool.max_connections:  # callers wait for a connection, as elsewhere
            bounded = {"connection_pool_class": bounded_sentinel_pool(
                           self.driver, asynchronous=asynchronous),
                       "timeout": pool_wait(self.settings.pool),
                       "cachex_label": self.node_label(role)}
        # The client class goes positionally: redis-py calls it redis_class, valkey-py
        # valkey_class.
        if role == PRIMARY:
            return manager.master_for(self.service, cls, **bounded)
        return manager.slave_for(self.service, cls, **bounded)

    # -- lifecycle ---------------------------------------------------------------------
    def disconnect(self) -> None:
        with self._lock:
            clients = [self._sync.pop(role, None) for role in ROLES]
            manager, self._manager = self._manager, None
        for client in clients:
            if client is not None:
                client.connection_pool.disconnect()
        if manager is not None:
            for sentinel_client in manager.sentinels:
                sentinel_client.connection_pool.disconnect()
