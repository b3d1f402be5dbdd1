"""A lab: one temporary directory and the server processes started in it.

Closing a lab kills its processes and removes the directory. Labs close when their context
manager exits (also on an exception), and an ``atexit`` hook closes any left open; the processes
are additionally tied to this process's death on Linux (``PR_SET_PDEATHSIG``), so a crashed or
SIGKILLed test run leaves no redis-server behind.

Set ``CACHEX_LAB_KEEP=1`` to keep the directories (configs and logs) for a post-mortem.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from cachex.testing.binaries import Binaries, find_binaries
from cachex.testing.errors import LabError
from cachex.testing.node import (
    PORT_RETRIES,
    START_TIMEOUT,
    ConfigBody,
    PortInUse,
    Server,
    quote_value,
)

__all__ = ["Lab", "server", "servers"]

EMPTY = '""'  # an empty config value, as in `save ""`

_registry_lock = threading.Lock()
_open_labs: set[Lab] = set()


class Lab:
    """Owns a temporary directory and every :class:`Server` created through it."""

    dir: Path
    binaries: Binaries
    servers: list[Server]

    def __init__(self, kind: str = "lab", *, flavor: str | None = None) -> None:
        self.binaries = find_binaries(flavor)
        self.dir = Path(tempfile.mkdtemp(prefix="cachex-lab-", suffix=f"-{kind}"))
        self.servers = []
        self._owner_pid = os.getpid()
        self._closed = False
        with _registry_lock:
            _open_labs.add(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def data_node(
        self,
        name: str,
        *,
        password: str | None = None,
        extra_config: Mapping[str, str] | None = None,
        lines: Sequence[str] = (),
        cluster_bus: bool = False,
    ) -> Server:
        """Create (not start) a data node: no persistence, DEBUG allowed, fast replica sync."""
        version = self.binaries.version
        extra = dict(extra_config or {})

        def body(node: Server) -> list[str]:
            out = [
                'save ""',
                "appendonly no",
                "repl-diskless-sync yes",
                "repl-diskless-sync-delay 0",  # default 5 s would delay every replica's sync
            ]
            if version >= (7, 0, 0):
                out.append("enable-debug-command yes")
            if password is not None:
                quoted = quote_value(password)
                out += [f"requirepass {quoted}", f"masterauth {quoted}"]
            out += lines
            out += [f"{key} {value or EMPTY}" for key, value in extra.items()]
            return out

        return self.add(name, body, password=password, cluster_bus=cluster_bus)

    def add(
        self,
        name: str,
        body: ConfigBody,
        *,
        password: str | None = None,
        sentinel: bool = False,
        cluster_bus: bool = False,
    ) -> Server:
        """Create (not start) a server whose config body ``body`` renders."""
        if self._closed:
            raise LabError("this lab is closed")
        node = Server(
            self.dir,
            name,
            self.binaries,
            body,
            password=password,
            sentinel=sentinel,
            cluster_bus=cluster_bus,
        )
        self.servers.append(node)
        return node

    def start(self, nodes: Sequence[Server], timeout: float = START_TIMEOUT) -> None:
        """Start ``nodes`` concurrently and wait until each answers; re-port on a bind race."""
        pending = list(nodes)
        for _ in range(PORT_RETRIES):
            for node in pending:
                node.write_config()
                node.launch()
            raced: list[Server] = []
            for node in pending:
                try:
                    node.wait_started(timeout)
                except PortInUse:
                    node.reassign_port()
                    raced.append(node)
            if not raced:
                return
            pending = raced
        raise LabError(f"could not find free ports for {', '.join(n.name for n in pending)}")

    def close(self) -> None:
        """Kill every process (nothing is persisted, so no graceful stop) and remove the dir."""
        if self._closed or os.getpid() != self._owner_pid:
            return  # already closed, or a forked child: the processes are the parent's
        self._closed = True
        for node in self.servers:
            node.kill()
        for node in self.servers:
            node.close_clients()
        if os.environ.get("CACHEX_LAB_KEEP"):
            print(f"cachex.testing: kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        with _registry_lock:
            _open_labs.discard(self)


@atexit.register
def _close_open_labs() -> None:
    with _registry_lock:
        labs = list(_open_labs)
    for lab in labs:
        lab.close()


@contextmanager
def server(
    *,
    password: str | None = None,
    extra_config: Mapping[str, str] | None = None,
    flavor: str | None = None,
) -> Iterator[Server]:
    """One standalone server, for the single-node topology.

    ``flavor`` (``"redis"`` or ``"valkey"``) picks the server; default: ``CACHEX_FLAVOR``.
    """
    with Lab("server", flavor=flavor) as lab:
        node = lab.data_node("server", password=password, extra_config=extra_config)
        lab.start([node])
        yield node


@contextmanager
def servers(
    n: int,
    *,
    password: str | None = None,
    extra_config: Mapping[str, str] | None = None,
    flavor: str | None = None,
) -> Iterator[list[Server]]:
    """``n`` independent servers (client-side shards, or a Django "replicated" set).

    ``flavor`` (``"redis"`` or ``"valkey"``) picks the server; default: ``CACHEX_FLAVOR``.
    """
    if n < 1:
        raise LabError(f"servers(n) needs n >= 1, got {n}")
    with Lab("servers", flavor=flavor) as lab:
        nodes = [
            lab.data_node(f"server{i}", password=password, extra_config=extra_config)
            for i in range(n)
        ]
        lab.start(nodes)
        yield nodes
