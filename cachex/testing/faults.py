"""Server-side faults beyond the process signals on :class:`~cachex.testing.Server`.

``Server.pause()`` (SIGSTOP) freezes a node whole, sentinels and cluster gossip included; these
helpers make only the command path slow or stalled while the process stays healthy.
"""

from __future__ import annotations

import threading
import time

import redis

from cachex.testing.node import Server

__all__ = ["client_pause", "client_unpause", "debug_sleep"]


def debug_sleep(server: Server, seconds: float) -> threading.Thread:
    """Block ``server``'s event loop for ``seconds`` with DEBUG SLEEP, sent from a background
    thread so the caller carries on at once. Join the returned thread to wait for the end.

    Every client of the node stalls (commands queue, nothing answers), like a slow command or a
    long fork. DEBUG is enabled in every lab config (``enable-debug-command yes``).
    """
    started = threading.Event()

    def run() -> None:
        with server.client(socket_timeout=seconds + 10) as client:
            client.ping()  # connect first, so the sleep starts once `started` is set
            started.set()
            try:
                client.execute_command("DEBUG", "SLEEP", seconds)
            except redis.RedisError:
                pass  # the node died or was paused meanwhile: the fault happened anyway

    thread = threading.Thread(target=run, name=f"debug-sleep-{server.name}", daemon=True)
    thread.start()
    started.wait(10)
    # Return once the node is really stalled (a PING goes unanswered) or the sleep is over.
    deadline = time.monotonic() + min(seconds, 2.0)
    while thread.is_alive() and time.monotonic() < deadline and server.ping(timeout=0.05):
        pass
    return thread


def client_pause(server: Server, ms: int, mode: str = "ALL") -> None:
    """``CLIENT PAUSE ms mode``: clients of ``server`` block for ``ms`` milliseconds.

    ``mode="WRITE"`` (Redis 6.2+) blocks only writes, as during a manual failover; replication
    and the node itself keep running.
    """
    mode = mode.upper()
    if mode not in ("ALL", "WRITE"):
        raise ValueError(f"mode must be 'ALL' or 'WRITE', not {mode!r}")
    server.execute("CLIENT", "PAUSE", int(ms), mode)


def client_unpause(server: Server) -> None:
    """End a ``WRITE`` :func:`client_pause` early (Redis 6.2+). An ``ALL`` pause holds back
    this command too, so it only takes effect when that pause ends.
    """
    server.execute("CLIENT", "UNPAUSE")
