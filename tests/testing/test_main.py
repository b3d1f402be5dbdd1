"""``python -m cachex.testing`` and the pytest plugin, each run in a child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis

from ._util import assert_gone

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cachex.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def test_cli_single_json_until_interrupted() -> None:
    child = _start("--json", "single")
    assert child.stdout is not None
    details = json.loads(child.stdout.readline())
    assert details["topology"] == "single"
    assert redis.Redis.from_url(details["url"]).ping()
    child.send_signal(signal.SIGINT)
    assert child.wait(30) == 0
    assert_gone([details["nodes"][0]["pid"]], Path(details["dir"]))


def test_cli_sentinel_prints_urls_and_stops_on_sigterm() -> None:
    child = _start("sentinel", "--sentinels", "1", "--replicas", "0")
    assert child.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] != "Ctrl-C to stop":
        line = child.stdout.readline()
        assert line, "the lab ended early"
        lines.append(line.strip())
    assert lines[0] == "cachex lab: sentinel"
    assert any(line.startswith("url       redis+sentinel://127.0.0.1:") for line in lines)
    child.terminate()
    assert child.wait(30) == 0


def test_cli_reports_lab_errors() -> None:
    child = subprocess.run(
        [sys.executable, "-m", "cachex.testing", "single"],
        capture_output=True,
        text=True,
        env=_env(CACHEX_SERVER_BIN="/nonexistent/redis-server"),
        timeout=60,
    )
    assert child.returncode == 1
    assert "CACHEX_SERVER_BIN" in child.stderr


def test_pytest_plugin_fixtures_are_lazy_and_serve(tmp_path: Path) -> None:
    labs = tmp_path / "tmp"
    labs.mkdir()
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["cachex.testing.pytest_plugin"]\n')
    (tmp_path / "test_user_suite.py").write_text(
        textwrap.dedent(
            """
            import os
            import tempfile

            from cachex.testing import flushall


            def test_nothing_started_before_asked():
                assert os.listdir(tempfile.gettempdir()) == []


            def test_server(cachex_server):
                client = cachex_server.client()
                client.set("k", "v")
                assert client.get("k") == b"v"
                flushall(cachex_server)


            def test_same_server_for_the_session(cachex_server):
                assert cachex_server.client().get("k") is None


            def test_servers(cachex_servers):
                assert len({node.port for node in cachex_servers}) == 3
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(TMPDIR=str(labs)),
        timeout=100,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
    assert list(labs.iterdir()) == []
