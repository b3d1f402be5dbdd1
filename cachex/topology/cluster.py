"""Redis/Valkey Cluster.

cachex keeps its own copy of the slot map (CLUSTER SLOTS) and talks to each node through a
plain pooled client: a single-key command goes straight to the slot's owner, a multi-key
request becomes one pipeline per node holding one command per slot. Anything the map got
wrong (MOVED, ASK, TRYAGAIN during a slot migration or after a failover) is re-run key by key,
following the redirects here (ASK as an ``ASKING`` + command pipeline on the target, so both
travel on one connection), and the map is refreshed.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..config import Endpoint, Settings
from ..drivers import Driver
from ..exceptions import ClusterDown
from ..routing import Batch, SlotMemo, key_slot, plan_slots
from ..steps import Each, Io, Steps, aperform, perform
from . import pools
from .base import Topology, _pipeline
from .cluster_map import SlotMap, parse_cluster_slots, split_address
from .connect import pool_exhausted, pool_wait
from .freshness import MapFreshness
from .wire import Clean

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


class Unmended(list):  # type: ignore[type-arg]
    """One node's commands whose sender settles their redirected replies itself (the
    auto-pipeliner sends each such caller back to the direct path on its own): the batch
    I/O leaves those replies as they are. Mending them in place would follow the redirects
    of unrelated callers in one go, so that one key's failing redirect would fail every
    caller of the flush, and would take a transaction's ``EXEC`` for a key command."""

    __slots__ = ()


MAX_HOPS = 5  # redirects followed for one command (redis-py allows 16 in all)
TRYAGAIN_PAUSE = 0.02  # seconds before re-asking after TRYAGAIN


def redirect_of(exc: BaseException, driver: Driver) -> tuple[str | None, str]:
    """("MOVED"|"ASK"|"TRYAGAIN", "host:port" or "") for a redirect error, else (None, "").

    Plain (non-cluster) valkey-py clients raise a bare ResponseError whose text is the
    server's reply ("ASK 3001 10.0.0.2:7001"); redis-py raises AskError/MovedError/
    TryAgainError with the kind stripped from the text. Both are understood.
    """
    if not isinstance(exc, driver.response_error):
        return None, ""
    words = str(exc).split()
    if isinstance(exc, driver.moved_error):
        kind: str | None = "MOVED"
    elif isinstance(exc, driver.ask_error):
        kind = "ASK"
    elif isinstance(exc, driver.try_again_error):
        kind = "TRYAGAIN"
    elif words and words[0] in ("MOVED", "ASK", "TRYAGAIN"):
        kind = words[0]
    else:
        return None, ""
    return kind, (words[-1] if kind != "TRYAGAIN" and words else "")


