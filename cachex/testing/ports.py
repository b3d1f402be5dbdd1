"""Free loopback ports for lab servers.

A port found free can be taken by someone else before the server binds it (another lab in a
parallel test process, an outgoing connection). Ports handed out here are remembered for the life
of the process so two labs of one process never get the same one, and the server start-up retries
with a fresh port when the bind still fails (see ``cachex.testing.server``).
"""

from __future__ import annotations

import socket
import threading

from cachex.testing.errors import LabError

__all__ = ["CLUSTER_BUS_OFFSET", "free_port"]

CLUSTER_BUS_OFFSET = 10000
_MAX_CLUSTER_PORT = 55000  # port + 10000 must stay a valid port, and clear of the top of the range
_ATTEMPTS = 200

_lock = threading.Lock()
_handed_out: set[int] = set()


def free_port(*, cluster_bus: bool = False, host: str = "127.0.0.1") -> int:
    """Return a port that is free on ``host`` now; with ``cluster_bus``, port + 10000 is too."""
    with _lock:
        for _ in range(_ATTEMPTS):
            port = _bindable(host, 0)
            if port is None or port in _handed_out:
                continue
            if cluster_bus:
                if port >= _MAX_CLUSTER_PORT:
                    continue
                if _bindable(host, port + CLUSTER_BUS_OFFSET) is None:
                    continue
            _handed_out.add(port)
            return port
    raise LabError(f"no free port on {host} after {_ATTEMPTS} attempts")


def _bindable(host: str, port: int) -> int | None:
    """Bind ``host:port`` (0: any) without listening, and return the port bound, or None."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the way redis binds
        sock.bind((host, port))
        bound: int = sock.getsockname()[1]
        return bound
    except OSError:
        return None
    finally:
        sock.close()
