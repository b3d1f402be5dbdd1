from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import cachex.testing.node
import cachex.testing.ports
from cachex.testing import LabError, Server, flushall, server, servers

from ._util import alive, assert_gone, snapshot

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def node() -> Iterator[Server]:
    with server() as started:
        yield started


def quick(node: Server, timeout: float = 0.3) -> redis.Redis:
    """A client that fails fast and never retries, to observe a fault as it is."""
    return node.client(
        socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def test_server_serves(node: Server) -> None:
    client = node.client()
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert node.url == f"redis://127.0.0.1:{node.port}/0"
    assert node.address == f"127.0.0.1:{node.port}"
    assert node.ping()
    assert node.pid is not None and alive(node.pid)
    assert node.dir.name == "server" and node.dir.parent.name.startswith("cachex-lab-")
    assert node.log_path.exists()
    config = node.config_path.read_text()
    assert 'save ""' in config and "appendonly no" in config
    assert client.config_get("save") == {"save": ""}
    assert node.execute("DEBUG", "SLEEP", 0) == "OK"  # DEBUG is enabled
    flushall(node)
    assert client.dbsize() == 0
    client.close()


def test_password_and_extra_config() -> None:
    with server(password="s3cret pw", extra_config={"maxmemory-policy": "allkeys-lru"}) as node:
        assert node.client().config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        with pytest.raises(redis.AuthenticationError):
            node.client(password=None, retry=Retry(NoBackoff(), 0)).get("k")
        assert node.password == "s3cret pw"


def test_stop_is_idempotent(node: Server) -> None:
    pid = node.pid
    assert pid is not None
    node.stop()
    node.stop()
    assert not node.is_running() and node.pid is None and not node.ping()
    assert not alive(pid)


def test_kill_refuses_connections(node: Server) -> None:
    node.kill()
    assert not node.is_running()
    with pytest.raises(redis.ConnectionError):
        quick(node).get("k")


def test_pause_hangs_instead_of_refusing(node: Server) -> None:
    client = quick(node)
    client.set("k", "v")
    node.pause()
    assert node.paused and node.is_running()
    with pytest.raises(redis.TimeoutError):
        quick(node).get("k")
    assert not node.ping(timeout=0.2)
    node.resume()
    assert not node.paused
    assert quick(node, 5).get("k") == b"v"


def test_stop_a_paused_server(node: Server) -> None:
    node.pause()
    node.stop(timeout=5)
    assert not node.is_running()


def test_restart_keeps_port_and_config_not_data(node: Server) -> None:
    port, first_pid = node.port, node.pid
    node.client().set("k", "v")
    node.kill()
    node.restart()
    assert node.port == port and node.pid not in (None, first_pid)
    assert node.client().get("k") is None  # nothing is persisted
    node.restart()  # also from running
    assert node.ping()
    with pytest.raises(LabError):
        node.launch()  # already running


def test_servers_are_independent() -> None:
    with servers(3) as nodes:
        assert len({n.port for n in nodes}) == 3
        assert len({n.dir.parent for n in nodes}) == 1
        nodes[0].client().set("k", "v")
        assert [n.client().get("k") for n in nodes] == [b"v", None, None]
        pids, lab_dir = snapshot(nodes)
    assert_gone(pids, lab_dir)


def test_exit_cleans_up_even_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), servers(2) as nodes:
        pids, lab_dir = snapshot(nodes)
        nodes[1].pause()  # a stopped process must be killed too
        raise RuntimeError("boom")
    assert_gone(pids, lab_dir)


def test_start_failure_shows_the_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkdtemp puts the lab
    with (
        pytest.raises(LabError, match="no-such-directive") as caught,
        server(extra_config={"no-such-directive": "1"}),
    ):
        pass
    assert "exited with status" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@contextmanager
def _taken_port(monkeypatch: pytest.MonkeyPatch, nth: int) -> Iterator[tuple[int, list[int]]]:
    """A port held by someone else, handed out as the ``nth`` free port (0-based); yields it
    and the list of every port handed out."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    real = cachex.testing.ports.free_port
    handed: list[int] = []

    def racy(*, cluster_bus: bool = False) -> int:
        port = taken if len(handed) == nth else real(cluster_bus=cluster_bus)
        handed.append(port)
        return port

    monkeypatch.setattr("cachex.testing.node.free_port", racy)
    try:
        yield taken, handed
    finally:
        blocker.close()
    assert handed[nth] == taken


def test_a_taken_port_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    with _taken_port(monkeypatch, 0) as (taken, _), server() as node:
        assert node.port != taken
        assert node.ping()


def test_a_taken_port_is_replaced_for_a_node_that_died_before_its_turn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A lab starts its nodes together, then waits for each in turn: the second node has
    exited on its taken port long before the lab waits for it, and must still be re-ported
    (this once failed as "cannot wait for node1: it is not running")."""
    with _taken_port(monkeypatch, 1) as (taken, _):
        real_wait = cachex.testing.node.Server.wait_started

        def slow_first(self: Server, timeout: float = 30.0) -> None:
            if self.port != taken:
                time.sleep(0.5)  # the node on the taken port has exited by now
            real_wait(self, timeout)

        monkeypatch.setattr(cachex.testing.node.Server, "wait_started", slow_first)
        with servers(2) as nodes:
            assert all(n.ping() for n in nodes)
            assert taken not in [n.port for n in nodes]


def test_another_server_on_our_port_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    with server() as first:
        real = cachex.testing.ports.free_port
        handed: list[int] = []

        def racy(*, cluster_bus: bool = False) -> int:
            port = first.port if not handed else real(cluster_bus=cluster_bus)
            handed.append(port)
            return port

        monkeypatch.setattr("cachex.testing.node.free_port", racy)
        with server() as second:
            assert second.port != first.port
            assert second.execute("INFO", "server")["process_id"] == second.pid
        assert first.ping()


def _run_child(code: str) -> tuple[subprocess.Popen[str], int, Path]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    pid, lab_dir = child.stdout.readline().split()
    return child, int(pid), Path(lab_dir)


def test_atexit_stops_labs_left_open() -> None:
    child, pid, lab_dir = _run_child(
        """
        from cachex.testing import server
        lab = server()
        node = lab.__enter__()  # never exited: atexit must clean up
        print(node.pid, node.dir.parent, flush=True)
        """
    )
    assert child.wait(30) == 0
    assert_gone([pid], lab_dir)


def test_servers_die_with_a_killed_parent() -> None:
    child, pid, lab_dir = _run_child(
        """
        import os, signal
        from cachex.testing import server
        with server() as node:
            print(node.pid, node.dir.parent, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no context exit
        """
    )
    assert child.wait(30) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    # Only the directory outlives a SIGKILLed parent; remove it here.
    import shutil

    shutil.rmtree(lab_dir, ignore_errors=True)