class ClusterTopology(Topology):
    """A node that cannot be reached, during a batch or a single-key call, sync or async,
    only marks the slot map stale (``freshness``): the executor re-reads it before its retry
    and every operation re-reads a stale map before it starts. Never inside the failing call:
    that would add a sweep over the nodes (the dead one too) to a call about to fail, and
    could replace the node's error with ClusterDown."""

    name = "cluster"
    moves_keys = True
    freshness: MapFreshness

    def __init__(self, settings: Settings, driver: Driver) -> None:
        super().__init__(settings, driver)
        self.seeds = settings.endpoints
        self.map: SlotMap | None = None
        self.freshness = MapFreshness()
        self._map_lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._redirects = (driver.ask_error, driver.try_again_error)
        self._call_errors = (*self._node_down, driver.response_error)
        self._cluster: Any = None
        self._gate: _Gated | None = None
        self._slots = SlotMemo()

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

    def _install(self, addr: str, reply: Any, errors: list[str]) -> bool:
        """Adopt ``reply`` (CLUSTER SLOTS from ``addr``, or the error it raised) if it is a
        complete map; otherwise note why not. Shared by both refresh twins."""
        if isinstance(reply, BaseException):
            errors.append(f"{addr}: {reply}")
            return False
        new = parse_cluster_slots(reply, split_address(addr)[0])
        if not new.complete:
            errors.append(f"{addr}: slot map incomplete")
            return False
        self.map = new
        self.freshness.installed()
        return True

    def _no_map(self, errors: list[str]) -> ClusterDown:
        return ClusterDown(f"cachex cache {self.settings.alias!r}: no cluster node served a "
                           f"complete slot map ({'; '.join(errors)})")

    # Twins, hand-written: threads share the sync map behind a lock; one event loop needs
    # none. The search is the one-source ``_refresh_steps``.
    def refresh(self) -> None:
        """Fetch the slot map from the first node that serves a complete one."""
        with self._map_lock:
            perform(self._refresh_steps())

    async def arefresh(self) -> None:
        await aperform(self._refresh_steps())

    def _refresh_steps(self) -> Steps[None]:
        errors: list[str] = []
        for addr in self._candidates():
            try:
                reply = yield Io(self._command, self._acommand, addr, ("CLUSTER", "SLOTS"))
            except self.driver.base_error as exc:
                reply = exc
            if self._install(addr, reply, errors):
                return
        raise self._no_map(errors)

    def _owners(self) -> list[str | None]:
        if self.map is None:
            self.refresh()
        assert self.map is not None
        return self.map.owners

    def note_redirect(self, exc: BaseException) -> None:
        """MOVED means the map is out of date (a failover or a finished migration)."""
        if redirect_of(exc, self.driver)[0] == "MOVED":
            self.freshness.mark()

    def _call_broke(self, command: Command, exc: BaseException) -> Steps[Any]:
        """A single-key call raised ``exc``: a node that cannot be reached marks the map
        stale (a failover may be under way) and the error is raised; a redirect is
        followed; any other error is raised."""
        if isinstance(exc, self._node_down):
            self.freshness.mark()
            raise exc
        if redirect_of(exc, self.driver)[0] is None:
            raise exc
        return (yield from self._follow(command, exc))

    def _follow(self, command: Command, exc: BaseException) -> Steps[Any]:
        """Re-run one single-key ``command`` that got a redirect, following MOVED/ASK."""
        way = _Redirects(self, command, exc)
        while (hop := way.hop()) is not None:
            pause, asking, addr = hop
            if pause:
                yield Io(time.sleep, asyncio.sleep, pause)
            if asking:
                reply = yield Io(self._asking, self._aasking, addr, command)
            else:
                try:
                    reply = yield Io(self._command, self._acommand, addr, command)
                except self.driver.response_error as error:
                    reply = error
            if way.settled(reply):
                return way.outcome()
        raise way.exc

    # The I/O the steps name (``Io``): a few lines each, written async; the sync twins are
    # generated (``scripts/unasync.py``).
    # generated by scripts/unasync.py from ClusterTopology._acommand; do not edit
    def _command(self, addr: str, command: Command) -> Any:
        return self._endpoint_client(self.endpoint(addr)).execute_command(*command)
    # end generated

    async def _acommand(self, addr: str, command: Command) -> Any:
        return await self._endpoint_aclient(self.endpoint(addr)).execute_command(*command)

    # generated by scripts/unasync.py from ClusterTopology._aasking; do not edit
    def _asking(self, addr: str, command: Command) -> Any:
        """``command``'s reply after ASKING, both on one connection (a pipeline)."""
        pipe = _pipeline(self._endpoint_client(self.endpoint(addr)), [("ASKING",), command])
        return pipe.execute(raise_on_error=False)[1]
    # end generated

    async def _aasking(self, addr: str, command: Command) -> Any:
        """``command``'s reply after ASKING, both on one connection (a pipeline)."""
        pipe = _pipeline(self._endpoint_aclient(self.endpoint(addr)), [("ASKING",), command])
        return (await pipe.execute(raise_on_error=False))[1]

    @property
    def stale(self) -> bool:  # type: ignore[override]
        return self.freshness.stale

    def note_unreachable(self, node: Any) -> None:
        """A primary cannot be reached (or its circuit is open): a failover may have given
        its slots to another node, so the next operation re-reads the slot map."""
        self.freshness.mark()

    # -- routing -----------------------------------------------------------------------
    def locate(self, key: str) -> Any:
        return self._owners()[key_slot(key)]

    def colocated(self, a: str, b: str) -> bool:
        return key_slot(a) == key_slot(b)

    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]:
        return plan_slots(keys, self._slots.slots(keys), self._owners())

    def primaries(self) -> list[Any]:
        self._owners()
        assert self.map is not None
        return self.map.primaries

    def node_label(self, node: Any) -> str:
        return f"cluster node {node}"

    # -- clients -----------------------------------------------------------------------
    def client(self, key: str, write: bool = True) -> Any:
        if self.settings.read_from_replicas and not write:
            return self._gated_cluster() if self.settings.pool.max_connections else \
                self.cluster_client()
        return _Caller(self, self._endpoint_client(self.endpoint(self.locate(key))))

    def aclient(self, key: str, write: bool = True) -> Any:
        if self.settings.read_from_replicas and not write:
            return self._agated_cluster() if self.settings.pool.max_connections else \
                _Initialised(self.acluster_client())
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
        }
        if self.settings.read_from_replicas:
            kw.update(self._replica_reads())
        if seed.tls:
            kw["ssl"] = True
            kw.update(dict(pool.ssl))
        if pool.client_name:
            kw["client_name"] = pool.client_name
        if pool.max_connections:  # the gate below keeps every node's pool within it
            kw["max_connections"] = pool.max_connections
        return kw

    def _gated_cluster(self) -> _Gated:
        """With ``max_connections``: the driver's cluster client behind a gate that lets
        that many commands run at once in this process (so no node's pool outgrows it)
        and makes the others wait up to ``pool_timeout``; the drivers' own cluster pools
        fail at once when full."""
        if self._gate is None:
            client = self.cluster_client()  # takes _map_lock itself
            with self._map_lock:
                if self._gate is None:
                    self._gate = _Gated(client, self._gate_label(),
                                        self.settings.pool.max_connections or 1,
                                        pool_wait(self.settings.pool), asynchronous=False)
        return self._gate

    def _agated_cluster(self) -> _Gated:
        """``_gated_cluster`` for the running event loop."""
        clients = pools.loop_clients().clients
        key = (self._token, "cluster-gate")
        gate = clients.get(key)
        if gate is None:
            gate = clients[key] = _Gated(self.acluster_client(), self._gate_label(),
                                         self.settings.pool.max_connections or 1,
                                         pool_wait(self.settings.pool), asynchronous=True)
        return gate

    def _gate_label(self) -> str:
        return f"cache {self.settings.alias!r} cluster client (replica reads)"

    def _replica_reads(self) -> dict[str, Any]:
        """Replica reads for the driver's cluster client: redis-py >= 5.3 takes a load
        balancing strategy (replicas only; its old flag also sent half the reads to the
        primary and is deprecated); valkey-py still takes ``read_from_replicas``."""
        module = importlib.import_module(self.driver.cluster.__module__)
        strategy = getattr(module, "LoadBalancingStrategy", None)
        if strategy is not None and hasattr(strategy, "ROUND_ROBIN_REPLICAS"):
            return {"load_balancing_strategy": strategy.ROUND_ROBIN_REPLICAS}
        return {"read_from_replicas": True}

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
    # The base class's batch I/O asks for these steps after every batch (``moves_keys``).
    def _mend_steps(self, batches: Sequence[tuple[Any, list[Command]]],
                    results: Sequence[list[Any] | BaseException]) -> Steps[None] | None:
        """The redirected replies re-run key by key, or None when there are none; a node
        that could not be reached marks the slot map stale."""
        todo = self._redirected(batches, results)
        return self._mend(todo) if todo else None

    def _single(self, command: Command) -> Steps[Any]:
        """One single-key command to its owner per the map, following redirects."""
        try:
            return (yield Io(self._command, self._acommand, self.locate(str(command[1])),
                             command))
        except self.driver.response_error as exc:
            if redirect_of(exc, self.driver)[0] is None:
                raise
            return (yield from self._follow(command, exc))

    def _mend(self, todo: list[tuple[list[Any], int, list[Command], Callable[[list[Any]], Any]]]
              ) -> Steps[None]:
        """Each redirected reply re-run as single-key commands (async: those at once,
        every one to the end)."""
        for replies, i, singles, combine in todo:
            replies[i] = combine((yield Each([self._single(c) for c in singles])))

    def _redirected(self, batches: Sequence[tuple[Any, list[Command]]],
                    results: Sequence[list[Any] | BaseException]
                    ) -> list[tuple[list[Any], int, list[Command], Callable[[list[Any]], Any]]]:
        """Replies that were redirects, each with the single-key commands to re-run it as;
        a node that could not be reached marks the slot map stale."""
        todo = []
        for (_, commands), result in zip(batches, results):
            if isinstance(result, BaseException):
                if isinstance(result, self._node_down):
                    self.freshness.mark()
                continue
            if type(commands) is Unmended:
                continue
            for i in self._needs_fallback(result):
                todo.append((result, i, *fallback_commands(commands[i])))
        return todo

    def _needs_fallback(self, replies: list[Any]) -> list[int]:
        if type(replies) is Clean:
            return []
        todo = []
        for i, reply in enumerate(replies):
            if isinstance(reply, Exception) and redirect_of(reply, self.driver)[0]:
                self.note_redirect(reply)
                todo.append(i)
        return todo

    def disconnect(self) -> None:
        self._disconnect_endpoints(list(self._endpoints.values()))
        self._gate = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


