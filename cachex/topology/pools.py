"""Where clients live: sync pools process-wide, async clients per event loop.

Django builds a backend instance per thread and per async task (ticket #35651), so nothing
here hangs off a backend instance. Sync clients live on the process-wide topology object
(one per full set of connection settings, see ``topology_for``).
Async clients belong to one event loop and are never handed to another; when a loop shuts
down (``asyncio.run`` / ``shutdown_asyncgens``) its clients are disconnected inside that loop,
and entries for loops closed some other way are swept on the next lookup.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Hashable
from typing import Any


class LoopClients:
    """The async clients of one event loop, closed from inside that loop at shutdown."""

    __slots__ = ("__weakref__", "clients", "closer", "swept")

    def __init__(self) -> None:
        self.clients: dict[Hashable, Any] = {}
        self.closer: AsyncGenerator[None, None] | None = None
        self.swept = False

    async def aclose(self) -> None:
        clients, self.clients = self.clients, {}
        for client in clients.values():
            await close_async_client(client)


async def close_async_client(client: Any) -> None:
    """Close a redis-py/valkey-py asyncio client of any kind (plain, cluster, sentinel-backed)."""
    closer = getattr(client, "aclose", None) or getattr(client, "close", None)
    if closer is not None:
        result = closer()
        if asyncio.iscoroutine(result):
            await result
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        await pool.disconnect()


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopClients] = (
    weakref.WeakKeyDictionary()
)
_loops_lock = threading.Lock()


async def _closer(state: LoopClients) -> AsyncGenerator[None, None]:
    """Parks until the loop finalises async generators, then closes that loop's clients."""
    try:
        yield
    finally:
        if state.swept:
            return  # noqa: B012 - the loop is gone; nothing can be awaited
        loop = asyncio.get_running_loop()
        with _loops_lock:
            if _loops.get(loop) is state:
                del _loops[loop]
        await state.aclose()


def loop_clients() -> LoopClients:
    """This event loop's client table (created on first use)."""
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is not None:
        return state
    with _loops_lock:
        sweep_closed_loops()
        state = _loops.get(loop)
        if state is None:
            state = _loops[loop] = LoopClients()
            state.closer = _closer(state)
            # Starting the generator registers it with this loop's asyncgen hooks, so
            # loop.shutdown_asyncgens() (run by asyncio.run) finalises it inside the loop.
            gen = state.closer.__anext__()
            try:
                gen.send(None)
            except StopIteration:
                pass
    return state


def async_client(key: Hashable, factory: Callable[[], Any]) -> Any:
    """The client for ``key`` on the running loop, built by ``factory`` on first use."""
    state = loop_clients()
    try:
        return state.clients[key]
    except KeyError:
        client = state.clients[key] = factory()
        return client


def sweep_closed_loops() -> None:
    """Forget loops that were closed without finalising their async generators."""
    for loop in [lp for lp in list(_loops.keys()) if lp.is_closed()]:
        state = _loops.pop(loop, None)
        if state is None:
            continue
        state.clients.clear()
        state.swept = True
        if state.closer is not None:
            # Finish the parked generator here, synchronously, so its finaliser never asks
            # the closed loop to schedule anything.
            try:
                state.closer.aclose().send(None)
            except (StopIteration, RuntimeError):
                pass
            state.closer = None


def live_loop_count() -> int:
    """How many event loops hold cachex clients (for tests and diagnostics)."""
    sweep_closed_loops()
    return len(_loops)


async def close_loop_clients(keys: Callable[[Hashable], bool] | None = None) -> None:
    """Disconnect this loop's clients (all, or those whose key matches ``keys``)."""
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is None:
        return
    doomed = [k for k in state.clients if keys is None or keys(k)]
    for k in doomed:
        await close_async_client(state.clients.pop(k))
