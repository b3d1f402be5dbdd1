"""The sentinel topology on a real sentinel set: the Django cache API, replica reads, bad
input, and riding through a failover (SIGKILL of the primary, and SENTINEL FAILOVER).

Failover tests assert only that the caller's loop resumes on the new primary; the longest
stall and the errors the caller saw are measured and printed (run with ``-s`` to see them),
never asserted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cachex.exceptions import ConnectionFailed
from cachex.testing import SentinelSet, Server, free_port
from cachex.topology import pools
from tests.faults._util import SETTLE, WARM_UP, Rider
from tests.faults._util import ride_async as aride_loop
from tests.faults._util import ride_sync as ride_loop

from .conftest import (
    BACKENDS,
    DATA_PASSWORD,
    command_calls,
    reset_stats,
    sentinel_location,
    sentinel_options,
)

pytestmark = pytest.mark.timeout(120)
DRIVERS = ["redis", "valkey"]


def build(make_cache: Any, lab: SentinelSet, driver: str, **options: Any) -> Any:
    return make_cache(sentinel_location(lab), driver, OPTIONS=sentinel_options(**options))


def raw(node: Server, cache: Any, key: str) -> Any:
    """The stored bytes of ``key`` read straight from ``node`` (not through cachex)."""
    return node.client().get(cache.make_key(key))


# ------------------------------------------------------------------ the Django cache API


@pytest.mark.parametrize("driver", DRIVERS)
def test_cache_api_sync(make_cache: Any, sentinel_lab: SentinelSet, driver: str) -> None:
    cache = build(make_cache, sentinel_lab, driver)
    primary = sentinel_lab.primary_node

    cache.set("n", 41)
    assert raw(primary, cache, "n") == b"41"  # on the primary the sentinels name
    assert cache.incr("n") == 42
    assert cache.get("n") == 42
    assert cache.add("n", 0) is False
    assert cache.add("fresh", {"a": [1, 2]}) is True
    assert cache.get("fresh") == {"a": [1, 2]}
    assert cache.has_key("fresh") and not cache.has_key("missing")
    cache.set_many({"m1": "one", "m2": b"two"}, timeout=60)
    assert cache.get_many(["m1", "m2", "missing"]) == {"m1": "one", "m2": b"two"}
    assert cache.touch("m1", 1000) is True
    assert 990 < primary.client().ttl(cache.make_key("m1")) <= 1000
    assert cache.incr_version("m2") == 2
    assert cache.get("m2", version=2) == b"two" and cache.get("m2") is None
    cache.delete_many(["m1", "fresh"])
    assert cache.get_many(["m1", "fresh"]) == {}
    assert cache.delete("n") is True and cache.delete("n") is False
    cache.set("gone-soon", 1)
    cache.clear()
    assert primary.client().dbsize() == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_cache_api_async(make_cache: Any, sentinel_lab: SentinelSet, driver: str) -> None:
    cache = build(make_cache, sentinel_lab, driver)
    primary = sentinel_lab.primary_node

    await cache.aset("n", 41)
    assert raw(primary, cache, "n") == b"41"
    assert await cache.aincr("n") == 42
    assert await cache.aget("n") == 42
    assert await cache.aadd("n", 0) is False
    assert await cache.aadd("fresh", {"a": [1, 2]}) is True
    assert await cache.ahas_key("fresh") and not await cache.ahas_key("missing")
    await cache.aset_many({"m1": "one", "m2": b"two"})
    assert await cache.aget_many(["m1", "m2", "missing"]) == {"m1": "one", "m2": b"two"}
    assert await cache.atouch("m1", 1000) is True
    assert await cache.aincr_version("m2") == 2
    assert await cache.aget("m2", version=2) == b"two"
    await cache.adelete_many(["m1", "fresh"])
    assert await cache.aget_many(["m1", "fresh"]) == {}
    await cache.aclear()
    assert primary.client().dbsize() == 0
    await cache.adisconnect()


# ------------------------------------------------------------------ primary / replica reads


def _prime(cache: Any, lab: SentinelSet, n: int) -> None:
    for i in range(n):
        cache.set(f"r{i}", i)
    assert lab.primary_node.execute("WAIT", 1, 5000) == 1  # the replica has them


@pytest.mark.parametrize("driver", DRIVERS)
def test_replica_reads_hit_the_replica(make_cache: Any, sentinel_lab: SentinelSet,
                                       driver: str) -> None:
    cache = build(make_cache, sentinel_lab, driver, read_from_replicas=True)
    primary, (replica,) = sentinel_lab.primary_node, sentinel_lab.replica_nodes
    reset_stats([primary, replica])
    _prime(cache, sentinel_lab, 10)

    assert [cache.get(f"r{i}") for i in range(10)] == list(range(10))
    assert cache.get_many([f"r{i}" for i in range(10)]) == {f"r{i}": i for i in range(10)}
    assert cache.has_key("r0")

    assert command_calls(replica, "get") == 10
    assert command_calls(replica, "mget") == 1
    assert command_calls(replica, "exists") == 1
    assert command_calls(primary, "get") == command_calls(primary, "mget") == 0
    assert command_calls(primary, "set") == 10  # writes still go to the primary


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_replica_reads_hit_the_replica_async(make_cache: Any, sentinel_lab: SentinelSet,
                                                   driver: str) -> None:
    cache = build(make_cache, sentinel_lab, driver, read_from_replicas=True)
    primary, (replica,) = sentinel_lab.primary_node, sentinel_lab.replica_nodes
    reset_stats([primary, replica])
    for i in range(10):
        await cache.aset(f"r{i}", i)
    assert primary.execute("WAIT", 1, 5000) == 1

    assert [await cache.aget(f"r{i}") for i in range(10)] == list(range(10))
    assert await cache.aget_many(["r1", "r2"]) == {"r1": 1, "r2": 2}

    assert command_calls(replica, "get") == 10
    assert command_calls(replica, "mget") == 1
    assert command_calls(primary, "get") == command_calls(primary, "mget") == 0
    assert command_calls(primary, "set") == 10
    await cache.adisconnect()


def test_reads_stay_on_the_primary_by_default(make_cache: Any,
                                              sentinel_lab: SentinelSet) -> None:
    cache = build(make_cache, sentinel_lab, "redis")
    primary, (replica,) = sentinel_lab.primary_node, sentinel_lab.replica_nodes
    reset_stats([primary, replica])
    _prime(cache, sentinel_lab, 5)
    assert [cache.get(f"r{i}") for i in range(5)] == list(range(5))
    assert command_calls(primary, "get") == 5
    assert command_calls(replica, "get") == 0


@pytest.mark.slow
def test_replica_reads_fall_back_to_the_primary_when_the_replica_dies(
        make_cache: Any, sentinel_lab: SentinelSet) -> None:
    cache = build(make_cache, sentinel_lab, "redis", read_from_replicas=True)
    primary, (replica,) = sentinel_lab.primary_node, sentinel_lab.replica_nodes
    _prime(cache, sentinel_lab, 3)
    assert cache.get("r1") == 1  # a pooled connection to the replica now exists
    replica.kill()
    reset_stats([primary])
    # The broken pooled connection costs one failed attempt, which the default policy
    # retries; the new connection finds no live replica and falls back to the primary.
    assert [cache.get(f"r{i}") for i in range(3)] == [0, 1, 2]
    assert command_calls(primary, "get") == 3


def test_node_labels_name_the_service_and_role(make_cache: Any,
                                               sentinel_lab: SentinelSet) -> None:
    cache = build(make_cache, sentinel_lab, "redis", read_from_replicas=True)
    topology = cache._topology
    assert topology.plan(["a", "b"], write=False)[0].node == "replica"
    assert topology.plan(["a", "b"], write=True)[0].node == "primary"
    assert topology.node_label("primary") == "sentinel service 'mymaster' primary"
    assert topology.primaries() == ["primary"]


# ------------------------------------------------------------------ bad input


def test_missing_service_is_rejected_at_start_up() -> None:
    for location in ("redis+sentinel://127.0.0.1:26379", "redis+sentinel://127.0.0.1:26379/"):
        caches_conf = {"sessions": {"BACKEND": BACKENDS["redis"], "LOCATION": location}}
        with override_settings(CACHES=caches_conf), \
                pytest.raises(ImproperlyConfigured) as info:
            caches["sessions"]
        assert "'sessions'" in str(info.value)
        assert "service" in str(info.value) and "mymaster" in str(info.value)


@pytest.mark.parametrize("driver", DRIVERS)
def test_unreachable_sentinels_fail_at_first_use_naming_the_alias(driver: str) -> None:
    ports = [free_port(), free_port()]
    location = f"redis+sentinel://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}/svc-{driver}/0"
    conf = {"nowhere": {"BACKEND": BACKENDS[driver], "LOCATION": location}}
    with override_settings(CACHES=conf):
        cache = caches["nowhere"]  # start-up does no I/O: a sentinel outage cannot break boot
        with pytest.raises(ConnectionFailed) as info:
            cache.get("k")
        text = str(info.value)
        assert "cachex cache 'nowhere'" in text
        assert "no sentinel could be asked" in text
        assert all(f"127.0.0.1:{p}" in text for p in ports)

        async def aget() -> None:
            with pytest.raises(ConnectionFailed, match="no sentinel could be asked"):
                await cache.aget("k")

        asyncio.run(aget())


@pytest.mark.parametrize("driver", DRIVERS)
def test_unknown_service_names_the_alias_and_the_known_ones(sentinel_lab: SentinelSet,
                                                            driver: str) -> None:
    location = sentinel_location(sentinel_lab).replace("/mymaster/", f"/mymastr-{driver}/")
    conf = {"typo": {"BACKEND": BACKENDS[driver], "LOCATION": location,
                     "OPTIONS": sentinel_options()}}
    with override_settings(CACHES=conf):
        cache = caches["typo"]
        with pytest.raises(ConnectionFailed) as info:
            cache.set("k", 1)
        text = str(info.value)
        assert "cachex cache 'typo'" in text
        assert f"no sentinel monitors a service named 'mymastr-{driver}'" in text
        assert "(it monitors: mymaster)" in text

        async def aset() -> None:
            with pytest.raises(ConnectionFailed, match="no sentinel monitors"):
                await cache.aset("k", 1)

        asyncio.run(aset())


def test_sentinel_and_data_credentials_are_separate(make_cache: Any,
                                                    sentinel_lab: SentinelSet) -> None:
    # Data password only (in the URL): the sentinels refuse us, and the message says so.
    no_sentinel_pw = make_cache(sentinel_location(sentinel_lab), "redis",
                                OPTIONS={"retry": None})
    with pytest.raises(ConnectionFailed, match="AuthenticationError") as info:
        no_sentinel_pw.get("k")
    assert "no sentinel could be asked" in str(info.value)
    assert DATA_PASSWORD not in str(info.value)
    # Sentinel password only: discovery works, the primary refuses us.
    no_data_pw = make_cache(sentinel_lab.url, "redis",
                            OPTIONS=sentinel_options(retry=None))
    with pytest.raises(ConnectionFailed) as info:
        no_data_pw.get("k")
    assert "no primary" not in str(info.value)
    assert "auth" in str(info.value).lower()


def test_data_credentials_in_options_reach_primary_and_replicas(make_cache: Any,
                                                                sentinel_lab: SentinelSet) -> None:
    """OPTIONS['password'] (which Django's error reports mask) instead of the URL's."""
    for replicas in (False, True):
        cache = make_cache(sentinel_lab.url, "redis", OPTIONS=sentinel_options(
            password=DATA_PASSWORD, read_from_replicas=replicas, wait_replicas=1))
        cache.set("k", replicas)
        assert cache.get("k") is replicas
        assert DATA_PASSWORD not in repr(cache.settings)


# ------------------------------------------------------------------ pure pieces (no servers)


def test_connection_arguments_keep_the_two_credentials_apart() -> None:
    from cachex.config import parse_settings
    from cachex.drivers import redis_driver
    from cachex.topology.sentinel_support import node_kwargs, sentinel_kwargs

    settings = parse_settings(
        "x", "rediss+sentinel://app:data-pw@s1:26379,s2/mymaster/3",
        {"sentinel": {"username": "watcher", "password": "sentinel-pw", "socket_timeout": 0.5},
         "pool": {"socket_timeout": 1.5, "ssl_cert_reqs": "none"}})
    driver = redis_driver()
    data = node_kwargs(driver, settings, asynchronous=False)
    watch = sentinel_kwargs(driver, settings, asynchronous=True)
    assert (data["username"], data["password"], data["db"]) == ("app", "data-pw", 3)
    assert (watch["username"], watch["password"]) == ("watcher", "sentinel-pw")
    assert data["socket_timeout"] == 1.5
    assert watch["socket_timeout"] == watch["socket_connect_timeout"] == 0.5
    assert data["ssl"] is True and watch["ssl"] is True and watch["ssl_cert_reqs"] == "none"
    assert not {"host", "port", "connection_class"} & set(data)  # the sentinels decide those
    assert data["retry"].get_retries() == 0 and watch["retry"].get_retries() == 0


def test_judging_a_sentinel_reply() -> None:
    from cachex.topology.sentinel_support import judge, no_primary_message

    healthy = {"ip": "10.0.0.1", "port": 6379, "is_master": True, "is_sdown": False,
               "is_odown": False, "num-other-sentinels": 2, "flags": {"master"}}
    assert judge("s1", {"mymaster": healthy}, "mymaster", 0) is None
    unknown = judge("s1", {"other": healthy}, "mymaster", 0)
    down = judge("s2", {"mymaster": {**healthy, "is_sdown": True,
                                     "flags": {"master", "s_down"}}}, "mymaster", 0)
    lonely = judge("s3", {"mymaster": healthy}, "mymaster", 3)
    assert unknown is not None and unknown.kind == "unknown_service"
    assert "it monitors: other" in unknown.detail
    assert down is not None and down.kind == "primary_down" and "s_down" in down.detail
    assert lonely is not None and "knows only 2 other sentinels" in lonely.detail
    text = no_primary_message("web", "mymaster", [unknown, down])
    assert text.startswith("cachex cache 'web': no primary for sentinel service 'mymaster'")
    assert "failover is probably under way" in text and "s1 does not monitor" in text


# ------------------------------------------------------------------ riding through failover


@dataclass
class Ride(Rider):
    """What a caller saw while a steady set/get loop ran through a fault."""

    ok: int = 0
    ok_after: int = 0  # successful rounds once the fault had completed
    errors_before: int = 0  # failed rounds before the fault started (a healthy set: none)
    errors: Counter[str] = field(default_factory=Counter)
    stale: int = 0  # a get that did not return the value just set (async replication)
    stale_after: int = 0  # ... once the fault had completed
    corrupt: list[Any] = field(default_factory=list)  # a get that returned a non-int
    samples: dict[str, str] = field(default_factory=dict)  # first message per error type
    last_message: str = ""
    longest_stall: float = 0.0
    first_error: float | None = None
    last_error: float | None = None

    def on_ok(self, now: float, last_ok: float, sent: int, got: Any, fault_done: bool
              ) -> None:
        self.ok += 1
        self.ok_after += fault_done
        self.longest_stall = max(self.longest_stall, now - last_ok)
        if not isinstance(got, int):
            self.corrupt.append(got)
        elif got != sent:
            self.stale += 1
            self.stale_after += fault_done

    def on_error(self, exc: BaseException, now: float, i: int, done: bool) -> None:
        self.errors_before += i < WARM_UP  # the fault starts at round WARM_UP
        self.errors[type(exc).__name__] += 1
        self.samples.setdefault(type(exc).__name__, str(exc)[:300])
        self.last_message = str(exc)[:300]
        self.first_error = self.first_error or now
        self.last_error = now

    def summary(self, label: str) -> str:
        window = ((self.last_error or 0) - (self.first_error or 0)) if self.errors else 0.0
        errors = sum(self.errors.values())
        return (f"[failover] {label}: longest stall {self.longest_stall:.3f}s, "
                f"caller-visible errors {errors} {dict(self.errors)} over {window:.3f}s, "
                f"ok rounds {self.ok}, stale reads {self.stale} ({self.stale_after} after "
                f"the switch); last error: {self.last_message or '-'}")


BUDGET = 20.0  # seconds a ride may last


def _kill_primary(lab: SentinelSet) -> Server:
    old = lab.primary_node
    old.kill()
    return lab.wait_for_new_primary(old, timeout=60)


def _pause_primary(lab: SentinelSet) -> Server:
    old = lab.primary_node
    old.pause()
    return lab.wait_for_new_primary(old, timeout=60)


def _sentinel_failover(lab: SentinelSet) -> Server:
    return lab.failover(timeout=60)


FAULTS: dict[str, Callable[[SentinelSet], Server]] = {
    "sigkill": _kill_primary, "sigstop": _pause_primary, "sentinel-failover": _sentinel_failover,
}
POLICIES: dict[str, dict[str, Any]] = {
    "default": {},
    "no-retry": {"retry": None},
    # Sentinel has no circuit breaker by default; this one shows what an explicit one does
    # (it keys on the role "primary", which a failover does not change)
    "breaker": {"failover": {"threshold": 3, "cooldown": 5.0}},
    # what docs/sentinel.md suggests to hide a failover from callers: wait it out
    "patient": {"retry": {"attempts": 40, "backoff": 0.05, "max_backoff": 0.25,
                          "deadline": 8.0}},
}


def ride_sync(cache: Any, fault: Callable[[], Server]) -> tuple[Ride, Server]:
    def step(i: int) -> Any:
        cache.set("ride", i)
        return cache.get("ride")

    ride = Ride()
    return ride, ride_loop(ride, fault, step, budget=BUDGET)


async def ride_async(cache: Any, fault: Callable[[], Server]) -> tuple[Ride, Server]:
    async def step(i: int) -> Any:
        await cache.aset("ride", i)
        return await cache.aget("ride")

    ride = Ride()
    return ride, await aride_loop(ride, fault, step, budget=BUDGET)


def _check_resumed(ride: Ride, old: Server, new: Server, cache: Any, label: str) -> None:
    print(ride.summary(label))
    assert new is not old
    assert ride.errors_before == 0, f"the loop failed before the fault: {ride}"
    assert ride.ok_after >= SETTLE, f"the loop did not resume on the new primary: {ride}"
    assert not ride.corrupt, f"a get returned something never stored: {ride.corrupt[:3]}"
    assert raw(new, cache, "ride") is not None  # the loop's writes landed on the new primary


FAILOVER_CASES = [
    pytest.param(driver, fault, policy, id=f"{driver}-{fault}-{policy}")
    for driver in DRIVERS for fault in FAULTS for policy in POLICIES
    # valkey shares every line of topology code with redis: its default-policy runs suffice;
    # a hung primary (sigstop) costs a socket timeout per call, so fewer policies there
    if (driver == "redis" or policy == "default")
    and (fault != "sigstop" or policy in ("default", "breaker"))
]


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize(("driver", "fault", "policy"), FAILOVER_CASES)
def test_rides_through_failover_sync(make_cache: Any, sentinel_lab: SentinelSet, driver: str,
                                     fault: str, policy: str) -> None:
    cache = build(make_cache, sentinel_lab, driver, **POLICIES[policy])
    old = sentinel_lab.primary_node
    ride, new = ride_sync(cache, lambda: FAULTS[fault](sentinel_lab))
    _check_resumed(ride, old, new, cache, f"sync {driver} {fault} {policy}")
    cache.set("after", "failover")
    assert cache.get("after") == "failover"
    assert raw(new, cache, "after") is not None


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.asyncio
@pytest.mark.parametrize(("driver", "fault", "policy"), FAILOVER_CASES)
async def test_rides_through_failover_async(make_cache: Any, sentinel_lab: SentinelSet,
                                            driver: str, fault: str, policy: str) -> None:
    cache = build(make_cache, sentinel_lab, driver, **POLICIES[policy])
    old = sentinel_lab.primary_node
    ride, new = await ride_async(cache, lambda: FAULTS[fault](sentinel_lab))
    _check_resumed(ride, old, new, cache, f"async {driver} {fault} {policy}")
    await cache.aset("after", "failover")
    assert await cache.aget("after") == "failover"
    assert raw(new, cache, "after") is not None
    await cache.adisconnect()


# ------------------------------------------------------------------ docker/sentinel


@pytest.mark.parametrize(("flavor", "server_bin", "sentinel_bin"), [
    ("redis", "redis-server", "redis-sentinel"),
    ("valkey", "valkey-server", "valkey-sentinel"),
])
def test_compose_files_describe_a_consistent_sentinel_set(flavor: str, server_bin: str,
                                                          sentinel_bin: str) -> None:
    """No Docker engine runs here: check that the compose file parses and agrees with the
    config files it mounts (names, passwords, quorum)."""
    yaml = pytest.importorskip("yaml")
    root = Path(__file__).resolve().parents[2] / "docker" / "sentinel"
    compose = yaml.safe_load((root / f"{flavor}.compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"primary", "replica", "sentinel-1", "sentinel-2", "sentinel-3"}

    def conf(name: str) -> dict[str, list[list[str]]]:
        out: dict[str, list[list[str]]] = {}
        for line in (root / "conf" / name).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                word, *rest = line.split()
                out.setdefault(word, []).append(rest)
        return out

    primary, replica, sent = conf("primary.conf"), conf("replica.conf"), conf("sentinel.conf")
    assert replica["replicaof"] == [["primary", "6379"]]
    data_password = primary["requirepass"][0][0]
    assert replica["requirepass"][0][0] == replica["masterauth"][0][0] == data_password
    assert primary["masterauth"][0][0] == data_password  # it may be demoted one day
    monitor = next(args for args in sent["sentinel"] if args[0] == "monitor")
    assert monitor[1:4] == ["mymaster", "primary", "6379"]
    assert 1 < int(monitor[4]) <= 3  # a majority of the three sentinels
    assert ["auth-pass", "mymaster", data_password] in sent["sentinel"]
    assert ["sentinel-pass", sent["requirepass"][0][0]] in sent["sentinel"]
    assert sent["requirepass"][0][0] != data_password  # two separate credentials

    for name, service in services.items():
        script = " ".join(service["entrypoint"])
        assert service["hostname"] == name
        if name.startswith("sentinel"):
            assert sentinel_bin in script and "sentinel.conf" in script
            assert service["environment"]["SENTINEL_NAME"] == name
            assert set(service["depends_on"]) == {"primary", "replica"}
        else:
            assert server_bin in script
            assert service["environment"]["NODE_CONF"] == f"{name}.conf"
        assert (root / "conf").is_dir() and service["volumes"] == ["./conf:/etc/cachex:ro"]


# ------------------------------------------------------------------ batches on the fast path


def _counting(target: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of ``target.name`` (an instance attribute wrapping the real one)."""
    calls: list[int] = []
    real = getattr(target, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


@pytest.mark.parametrize("driver", DRIVERS)
def test_warm_batches_ask_no_sentinel_and_check_out_nothing(
        make_cache: Any, sentinel_lab: SentinelSet, driver: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sentinel multi-key calls cost what a single server's do: once warm, no primary
    look-up (no sentinel asked) and no pool checkout per batch, the connection is a parked
    one. (Demoted primaries are still caught on the wire: test_wire_path.py.)"""
    cache = build(make_cache, sentinel_lab, driver)
    data = {f"w{i}": i for i in range(50)}
    cache.set_many(data)
    assert cache.get_many(data) == data
    topology = cache._topology
    asked = _counting(topology._sync_manager(), "discover_master", monkeypatch)
    checked_out = _counting(topology.node_client("primary").connection_pool,
                            "get_connection", monkeypatch)
    for _ in range(20):
        cache.set_many(data)
        assert cache.get_many(data) == data
    assert (len(asked), len(checked_out)) == (0, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize("driver", DRIVERS)
async def test_warm_async_batches_ask_no_sentinel_and_check_out_nothing(
        make_cache: Any, sentinel_lab: SentinelSet, driver: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = build(make_cache, sentinel_lab, driver)
    data = {f"w{i}": i for i in range(50)}
    await cache.aset_many(data)
    assert await cache.aget_many(data) == data
    topology = cache._topology
    holder = pools.loop_clients().clients[(topology._token, "sentinels")]
    asked = _counting(holder.manager, "discover_master", monkeypatch)
    checked_out = _counting(topology.anode_client("primary").connection_pool,
                            "get_connection", monkeypatch)
    for _ in range(20):
        await cache.aset_many(data)
        assert await cache.aget_many(data) == data
    assert (len(asked), len(checked_out)) == (0, 0)
    await cache.adisconnect()