class _Redirects:
    """Following the redirects of one single-key command as I/O-free steps, shared by
    the ``_follow`` steps: ``hop`` says where to send it next (after a pause, with
    ASKING first), ``settled`` takes the reply and says whether it is final."""

    __slots__ = ("command", "exc", "hops", "result", "topo")

    def __init__(self, topo: ClusterTopology, command: Command, exc: BaseException) -> None:
        self.topo = topo
        self.command = command
        self.exc = exc  # the last redirect: raised when the hops run out
        self.hops = 0
        self.result: Any = None

    def hop(self) -> tuple[float, bool, str] | None:
        """(seconds to pause first, send ASKING first, address); None: out of hops."""
        if self.hops == MAX_HOPS:
            return None
        self.hops += 1
        kind, addr = redirect_of(self.exc, self.topo.driver)
        self.topo.note_redirect(self.exc)
        if kind == "TRYAGAIN":  # keys of a multi-key command are mid-migration
            return TRYAGAIN_PAUSE, False, self.topo.locate(str(self.command[1]))
        return 0.0, kind == "ASK", addr

    def settled(self, reply: Any) -> bool:
        if isinstance(reply, Exception) and redirect_of(reply, self.topo.driver)[0]:
            self.exc = reply
            return False
        self.result = reply
        return True

    def outcome(self) -> Any:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class _Caller:
    """A node's client for single-key commands, with the redirect slow path."""

    __slots__ = ("client", "topo")

    def __init__(self, topo: ClusterTopology, client: Any) -> None:
        self.topo = topo
        self.client = client

    # A Cluster single-key call's hot path (a step loop would add a frame per call), written
    # async and generated here; what follows an error is the one-source ``_call_broke``.
    # generated by scripts/unasync.py from _ACaller.execute_command; do not edit
    def execute_command(self, *args: Any) -> Any:
        try:
            return self.client.execute_command(*args)
        except self.topo._call_errors as exc:
            steps = self.topo._call_broke(args, exc)
        return perform(steps)
    # end generated


