"""One server process (data node or sentinel) with its own directory, config and log.

A :class:`Server` belongs to a lab (``cachex.testing.lab``), which picks its port, starts it and
kills it when the lab ends. The methods here are the faults tests inject into a single node.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cachex.testing.binaries import Binaries
from cachex.testing.errors import LabError
from cachex.testing.ports import free_port

__all__ = ["Server"]

HOST = "127.0.0.1"
START_TIMEOUT = 15.0
_LOG_TAIL_LINES = 25
PORT_RETRIES = 5

ConfigBody = Callable[["Server"], list[str]]


class PortInUse(LabError):
    """The port was taken between choosing it and the server binding it (retried with another)."""


class Server:
    """One redis-server / valkey-server process on 127.0.0.1 (or a sentinel, see ``sentinel``)."""

    host: str
    port: int
    name: str
    dir: Path
    log_path: Path
    config_path: Path
    password: str | None
    sentinel: bool

    def __init__(
        self,
        root: Path,
        name: str,
        binaries: Binaries,
        body: ConfigBody,
        *,
        password: str | None = None,
        sentinel: bool = False,
        cluster_bus: bool = False,
    ) -> None:
        self.host = HOST
        self.name = name
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=False)
        self.log_path = self.dir / "server.log"
        self.config_path = self.dir / ("sentinel.conf" if sentinel else "server.conf")
        self.password = password
        self.sentinel = sentinel
        self._binaries = binaries
        self._body = body
        self._cluster_bus = cluster_bus
        self.port = free_port(cluster_bus=cluster_bus)
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._admin: redis.Redis | None = None

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running" if self.is_running() else "stopped"
        return f"<Server {self.name} {self.address} {state}>"

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` (no password in it: see ``password``)."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form cluster and sentinel replies use."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id while the process exists (also while paused), else None."""
        return self._proc.pid if self.is_running() and self._proc is not None else None

    @property
    def paused(self) -> bool:
        """True between :meth:`pause` and :meth:`resume`."""
        return self._paused and self.is_running()

    def is_running(self) -> bool:
        """True while the process exists, paused or not."""
        return self._proc is not None and self._proc.poll() is None

    def client(self, **kwargs: Any) -> redis.Redis:
        """A fresh redis-py client to this node; keyword arguments override the defaults."""
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "password": self.password,
            "socket_timeout": 5.0,
            "socket_connect_timeout": 5.0,
        }
        options.update(kwargs)
        return redis.Redis(**options)

    def execute(self, *args: Any) -> Any:
        """Run one command on the lab's own connection: decoded strings, no driver retries.

        For lab plumbing and test set-up (``CLUSTER NODES``, ``ROLE``, ``CONFIG SET``...), not
        for the code under test, which should use its own client.
        """
        admin = self._admin_client()
        try:
            return admin.execute_command(*args)
        except redis.ConnectionError:
            # The node restarted since the last command: reconnect once.
            admin.connection_pool.disconnect()
            return admin.execute_command(*args)

    def ping(self, timeout: float = 0.5) -> bool:
        """True if the node answers PING within ``timeout`` seconds."""
        probe = self._probe_client(timeout)
        try:
            return bool(probe.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            probe.close()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (a clean shutdown) and wait; SIGKILL if it is not gone in time. Idempotent."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            if self._paused:
                proc.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._forget_process()

    def kill(self) -> None:
        """SIGKILL: a real crash, no shutdown handling. Idempotent."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._forget_process()

    def pause(self) -> None:
        """SIGSTOP: the node hangs, so clients time out instead of being refused."""
        proc = self._require_running("pause")
        proc.send_signal(signal.SIGSTOP)
        self._paused = True
        _wait_for_state(proc.pid, "T")

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        proc = self._require_running("resume")
        proc.send_signal(signal.SIGCONT)
        self._paused = False

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Start again on the same port with the same config (stopping first if running).

        A cluster node keeps its ``nodes.conf`` and rejoins; a sentinel keeps the config it
        rewrote. Waits until the node answers PING.
        """
        self.stop()
        self.launch()
        self.wait_started(timeout)

    # -- start-up, driven by the lab -------------------------------------------------------

    def write_config(self) -> None:
        """(Re)write the config file for the current port."""
        lines = [
            "# written by cachex.testing",
            f"bind {self.host}",
            f"port {self.port}",
            f"dir {quote_value(str(self.dir))}",
            'logfile ""',  # to stdout, which is the log file: start-up errors land there too
            "daemonize no",
            "protected-mode no",
            *self._body(self),
        ]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def launch(self) -> None:
        """Start the process without waiting for it to answer."""
        if self.is_running():
            raise LabError(f"{self.name} is already running (pid {self.pid})")
        binaries = self._binaries
        argv = (
            binaries.sentinel_argv(self.config_path)
            if self.sentinel
            else binaries.server_argv(self.config_path)
        )
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                close_fds=True,
                start_new_session=True,  # Ctrl-C in a terminal reaches Python only
                preexec_fn=_die_with_parent_hook(),  # a prctl call only
            )
        self._paused = False

    def wait_started(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until this very process answers on its port.

        Raises :class:`PortInUse` when the port was taken meanwhile, :class:`LabError` with the
        tail of the log when the process died or did not answer in time.
        """
        proc = self._proc
        if proc is None:  # an exited process is handled below: its log says why
            raise LabError(f"cannot wait for {self.name}: it was never launched")
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log = self.log_tail()
                self._forget_process()
                if "Address already in use" in log:
                    raise PortInUse(f"{self.name}: port {self.port} was taken")
                raise LabError(
                    f"{self.name} ({self.address}) exited with status {proc.returncode} "
                    f"during start-up; {self.log_path}:\n{log}"
                )
            responder = self._responder_pid()
            if responder == proc.pid:
                return
            if responder is not None:  # someone else answers on our port
                self.kill()
                raise PortInUse(f"{self.name}: port {self.port} is served by pid {responder}")
            if time.monotonic() > deadline:
                log = self.log_tail()
                self.kill()
                raise LabError(
                    f"{self.name} ({self.address}) did not answer within {timeout:.0f}s; "
                    f"{self.log_path}:\n{log}"
                )
            time.sleep(0.01)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Write the config, launch and wait; pick another port if this one was taken."""
        for attempt in range(PORT_RETRIES):
            self.write_config()
            self.launch()
            try:
                self.wait_started(timeout)
                return
            except PortInUse:
                if attempt == PORT_RETRIES - 1:
                    raise
                self.reassign_port()

    def reassign_port(self) -> None:
        """Take a fresh free port (before a first start only: peers may know the old one)."""
        self.port = free_port(cluster_bus=self._cluster_bus)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the log file (where start-up errors are)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log file)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def close_clients(self) -> None:
        """Drop the lab's own connection (the lab calls this on exit)."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    # -- internals ---------------------------------------------------------------------

    def _require_running(self, action: str) -> subprocess.Popen[bytes]:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise LabError(f"cannot {action} {self.name}: it is not running")
        return proc

    def _forget_process(self) -> None:
        self._proc = None
        self._paused = False
        if self._admin is not None:
            self._admin.connection_pool.disconnect()

    def _responder_pid(self) -> int | None:
        """Pid of whatever answers on our port, or None when nothing answers yet."""
        probe = self._probe_client(0.5)
        try:
            info = probe.info("server")
        except (redis.RedisError, OSError):
            return None
        finally:
            probe.close()
        pid = info.get("process_id")
        return int(pid) if pid is not None else self.pid  # cannot tell: assume it is us

    def _probe_client(self, timeout: float) -> redis.Redis:
        return redis.Redis(
            host=self.host,
            port=self.port,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
            single_connection_client=False,
        )

    def _admin_client(self) -> redis.Redis:
        if self._admin is None:
            self._admin = redis.Redis(
                host=self.host,
                port=self.port,
                password=self.password,
                socket_timeout=5.0,
                socket_connect_timeout=2.0,
                retry=Retry(NoBackoff(), 0),
                protocol=2,
                decode_responses=True,
            )
        return self._admin


_SAFE = re.compile(r"^[A-Za-z0-9_./:@+=,-]+$")


def quote_value(value: str) -> str:
    """Quote a value for a redis config file when it has spaces or quotes."""
    if _SAFE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wait_for_state(pid: int, state: str, timeout: float = 2.0) -> None:
    """Wait until /proc says the process is in ``state`` (signals are delivered asynchronously)."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return  # no procfs (macOS) or the process is gone: nothing to wait for
        if fields and fields[0] == state:
            return
        time.sleep(0.002)


_PR_SET_PDEATHSIG = 1
_libc: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook that makes the child die with this process (Linux only).

    The kernel ties PR_SET_PDEATHSIG to the *thread* that forked, so it is only armed when
    starting from the main thread: a server started from a worker thread would otherwise die with
    that thread. Those rely on the context managers and the ``atexit`` net instead.
    """
    if _libc is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()
    prctl = _libc.prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook
