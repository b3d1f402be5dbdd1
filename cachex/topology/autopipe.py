"""Async auto-pipelining: single-key commands issued concurrently on one event loop share
one write and one read per node (``OPTIONS["pipelining"]``, docs/async.md).

Why: an ASGI site runs many requests on one loop, and each ``await cache.aget(...)`` used to
take its own connection and its own round-trip; the loop then spent its time waking sockets.
Here a command is queued for its node and a flush task is created with the first one; the
task runs as soon as the loop turns (no timer), takes everything queued by then, and sends
each node's commands as one packed batch on one pooled connection
(``Topology.aexecute_many``: every node is sent to before any is read).

Semantics stay those of the direct path, because only the plain outcome is settled here:

- a reply goes to its own caller; an error reply (WRONGTYPE, READONLY, ...) or a broken
  connection is handed to that caller only, which then runs the router's usual failure path
  (``Router._call_failed``: retries under the alias's idempotency rules, then the failover
  mode) in its own task, so a cancelled caller cancels nothing but its own future;
- a Cluster redirect (MOVED/ASK/TRYAGAIN) sends that caller back to the direct path, which
  follows it key by key; MOVED also marks the slot map stale;
- commands of one node keep their queue order in the batch, so a task's commands (each
  awaited before the next) keep their order;
- the flush is its own task: cancelling a caller never interrupts a batch on the wire;
- plain GETs of one node (of one slot in a Cluster), ``MERGE_AT`` or more in a flush, go
  as one ``MULTI``/``MGET``/``EXISTS``/``EXEC``: one command to pack and to run instead of
  one per key. ``MGET`` answers nil for a key holding a list (where ``GET`` fails with
  WRONGTYPE); ``EXISTS`` over the same keys, in the same transaction, counts those, so a
  nil is settled as a miss only when there are none, and otherwise its caller asks again
  on the direct path, as does every caller of a group that met a redirect or an error.

Only commands whose raw reply is what the driver returns (after its callbacks, mirrored by
``_convert``) are queued; anything else takes the direct path. Nothing here touches a
driver's private attributes (the wire path does that through ``seam.py``).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

from ..exceptions import CachexError
from ..routing.slots import key_slot
from ..steps import aperform
from ..translate import translate
from . import wire
from .base import Topology
from .cluster import Unmended, redirect_of

if TYPE_CHECKING:  # pragma: no cover
    from ..router import Router

Command = tuple[Any, ...]

# Replies the drivers return unchanged (integers, bulk strings, nil).
RAW = frozenset({
    "GET", "DEL", "UNLINK", "EXISTS", "TOUCH", "INCR", "DECR", "INCRBY", "DECRBY",
    "TTL", "PTTL", "STRLEN", "APPEND", "GETDEL", "SETRANGE", "GETRANGE",
    "HGET", "HSET", "HSETNX", "HDEL", "HLEN", "HSTRLEN", "HINCRBY",
    "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LLEN", "LINDEX", "LREM",
    "SADD", "SREM", "SCARD", "SISMEMBER", "ZCARD", "ZREM", "EVAL", "EVALSHA",
})
# Replies the drivers turn into a bool (0/1 from the server): their response callbacks.
AS_BOOL = frozenset({"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST",
                     "HEXISTS", "SMOVE"})
COMMANDS = RAW | AS_BOOL | {"SET"}
# Plain GETs of one node (one slot) merged into one MGET from this many on: below it, the
# transaction's three extra commands cost more than the packing saved.
MERGE_AT = 8


def _convert(args: Command, reply: Any) -> Any:
    """The reply as the driver would return it."""
    name = args[0]
    if name == "SET":
        return True if reply == b"OK" else reply
    if name in AS_BOOL:
        return bool(reply)
    return reply


class _Detour(Exception):
    """Tells a queued caller to leave the batch: ``err`` is the failure to recover from
    (``Router._call_failed``), None means "run the command on the direct path" (a Cluster
    redirect, followed there key by key)."""

    __slots__ = ("err",)

    def __init__(self, err: CachexError | None) -> None:
        super().__init__()
        self.err = err


# (node, key, args, write, future) for one queued command
_Entry = tuple[Hashable, str, Command, bool, "asyncio.Future[Any]"]


class _Merged(list):  # type: ignore[type-arg]
    """The entries of plain GETs sent as one MGET (``AutoPipeliner._plan``)."""

    __slots__ = ()

    def commands(self) -> list[Command]:
        keys = [entry[2][1] for entry in self]
        return [("MULTI",), ("MGET", *keys), ("EXISTS", *keys), ("EXEC",)]


_Item = _Entry | _Merged  # one caller's command, or a merged group (four commands)


class AutoPipeliner:
    """One per router (alias) with pipelining on; queues are per event loop and live only
    from the first enqueue to the flush of the same loop turn."""

    __slots__ = ("_driver_error", "_pending", "_redirect", "_router", "_tasks", "_topology",
                 "busy", "commands")

    def __init__(self, router: Router) -> None:
        self._router = router
        self._topology: Topology = router.topology
        self._driver_error = router.topology.driver.base_error
        self._pending: dict[asyncio.AbstractEventLoop, list[_Entry]] = {}
        # Lone calls and flushes in flight per thread (0: none, a call is alone). Per
        # thread, not per loop: a thread runs one loop at a time, and its id costs a
        # fraction of ``get_running_loop`` (on Python 3.11 it asks the OS for the pid
        # each time). ``Router.acall`` reads it and counts its lone calls in it. A count
        # left by a loop stopped mid-call only sends that thread's calls to the queue,
        # which is per loop and right for any loop. Ints only: no loop is kept alive by it.
        self.busy: defaultdict[int, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references
        self._redirect = getattr(self._topology, "note_redirect", None)  # Cluster only
        self.commands = COMMANDS  # what ``Router.acall`` pipelines

    # A caller alone on its loop goes direct (tests turn this off to put every call through
    # a batch, e.g. Django's suite, whose calls come one at a time).
    shortcut = True

    @staticmethod
    def suits(topology: Topology) -> bool:
        """Pipelining needs the wire path (seam probe passed, hiredis present) and no WAIT
        after each write (``wait_replicas``: every write must wait on its own)."""
        return bool(topology.wire and wire.enabled and topology._ack is None)

    async def call(self, thread: int, key: str, args: Command, write: bool,
                   idempotent: bool, degradable: bool) -> Any:
        """``Router.acall`` for a pipelinable command that is not alone on its thread's
        loop (a call or a flush is in flight there): the reply, or the direct path's
        outcome. A call alone never comes here: ``Router.acall`` runs it at once, counted
        in ``busy`` (waiting for the loop to turn would only add latency)."""
        loop = asyncio.get_running_loop()
        batch = self._pending.get(loop)
        if batch is None:
            self.busy[thread] += 1  # the flush's own count, dropped by ``_flushed``
            batch = self._pending[loop] = []
            task = loop.create_task(self._flush(loop))
            self._tasks.add(task)
            task.add_done_callback(partial(self._flushed, thread, loop, batch))
        router = self._router
        node = router._node_of(key, write)
        if node is None:  # cannot be located (a replica read, say): the direct path decides
            return await self._direct(node, key, args, write, idempotent, degradable)
        future = loop.create_future()
        batch.append((node, key, args, write, future))
        try:
            return await future
        except _Detour as detour:
            if detour.err is None:
                return await self._direct(node, key, args, write, idempotent, degradable)
            return await aperform(router._call_failed(detour.err, node, key, args, write,
                                                      idempotent, degradable))

    async def _direct(self, node: Hashable | None, key: str, args: Command, write: bool,
                      idempotent: bool, degradable: bool) -> Any:
        """The router's guarded single-key path (circuit check, call, redirects followed)."""
        return await aperform(self._router._call_guarded(key, args, write, idempotent,
                                                         degradable))

    async def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send everything queued on this loop so far, one batch per node, and settle each
        caller's future. Runs as its own task: no caller's cancellation reaches it."""
        await self._send(self._pending.pop(loop))

    def _flushed(self, thread: int, loop: asyncio.AbstractEventLoop, batch: list[_Entry],
                 task: asyncio.Task[None]) -> None:
        """A flush task is done, also one cancelled before it ran (``asyncio.run`` cancels
        what is left when its main coroutine returns; a ``finally`` in ``_flush`` would not
        run then): its count is dropped, and its queue if it never took it (a later
        flush's queue is another list)."""
        self._tasks.discard(task)
        self.busy[thread] -= 1
        if self._pending.get(loop) is batch:
            del self._pending[loop]

    async def _send(self, batch: list[_Entry]) -> None:
        per_node: dict[Hashable, list[_Entry]] = {}
        for entry in batch:
            entries = per_node.get(entry[0])
            if entries is None:
                per_node[entry[0]] = [entry]
            else:
                entries.append(entry)
        nodes = list(per_node)
        plans = [self._plan(per_node[n]) for n in nodes]
        try:
            # A redirect is settled per caller here (a detour to the direct path), not mended
            # in place by the Cluster's batch I/O (``Unmended``), which would make one key's
            # failing redirect everyone's error; the base method, not the Cluster's override.
            results = await Topology.aexecute_many(
                self._topology, [(n, Unmended(plan[1])) for n, plan in zip(nodes, plans)])
        except BaseException as exc:  # cancelled with the loop, or an unexpected error
            for entries in per_node.values():
                self._fail(entries, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for node, (items, _), result in zip(nodes, plans, results):
            if isinstance(result, BaseException):
                self._fail(per_node[node], result)
                continue
            if items is None:  # nothing merged: one reply per entry
                self._settle(per_node[node], result, type(result) is wire.Clean)
                continue
            at = 0
            for item in items:
                if type(item) is _Merged:
                    self._settle_merged(item, result[at:at + 4])
                    at += 4
                else:
                    self._settle([item], result[at:at + 1], False)  # type: ignore[list-item]
                    at += 1

    def _plan(self, entries: list[_Entry]) -> tuple[list[_Item] | None, list[Command]]:
        """(None, the commands) when nothing is merged, else (the items, the commands):
        ``MERGE_AT`` or more plain GETs (of one slot in a Cluster) become one group."""
        gets = [e for e in entries if e[2][0] == "GET" and len(e[2]) == 2]
        if len(gets) < MERGE_AT:
            return None, [e[2] for e in entries]
        groups: dict[int, _Merged] = {}
        if self._redirect is None:
            groups[0] = _Merged(gets)
        else:  # Cluster: an MGET must stay within one slot
            for entry in gets:
                groups.setdefault(key_slot(entry[2][1]), _Merged()).append(entry)
        items: list[_Item] = [e for e in entries if not (e[2][0] == "GET" and len(e[2]) == 2)]
        for group in groups.values():
            if len(group) >= MERGE_AT:
                items.append(group)
            else:
                items += group
        commands: list[Command] = []
        for item in items:
            if type(item) is _Merged:
                commands += item.commands()
            else:
                commands.append(item[2])  # type: ignore[arg-type]
        return items, commands

    def _settle(self, entries: list[_Entry], replies: list[Any], clean: bool) -> None:
        for entry, reply in zip(entries, replies):
            future = entry[4]
            if future.done():  # its caller was cancelled: nothing to tell
                continue
            if clean or not isinstance(reply, self._driver_error):
                future.set_result(_convert(entry[2], reply))
            else:
                future.set_exception(self._reply_error(entry, reply))

    def _settle_merged(self, group: _Merged, replies: list[Any]) -> None:
        """A merged group's replies (OK, QUEUED, QUEUED, [values, count]). A nil is a miss
        only when no key of the group holds another type (``EXISTS`` counted no more keys
        than ``MGET`` found); otherwise, and after any error reply (a redirect, say), the
        callers concerned ask again on the direct path, which answers each exactly."""
        done = replies[3] if len(replies) == 4 else None
        if type(done) is list and len(done) == 2 and type(done[0]) is list \
                and len(done[0]) == len(group) and type(done[1]) is int:
            values: list[Any] = done[0]
            exact = done[1] == len(values) - values.count(None)
            for entry, value in zip(group, values):
                future = entry[4]
                if not future.done():
                    if value is not None or exact:
                        future.set_result(value)
                    else:
                        future.set_exception(_Detour(None))
            return
        if self._redirect is not None:  # a MOVED marks the slot map stale
            for reply in replies:
                if isinstance(reply, self._driver_error):
                    self._redirect(reply)
        for entry in group:
            if not entry[4].done():
                entry[4].set_exception(_Detour(None))

    def _reply_error(self, entry: _Entry, reply: BaseException) -> _Detour:
        """An error reply: a redirect goes to the direct path, anything else is that
        caller's own error (recorded for the breaker as the direct path does)."""
        if self._redirect is not None and redirect_of(reply, self._topology.driver)[0]:
            self._redirect(reply)
            return _Detour(None)
        router = self._router
        err = translate(reply, self._topology.driver, router._where(entry[1], entry[2]))
        router._record(entry[0], err)
        return _Detour(err)

    def _fail(self, entries: list[_Entry], exc: BaseException) -> None:
        """A node's batch failed as a whole (its connection broke, or none was had). Each
        caller's failure is recorded for the breaker, as each would have been on the direct
        path: a burst on a hung node opens the circuit after ``threshold`` callers."""
        router, topology = self._router, self._topology
        node = entries[0][0]
        driver_error = isinstance(exc, self._driver_error)
        if driver_error and isinstance(exc, (topology.driver.connection_error,
                                             topology.driver.timeout_error)):
            topology.note_unreachable(node)  # Cluster: re-read the map first
        for _, key, args, _, future in entries:
            if future.done():
                continue
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
                continue
            if driver_error:
                err: CachexError = translate(exc, topology.driver, router._where(key, args))
            elif isinstance(exc, CachexError):
                err = exc
            else:
                future.set_exception(exc)
                continue
            router._record(node, err)
            future.set_exception(_Detour(err))