class _ACaller(_Caller):
    __slots__ = ()

    async def execute_command(self, *args: Any) -> Any:  # type: ignore[override]
        try:
            return await self.client.execute_command(*args)
        except self.topo._call_errors as exc:
            steps = self.topo._call_broke(args, exc)
        return await aperform(steps)



def _no_op() -> None:
    return None


class _Initialised:
    """The driver's asyncio cluster client, awaited into its initialised state before each
    command (a no-op once it is).

    Why: redis-py 8's asyncio cluster client decides how to route a command before it
    initialises; commands issued while the first initialisation (or one after a node
    failure) is under way are routed as keyless, to a primary that answers MOVED, and after
    a few MOVEDs the client closes every connection, including those other callers are
    reading from (a burst of concurrent replica reads failed with "connection closed by
    server"). Waiting for ``initialize()`` first routes every command by its slot.
    """

    __slots__ = ("client",)

    def __init__(self, client: Any) -> None:
        self.client = client

    async def execute_command(self, *args: Any) -> Any:
        await self.client.initialize()
        return await self.client.execute_command(*args)


class _Gated:
    """The driver's cluster client with at most ``size`` commands in flight from this
    process (async: from this event loop); a caller waits up to ``wait`` for its turn,
    then gets ``PoolExhausted``. One class for both: ``execute_command`` returns the reply,
    or (async) an awaitable of it, from the same steps."""

    __slots__ = ("client", "label", "run", "size", "slots", "wait")

    def __init__(self, client: Any, label: str, size: int, wait: float, *,
                 asynchronous: bool) -> None:
        self.client, self.label, self.size, self.wait = client, label, size, wait
        self.slots: Any = (asyncio.BoundedSemaphore(size) if asynchronous
                           else threading.BoundedSemaphore(size))
        self.run: Callable[[Steps[Any]], Any] = aperform if asynchronous else perform

    def execute_command(self, *args: Any) -> Any:
        return self.run(self._steps(args))

    def _steps(self, args: tuple[Any, ...]) -> Steps[Any]:
        if not (yield Io(self.slots.acquire, self._within, True, self.wait)):
            raise pool_exhausted(self.label, self.size, self.wait)
        try:
            if self.run is aperform:  # (the sync client is initialised when built)
                yield Io(_no_op, self.client.initialize)
            return (yield Io(self.client.execute_command, self.client.execute_command, *args))
        finally:
            self.slots.release()

    async def _within(self, _blocking: bool, wait: float) -> bool:
        """The asyncio semaphore's acquire with the thread semaphore's timeout."""
        try:
            await asyncio.wait_for(self.slots.acquire(), wait)
        except (asyncio.TimeoutError, TimeoutError):
            return False
        return True
