"""A small asyncio TCP proxy between a client and one server, for network faults.

Server-side faults (SIGSTOP, DEBUG SLEEP, CLIENT PAUSE) stall the whole node. The proxy breaks
only the path of the clients that go through it, and can do what no server fault can: delay
bytes, swallow them (a blackhole: connected, never answered), reset connections, refuse new
ones, or forward a request and then cut the connection before the reply gets back (the command
ran, the client cannot know).

The proxy runs its own event loop in a daemon thread, so sync and async tests use it alike::

    with Proxy(server.host, server.port) as proxy:
        cache = RedisCache(proxy.url, {...})
        proxy.latency = 0.2
        proxy.reset_all()
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

CHUNK = 65536


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream = upstream

    def abort(self) -> None:
        _abort(self.client)
        _abort(self.upstream)


class Proxy:
    """TCP proxy to ``host:port`` listening on a free loopback port.

    Faults are plain attributes, read for every chunk, so they apply to open connections too:

    - ``latency``: seconds to hold each chunk (both directions) before passing it on;
    - ``blackhole``: swallow every byte both ways (connections stay up, nothing answers);
    - ``refuse``: reset every new connection at once (open ones are left alone);
    - ``cut_replies``: the next N replies from the server are not delivered; the client's
      connection is reset instead (the request did reach the server).

    ``accepted`` counts client connections; ``reset_all()`` resets the open ones.
    """

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.host = "127.0.0.1"
        self.port = 0
        self.latency = 0.0
        self.blackhole = False
        self.refuse = False
        self.cut_replies = 0
        self.accepted = 0
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"proxy-{port}")
        self._server: asyncio.AbstractServer | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Proxy:
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._accept, self.host, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def close(self) -> None:
        if self._server is not None:
            self._run(self._shutdown())  # asyncio objects are touched in their loop only
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- faults ----------------------------------------------------------------------------
    def heal(self) -> None:
        """Back to a clean pass-through (open connections stay as they are)."""
        self.latency = 0.0
        self.blackhole = False
        self.refuse = False
        self.cut_replies = 0

    def reset_all(self) -> int:
        """Reset every open connection; returns how many there were."""
        return self._run(self._close_links())

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # -- internals -------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._close_links()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _close_links(self) -> int:
        links = list(self._links)
        for link in links:
            link.abort()
        self._links.clear()
        return len(links)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.refuse:
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _abort(writer)
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(self._pump(reader, up_writer, link, replies=False),
                                 self._pump(up_reader, writer, link, replies=True))
        except asyncio.CancelledError:
            pass  # shutting down; ending quietly keeps asyncio's stream callback happy
        finally:
            self._links.discard(link)
            link.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    link: _Link, *, replies: bool) -> None:
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    return
                if self.latency:
                    await asyncio.sleep(self.latency)
                if self.blackhole:
                    continue
                if replies and self.cut_replies > 0:
                    self.cut_replies -= 1
                    link.abort()
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            link.abort()
