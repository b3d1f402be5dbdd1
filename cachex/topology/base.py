"""What every topology offers the router: clients by key or node, and per-node plans."""

from __future__ import annotations

import itertools
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from typing import Any

from ..config import Endpoint, Settings
from ..drivers import Driver
from ..exceptions import PoolExhausted
from ..routing import Batch, Commands, Positions, batch_commands
from ..steps import Io, Steps, aperform, perform
from . import pools, seam, wire
from .connect import connection_kwargs, make_pool
from .freshness import MapFreshness
from .idle import PARK, AsyncIdle, Checkout, Idle
from .wire import Clean

_tokens = itertools.count(1)
_build_lock = threading.Lock()


class Topology(ABC):
    """Owns connections for one set of connection settings; shared by every alias using them.

    ``client``/``aclient`` serve single-key commands (the driver handles redirects where
    the topology has them); ``plan`` + ``node_client``/``anode_client`` serve multi-key
    commands, one round-trip per node.
    """

    name: str = "?"

    # -- what the executor may rely on (capabilities, instead of asking for names) --------
    # Keys change nodes at run time (Cluster): a retry re-plans its batch on a re-read map.
    moves_keys = False
    # ``fallback_node`` is implemented (shards): failover mode "reroute" is possible.
    reroutable = False
    # A server-side routing map to keep fresh (Cluster), else None.
    freshness: MapFreshness | None = None
    # True while the server-side map must be re-read (the facade checks it on every call:
    # a plain attribute here, a property where a map exists).
    stale = False

    def __init__(self, settings: Settings, driver: Driver) -> None:
        self.settings = settings
        self.driver = driver
        # Sync clients live here; the topology itself is process-wide (one per settings).
        self._sync: dict[str, Any] = {}
        self._token = next(_tokens)
        wait = settings.wait_replicas
        self._ack: tuple[Any, ...] | None = ("WAIT", *wait) if wait else None
        self._ack_nodes: frozenset[Any] = frozenset()  # set by replica topologies
        # A read of a key goes to one known node (the breaker can track it); not so when
        # reads spread over replicas.
        self.reads_located = not settings.read_from_replicas
        self._replies = wire.Replies(driver.parse_error, driver.readonly_error)
        self._node_down = (driver.connection_error, driver.timeout_error)
        self._unsent = (driver.base_error, PoolExhausted)  # a node's batch could not be sent
        self._response_error = driver.response_error
        sync_classes, async_classes = self._connection_classes()
        # The fast path (parked connections, batches on the wire) needs the driver's private
        # attributes: probed once per driver and connection class (seam.py), else public API.
        self.fast = settings.fast_path and seam.fast_path(
            driver.name, driver.async_pool, sync_classes, async_classes, settings.alias,
            sync_pool=driver.pool)
        # Batches of plain commands go straight on the wire (wire.py, when hiredis is there).
        self.wire = self.fast
        # No parking with a bounded pool: a parked connection is checked out of it, and
        # callers waiting on the pool for a free connection would not see it.
        self._bounded = bool(settings.pool.max_connections)
        park = 0 if self._bounded else PARK
        if self.fast:
            self._idle: Idle | Checkout = Idle(driver.checkout, park)  # parked between batches
            self._aidle: AsyncIdle | Checkout = AsyncIdle(driver.acheckout, park)
        else:
            self._idle = Checkout(driver.checkout)
            self._aidle = Checkout(driver.acheckout, asynchronous=True)

    def _connection_classes(self) -> tuple[list[type], list[type]]:
        """The driver's connection classes this topology's pools will use (sync, async)."""
        out: tuple[list[type], list[type]] = ([], [])
        for endpoint in self.settings.endpoints:
            for side, asynchronous in ((0, False), (1, True)):
                kw = connection_kwargs(self.driver, endpoint, self.settings.pool,
                                       asynchronous=asynchronous)
                out[side].append(kw["connection_class"])
        return out

    # -- single-key routing ------------------------------------------------------------
    @abstractmethod
    def client(self, key: str, write: bool = True) -> Any: ...

    @abstractmethod
    def aclient(self, key: str, write: bool = True) -> Any: ...

    # -- multi-key routing -------------------------------------------------------------
    @abstractmethod
    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]: ...

    def commands(self, name: str, keys: Sequence[str], write: bool = False
                 ) -> tuple[Commands[Any], Positions]:
        """``name`` (MGET, DEL) over ``keys``: one command per group of the plan, and where
        each command's keys sit in ``keys`` (see ``routing.scatter``)."""
        return batch_commands(name, self.plan(keys, write=write))

    @abstractmethod
    def node_client(self, node: Any) -> Any: ...

    @abstractmethod
    def anode_client(self, node: Any) -> Any: ...

    @abstractmethod
    def primaries(self) -> list[Any]:
        """Every node that holds data of its own (for clear, scans)."""

    def drop_idle(self, node: Any, asynchronous: bool = False) -> Any:
        """Close ``node``'s idle pooled connections (those in use are left alone; asyncio:
        the awaitable of that, for this loop's pool); see ``Router._drop_idle``."""
        client = self.anode_client(node) if asynchronous else self.node_client(node)
        return client.connection_pool.disconnect(inuse_connections=False)

    def note_unreachable(self, node: Any) -> None:  # noqa: B027 - optional hook
        """``node`` cannot be reached or its circuit is open; nothing to do by default."""

    def fallback_node(self, key: str, down: Collection[Any]) -> Any:
        """Where ``key`` goes while the nodes in ``down`` are out (None: nowhere); only
        where ``reroutable`` is True."""
        raise NotImplementedError(f"the {self.name} topology cannot reroute keys")

    # generated by scripts/unasync.py from Topology.arefresh; do not edit
    def refresh(self) -> None:  # noqa: B027 - optional hook, a no-op for most
        """Re-read server-side routing state (the cluster slot map); nothing by default."""
    # end generated

    async def arefresh(self) -> None:  # noqa: B027 - optional hook, a no-op for most
        """Re-read server-side routing state (the cluster slot map); nothing by default."""

    def _acked(self, node: Any, commands: list[tuple[Any, ...]]
               ) -> tuple[list[tuple[Any, ...]], bool]:
        """``commands`` plus WAIT when writes to ``node`` must reach replicas first."""
        if self._ack is not None and node in self._ack_nodes:
            return [*commands, self._ack], True
        return commands, False

    def _acking(self, client: Any, write: bool, asynchronous: bool) -> Any:
        """The primary's client for single-key writes, with WAIT when configured."""
        if self._ack is None or not write:
            return client
        from .acks import AckingClient, AsyncAckingClient

        return (AsyncAckingClient if asynchronous else AckingClient)(client, self._ack)

    def _wired(self, commands: list[tuple[Any, ...]]) -> int:
        return wire.suits(commands) if self.wire else 0

    # The batch I/O is written once, async (``_aexchange``, ``aexecute``,
    # ``aexecute_collect``, ``aexecute_many``: every multi-key call and the wire path's
    # single-key calls); each sync twin is generated from it by ``scripts/unasync.py`` (CI
    # checks them), so both sides make the same calls with no step loop in between. Their
    # decisions are shared (``_acked``, ``_wired``, ``_send_order``,
    # ``wire.pack``, ``wire.Replies``).
    # generated by scripts/unasync.py from Topology._aexchange; do not edit
    def _exchange(self, pool: Any, commands: list[tuple[Any, ...]], kind: int
                  ) -> tuple[list[Any], int]:
        """One node's batch on the wire: (replies with errors in their places, flags)."""
        payload = wire.pack(commands)
        conn = self._idle.take(pool)
        try:
            wire.send(conn, payload, commands, self.driver)
            replies, state = wire.read(conn, commands, kind, self._replies, self.driver)
            if state & wire.READONLY:  # a demoted primary: drop its parked connections too
                self._idle.failed(pool, conn)
        except BaseException:  # interrupted or cancelled too: the replies are unknown
            self._idle.failed(pool, conn)
            raise
        finally:
            self._idle.give(pool, conn)
        return replies, state
    # end generated

    async def _aexchange(self, pool: Any, commands: list[tuple[Any, ...]], kind: int
                         ) -> tuple[list[Any], int]:
        """One node's batch on the wire: (replies with errors in their places, flags)."""
        payload = wire.pack(commands)
        conn = await self._aidle.take(pool)
        try:
            await wire.asend(conn, payload, commands, self.driver)
            replies, state = await wire.aread(conn, commands, kind, self._replies, self.driver)
            if state & wire.READONLY:  # a demoted primary: drop its parked connections too
                await self._aidle.failed(pool, conn)
        except BaseException:  # interrupted or cancelled too: the replies are unknown
            await self._aidle.failed(pool, conn)
            raise
        finally:
            await self._aidle.give(pool, conn)
        return replies, state

    # generated by scripts/unasync.py from Topology.aexecute; do not edit
    def execute(self, node: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Run ``commands`` on ``node`` in one round-trip; the first error reply raises."""
        replies = self.execute_collect(node, commands)
        return replies if type(replies) is Clean else _checked(replies)
    # end generated

    async def aexecute(self, node: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Run ``commands`` on ``node`` in one round-trip; the first error reply raises."""
        replies = await self.aexecute_collect(node, commands)
        return replies if type(replies) is Clean else _checked(replies)

    # generated by scripts/unasync.py from Topology.aexecute_collect; do not edit
    def execute_collect(self, node: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Like ``execute`` but a command's error is returned in its place, not raised
        (connection errors still raise; a node that cannot be reached is noted first)."""
        client = self.node_client(node)
        commands, acked = self._acked(node, commands)
        try:
            if kind := self._wired(commands):
                replies = self._exchange(client.connection_pool, commands, kind)[0]
            else:
                replies = perform(self._driver_batch(client, commands))
        except self._node_down:
            self.note_unreachable(node)
            raise
        if self.moves_keys and (mend := self._mend_steps([(node, commands)], [replies])):
            perform(mend)
        return _unacked(replies) if acked else replies
    # end generated

    async def aexecute_collect(self, node: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Like ``execute`` but a command's error is returned in its place, not raised
        (connection errors still raise; a node that cannot be reached is noted first)."""
        client = self.anode_client(node)
        commands, acked = self._acked(node, commands)
        try:
            if kind := self._wired(commands):
                replies = (await self._aexchange(client.connection_pool, commands, kind))[0]
            else:
                replies = await aperform(self._driver_batch(client, commands))
        except self._node_down:
            self.note_unreachable(node)
            raise
        if self.moves_keys and (mend := self._mend_steps([(node, commands)], [replies])):
            await aperform(mend)
        return _unacked(replies) if acked else replies

    def _driver_batch(self, client: Any, commands: list[tuple[Any, ...]]
                      ) -> Steps[list[Any]]:
        """A batch off the wire path, on the driver's client (sync or async: the driver's
        call returns the reply or an awaitable of it): one command as itself, more as a
        pipeline; error replies in their places."""
        if len(commands) == 1:
            try:
                return [(yield Io(client.execute_command, client.execute_command,
                                  *commands[0]))]
            except self._response_error as exc:
                return [exc]
        return (yield Io(_execute_pipeline, _execute_pipeline,  # type: ignore[no-any-return]
                         client, commands))

    def _mend_steps(self, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]],
                    results: Sequence[list[Any] | BaseException]) -> Steps[None] | None:
        """Where keys move (``moves_keys``): the steps that mend redirected replies in
        place, or None when there are none (Cluster)."""
        return None

    # generated by scripts/unasync.py from Topology.aexecute_many; do not edit
    def execute_many(self, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]]
                     ) -> list[list[Any] | BaseException]:
        """Several nodes: send every node's commands before reading any reply.

        The nodes then work at the same time, so a request over N nodes costs about one
        round-trip plus parsing instead of N round-trips. Per node, the result is its list of
        replies (a command's error in its place) or the driver error that broke the node's
        connection; the caller decides what to retry. A batch off the wire path (not all
        plain commands) is read by ``_read_off_wire`` or its async twin.
        """
        results: list[list[Any] | BaseException] = [[] for _ in batches]
        inflight: list[tuple[int, Any, Any, Any, list[tuple[Any, ...]], bool, int]] = []
        driver = self.driver
        try:
            for i in self._send_order(batches):
                # each node's part before any I/O (inline: no frame per node)
                node, commands = batches[i]
                client = self.node_client(node)
                pool = client.connection_pool
                acked = False
                if self._ack is not None:  # WAIT configured: maybe acked
                    commands, acked = self._acked(node, commands)
                kind = wire.suits(commands) if self.wire else 0  # ``_wired``
                payload = wire.pack(commands) if kind else None
                conn = None
                try:
                    conn = self._idle.take(pool)
                    wire.send(conn, payload, commands, driver)
                except self._unsent as exc:
                    if conn is not None:
                        self._idle.failed(pool, conn)
                        pool.release(conn)
                    results[i] = exc
                    continue
                inflight.append((i, client, pool, conn, commands, acked, kind))
            while inflight:
                i, client, pool, conn, commands, acked, kind = inflight[0]
                try:
                    if kind:
                        replies, _ = wire.read(conn, commands, kind, self._replies,
                                               driver)
                    else:
                        replies = self._read_off_wire(client, conn, commands)
                    results[i] = replies[:-1] if acked else replies
                except driver.base_error as exc:
                    self._idle.failed(pool, conn)
                    results[i] = exc
                inflight.pop(0)
                self._idle.give(pool, conn)
        finally:  # interrupted or cancelled: unread replies make the connections unusable
            for _, _, pool, conn, _, _, _ in inflight:
                self._idle.failed(pool, conn)
                pool.release(conn)
        if self.moves_keys and (mend := self._mend_steps(batches, results)):
            perform(mend)
        return results
    # end generated

    async def aexecute_many(self, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]]
                            ) -> list[list[Any] | BaseException]:
        """Several nodes: send every node's commands before reading any reply.

        The nodes then work at the same time, so a request over N nodes costs about one
        round-trip plus parsing instead of N round-trips. Per node, the result is its list of
        replies (a command's error in its place) or the driver error that broke the node's
        connection; the caller decides what to retry. A batch off the wire path (not all
        plain commands) is read by ``_read_off_wire`` or its async twin.
        """
        results: list[list[Any] | BaseException] = [[] for _ in batches]
        inflight: list[tuple[int, Any, Any, Any, list[tuple[Any, ...]], bool, int]] = []
        driver = self.driver
        try:
            for i in self._send_order(batches):
                # each node's part before any I/O (inline: no frame per node)
                node, commands = batches[i]
                client = self.anode_client(node)
                pool = client.connection_pool
                acked = False
                if self._ack is not None:  # WAIT configured: maybe acked
                    commands, acked = self._acked(node, commands)
                kind = wire.suits(commands) if self.wire else 0  # ``_wired``
                payload = wire.pack(commands) if kind else None
                conn = None
                try:
                    conn = await self._aidle.take(pool)
                    await wire.asend(conn, payload, commands, driver)
                except self._unsent as exc:
                    if conn is not None:
                        await self._aidle.failed(pool, conn)
                        await pool.release(conn)
                    results[i] = exc
                    continue
                inflight.append((i, client, pool, conn, commands, acked, kind))
            while inflight:
                i, client, pool, conn, commands, acked, kind = inflight[0]
                try:
                    if kind:
                        replies, _ = await wire.aread(conn, commands, kind, self._replies,
                                                      driver)
                    else:
                        replies = await self._aread_off_wire(client, conn, commands)
                    results[i] = replies[:-1] if acked else replies
                except driver.base_error as exc:
                    await self._aidle.failed(pool, conn)
                    results[i] = exc
                inflight.pop(0)
                await self._aidle.give(pool, conn)
        finally:  # interrupted or cancelled: unread replies make the connections unusable
            for _, _, pool, conn, _, _, _ in inflight:
                await self._aidle.failed(pool, conn)
                await pool.release(conn)
        if self.moves_keys and (mend := self._mend_steps(batches, results)):
            await aperform(mend)
        return results

    # Twins, hand-written: they read different replies. A sync batch off the wire path is
    # the router's (the driver parses each reply, hiredis or not); an async one is only
    # ever the auto-pipeliner's (the router sends async batches off the wire one task per
    # node, ``Router._amany``), whose raw replies it converts itself.
    def _read_off_wire(self, client: Any, conn: Any, commands: list[tuple[Any, ...]]
                       ) -> list[Any]:
        """The driver's parsing of each reply."""
        parse = client.parse_response
        replies: list[Any] = []
        for command in commands:
            try:
                replies.append(parse(conn, command[0]))
            except self.driver.response_error as exc:
                replies.append(exc)
        return replies

    async def _aread_off_wire(self, client: Any, conn: Any, commands: list[tuple[Any, ...]]
                              ) -> list[Any]:
        """The raw replies, as hiredis parses them (error replies as the driver's errors)."""
        return (await wire.aread(conn, commands, 0, self._replies, self.driver))[0]

    def _send_order(self, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]]
                    ) -> Sequence[int]:
        """The order in which ``execute_many`` takes each node's connection. With bounded
        pools, always the same order of nodes: two callers each holding one node's last
        connection while waiting for the other's would otherwise wait out the pool
        timeout."""
        if not self._bounded:
            return range(len(batches))
        return sorted(range(len(batches)), key=lambda i: self.node_label(batches[i][0]))

    def wired(self, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]]) -> bool:
        """True when every batch may take the wire path (``aexecute_many`` needs that)."""
        return all(self._wired(commands) for _, commands in batches)

    def node_label(self, node: Any) -> str:
        return str(node)

    def label_for(self, key: str) -> str:
        """Which node a key lives on, for error messages and logs."""
        return self.node_label(self.locate(key))

    def locate(self, key: str) -> Any:
        return self.plan([key], write=True)[0].node

    def colocated(self, a: str, b: str) -> bool:
        """True when a two-key command on ``a`` and ``b`` is allowed (same node and slot)."""
        return bool(self.locate(a) == self.locate(b))

    # -- lifecycle ---------------------------------------------------------------------
    # Twins, hand-written: sync clients live on the topology, asyncio ones per event loop.
    def disconnect(self) -> None:  # noqa: B027 - subclasses with pools override
        """Close this topology's sync connections (they reopen on next use)."""

    async def adisconnect(self) -> None:
        """Close this topology's connections on the running loop."""
        await pools.close_loop_clients(lambda k: isinstance(k, tuple) and k[0] == self._token)

    # -- helpers for subclasses --------------------------------------------------------
    def _endpoint_client(self, endpoint: Endpoint) -> Any:
        try:
            return self._sync[endpoint.identity]
        except KeyError:
            pass
        with _build_lock:
            client = self._sync.get(endpoint.identity)
            if client is None:
                client = self.driver.client(connection_pool=make_pool(
                    self.driver, endpoint, self.settings.pool, asynchronous=False))
                self._sync[endpoint.identity] = client
            return client

    def _endpoint_aclient(self, endpoint: Endpoint) -> Any:
        clients = pools.loop_clients().clients
        key = (self._token, endpoint.identity)
        try:
            return clients[key]
        except KeyError:
            client = clients[key] = self.driver.async_client(connection_pool=make_pool(
                self.driver, endpoint, self.settings.pool, asynchronous=True))
            return client

    def _disconnect_endpoints(self, endpoints: Sequence[Endpoint]) -> None:
        for endpoint in endpoints:
            client = self._sync.pop(endpoint.identity, None)
            if client is not None:
                self._idle.drain(client.connection_pool)
                client.connection_pool.disconnect()


def _pipeline(client: Any, commands: list[tuple[Any, ...]]) -> Any:
    """The driver's pipeline (no transaction) holding ``commands``, not sent yet (no I/O:
    the caller executes it, or awaits that)."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe


def _execute_pipeline(client: Any, commands: list[tuple[Any, ...]]) -> Any:
    """``commands`` as the driver's pipeline, executed (async: the awaitable of that),
    error replies in their places."""
    return _pipeline(client, commands).execute(raise_on_error=False)


def raise_first(replies: list[Any]) -> None:
    """A pipeline raises its first error reply; so does a batch on the wire."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


def _checked(replies: list[Any]) -> list[Any]:
    """``replies``, after raising the first error among them."""
    raise_first(replies)
    return replies


def _unacked(replies: list[Any]) -> list[Any]:
    """The replies without WAIT's (a failed WAIT raises, after any earlier error)."""
    if isinstance(replies[-1], Exception):
        raise_first(replies)
    return replies[:-1]
