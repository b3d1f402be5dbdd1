"""One invalidation channel per data node: a daemon thread holding a dedicated connection.

The connection asks for broadcast tracking of the alias's prefixes, redirected to itself,
then subscribes to ``__redis__:invalidate`` (RESP2, any Redis >= 6 or Valkey)::

    CLIENT ID                                   -> n
    CLIENT TRACKING ON REDIRECT n BCAST PREFIX p [PREFIX p ...]
    SUBSCRIBE __redis__:invalidate

From then on the server sends the names of the keys under those prefixes that change on that
node, whoever changes them (a null list for FLUSHDB/FLUSHALL). Broadcast mode needs nothing
from the connections that read, so the data path is untouched.

A second, plain connection to the same server asks ``ROLE`` every ``interval``: a primary
demoted to replica (a graceful failover) keeps its clients, and no invalidation would say so.
The channel is *up* only between a confirmed subscription on a primary and the first sign of
trouble (an error, a silent socket, another role, another address); the near cache refuses
to store anything while a channel is not up, and flushes when one goes down.

Only the drivers' public connection API is used (``connect``, ``send_command``,
``read_response``, ``can_read``, ``disconnect``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any

log = logging.getLogger("cachex.near")

CHANNEL = b"__redis__:invalidate"
# How often the channel proves the server is there and still a primary (seconds).
INTERVAL = 1.0
# How long to wait before connecting again after a failure (seconds), doubled after each
# failure in a row up to BACKOFF_MAX (a server that refuses tracking is not hammered).
BACKOFF = 0.2
BACKOFF_MAX = 5.0


class RoleChanged(ConnectionError):
    """The server answered ROLE with something other than master."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _where(conn: Any) -> tuple[str, int] | None:
    """The address a connection reached (a Sentinel-managed one sets it on connect)."""
    host = getattr(conn, "host", None)
    return (_text(host), int(conn.port)) if host else None


class Channel:
    """The invalidation channel to one node (``node`` as the topology names it)."""

    def __init__(self, node: Any, label: str, pool: Any, prefixes: tuple[str, ...],
                 on_keys: Callable[[list[bytes] | None], None],
                 on_state: Callable[[Channel, bool, str], None]) -> None:
        self.node = node
        self.label = label
        self._pool = pool
        self._prefixes = prefixes
        self._on_keys = on_keys
        self._on_state = on_state
        self.up = False
        self.ups = 0  # how many times the channel came up (tests wait on it)
        self._stop = threading.Event()
        self._conns: list[Any] = []
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"cachex-near {label}")

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 0) -> None:
        self._stop.set()
        for conn in list(self._conns):
            try:
                conn.disconnect()
            except Exception:
                pass
        if wait:
            self._thread.join(wait)

    # -- the thread ---------------------------------------------------------------------
    def _connection(self) -> Any:
        kw = dict(self._pool.connection_kwargs)
        # our own reads pace the connection: no driver health check (it would PING and
        # expect PONG, which a subscribed RESP2 connection answers differently)
        kw.update(protocol=2, health_check_interval=0, socket_timeout=3 * INTERVAL + 1,
                  socket_keepalive=True)
        conn = self._pool.connection_class(**kw)
        self._conns.append(conn)
        return conn

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            ups = self.ups
            reason = "channel_lost"
            try:
                self._serve()
                failures = 0
            except Exception as exc:
                if isinstance(exc, RoleChanged):
                    reason = "role"
                failures = 1 if self.ups != ups else failures + 1  # it was up: a new outage
                if failures == 1 and not self._stop.is_set():
                    log.warning("cachex near cache: invalidation channel to %s lost (%s: "
                                "%s); local copies dropped until it is back", self.label,
                                type(exc).__name__, exc, extra={"event": "near_lost"})
            finally:
                self._down(reason)
                for conn in self._conns:
                    try:
                        conn.disconnect()
                    except Exception:
                        pass
                self._conns.clear()
            self._stop.wait(min(BACKOFF * 2 ** max(failures - 1, 0), BACKOFF_MAX))

    def _down(self, reason: str) -> None:
        if self.up:
            self.up = False
            self._on_state(self, False, reason)

    def _serve(self) -> None:
        conn = self._connection()
        conn.connect()
        conn.send_command("CLIENT", "ID")
        cid = conn.read_response()
        tracking: list[Any] = ["CLIENT", "TRACKING", "ON", "REDIRECT", cid, "BCAST"]
        for prefix in self._prefixes:
            tracking += ["PREFIX", prefix]
        conn.send_command(*tracking)
        conn.read_response()
        conn.send_command("SUBSCRIBE", CHANNEL)
        conn.read_response()
        where = _where(conn)
        probe = self._connection()
        probe.connect()
        if _where(probe) != where:  # a Sentinel moved the primary in between: start over
            raise ConnectionError("the primary moved while connecting")
        self._check(probe)
        if self._stop.is_set():
            return
        self.up = True
        self.ups += 1
        self._on_state(self, True, "channel_up")
        heard = last_check = monotonic()
        pinged = False
        while not self._stop.is_set():
            if conn.can_read(timeout=INTERVAL / 4):
                message = conn.read_response()
                heard, pinged = monotonic(), False
                self._handle(message)
                continue
            now = monotonic()
            if now - last_check >= INTERVAL:
                self._check(probe)
                last_check = now
                if not pinged and now - heard >= INTERVAL:
                    conn.send_command("PING")
                    pinged = True
                elif pinged and now - heard >= 3 * INTERVAL:
                    raise ConnectionError("no answer to PING")

    def _check(self, probe: Any) -> None:
        probe.send_command("ROLE")
        role = probe.read_response()
        if _text(role[0]) != "master":
            raise RoleChanged(f"the server is now a {_text(role[0])}")

    def _handle(self, message: Any) -> None:
        if not isinstance(message, list) or len(message) < 3:
            return
        kind = message[0]
        if kind in (b"message", "message") and message[1] in (CHANNEL, CHANNEL.decode()):
            keys = message[2]
            self._on_keys(None if keys is None else list(keys))
