from __future__ import annotations

from pathlib import Path

import pytest

from cachex.testing import LabError, find_binaries, free_port, sentinel
from cachex.testing.ports import CLUSTER_BUS_OFFSET, _bindable

pytestmark = pytest.mark.timeout(60)

_ENV = ("CACHEX_SERVER_BIN", "CACHEX_SENTINEL_BIN", "CACHEX_CLI_BIN", "CACHEX_FLAVOR")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def real_server() -> Path:
    return find_binaries().server


def _path_with(tmp_path: Path, links: dict[str, Path]) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in links.items():
        (bin_dir / name).symlink_to(target)
    return str(bin_dir)


def test_finds_installed_binaries() -> None:
    found = find_binaries()
    assert found.server.is_file()
    assert found.flavor in ("redis", "valkey")
    assert found.version >= (6, 0, 0)
    assert found.server_argv(Path("x.conf")) == [str(found.server), "x.conf"]


def test_nothing_installed_says_what_to_install(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("PATH", str(tmp_path))
    with pytest.raises(LabError, match="apt-get install redis-server redis-sentinel"):
        find_binaries()


def test_bad_explicit_server_bin(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("CACHEX_SERVER_BIN", str(tmp_path / "nope"))
    with pytest.raises(LabError, match="CACHEX_SERVER_BIN"):
        find_binaries()


def test_unknown_flavor(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CACHEX_FLAVOR", "memcached")
    with pytest.raises(LabError, match="CACHEX_FLAVOR"):
        find_binaries()


def test_requested_valkey_must_exist(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, real_server: Path
) -> None:
    clean_env.setenv("PATH", _path_with(tmp_path, {"redis-server": real_server}))
    clean_env.setenv("CACHEX_FLAVOR", "valkey")
    with pytest.raises(LabError, match="valkey-server"):
        find_binaries()


def test_valkey_used_when_redis_absent(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, real_server: Path
) -> None:
    # A redis binary under valkey's names stands in for an installed Valkey.
    clean_env.setenv("PATH", _path_with(tmp_path, {"valkey-server": real_server}))
    found = find_binaries()
    assert found.flavor == "valkey"
    assert found.server.name == "valkey-server"


def test_explicit_binaries(clean_env: pytest.MonkeyPatch, real_server: Path) -> None:
    clean_env.setenv("CACHEX_SERVER_BIN", str(real_server))
    found = find_binaries()
    assert found.server == real_server
    assert found.version >= (6, 0, 0)


def test_sentinel_falls_back_to_server_in_sentinel_mode(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, real_server: Path
) -> None:
    clean_env.setenv("PATH", _path_with(tmp_path, {"redis-server": real_server}))
    found = find_binaries()
    assert found.sentinel is None
    assert found.sentinel_argv(Path("s.conf"))[-1] == "--sentinel"
    with sentinel(replicas=0, sentinels=1) as started:  # really runs `redis-server --sentinel`
        assert started.primary_node is started.nodes[0]
        assert started.sentinels[0].execute("SENTINEL", "MYID")


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == len(ports)
    assert all(_bindable("127.0.0.1", port) == port for port in ports)


def test_cluster_ports_leave_room_for_the_bus() -> None:
    for _ in range(10):
        port = free_port(cluster_bus=True)
        assert port < 55000
        assert _bindable("127.0.0.1", port + CLUSTER_BUS_OFFSET) is not None
