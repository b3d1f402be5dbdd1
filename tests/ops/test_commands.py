"""Every ``cachex`` command on every topology, on real servers, healthy and with faults.

Expected exit codes: 0 ok, 1 findings/degraded, 2 errors/unreachable, 3 usage (a command that
does not apply to the topology). ``doctor`` finds the labs' servers unbounded
(maxmemory 0, noeviction: W015/W016), so it exits 1 on a healthy lab.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cachex.backends.redis import RedisCache
from cachex.ops import cli
from cachex.testing import SentinelSet, Server, sentinel, servers
from tests import labs
from tests.ops._util import ids, lab_target, run

pytestmark = pytest.mark.timeout(120)

TOPOLOGIES = ["single", "sharded", "replicated", "cluster", "sentinel"]
NODES = {"single": 1, "sharded": 3, "replicated": 2, "cluster": 6, "sentinel": 3 + 2}
EXPECTED = {  # command -> topology -> exit code on a healthy lab
    "status": dict.fromkeys(TOPOLOGIES, 0),
    "ring": dict.fromkeys(TOPOLOGIES, 0),
    "slots": {**dict.fromkeys(TOPOLOGIES, 3), "cluster": 0},
    "sentinel": {**dict.fromkeys(TOPOLOGIES, 3), "sentinel": 0},
    "stats": dict.fromkeys(TOPOLOGIES, 0),
    "doctor": dict.fromkeys(TOPOLOGIES, 1),
}


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_every_command_on_a_healthy_topology(topology: str) -> None:
    location, options = lab_target(topology)
    cache = RedisCache(location, {"OPTIONS": options, "KEY_PREFIX": f"ops-{topology}"})
    cache.set_many({f"k{i}": i for i in range(20)})
    for command, per_topology in EXPECTED.items():
        code, report = run(command, location, options, "--key-prefix", f"ops-{topology}")
        assert code == per_topology[topology], (command, report)
        assert report["topology"] == topology
        if command == "status":
            nodes = report["nodes"]
            assert len(nodes) == NODES[topology], nodes
            assert all(n["reachable"] and n["version"] and n["ping_ms"] is not None
                       and n["connected_clients"] >= 1 for n in nodes)
            counted = sum(n["keys"] or 0 for n in nodes if n["role"] in ("primary", "shard"))
            assert counted == 20  # the alias's keys, found by SCAN in its prefix
            data_nodes = [n for n in nodes if n["role"] != "sentinel"]
            assert all(n["breaker"] == "closed" for n in data_nodes)
        if command == "ring" and topology in ("sharded", "cluster"):
            assert sum(n["sample_keys"] for n in report["nodes"]) == report["sample"]
            assert report["synthetic"] > 0  # 20 real keys are too few for a spread
        if command == "doctor":
            assert ids(report) <= {"cachex.W015", "cachex.W016"}, report["findings"]
    cache.delete_many([f"k{i}" for i in range(20)])


def test_ring_models_adding_and_removing_a_shard() -> None:
    location, options = lab_target("sharded")
    code, report = run("ring", location, options, "--sample", "3000", "--add", "10.0.0.9:6379")
    assert code == 0
    shares = [n["share"] for n in report["nodes"]]
    assert abs(sum(shares) - 1) < 1e-3
    for node in report["nodes"]:  # removing a node moves its keys, to the other nodes only
        assert node["if_removed_moves"] == node["share"]
        assert node["node"] not in node["if_removed_goes_to"]
        assert sum(node["if_removed_goes_to"].values()) == node["sample_keys"]
    assert 0.1 < report["if_added"]["moves"] < 0.4  # ~1/4 of the keys go to a 4th node


@pytest.fixture
def three() -> Iterator[list[Server]]:
    with servers(3) as nodes:
        yield nodes


def test_a_shard_down(three: list[Server]) -> None:
    location = [n.url for n in three]
    three[1].kill()
    code, report = run("status", location)
    assert code == 2
    down = [n for n in report["nodes"] if not n["reachable"]]
    assert [n["address"] for n in down] == [three[1].address]
    assert {(f["id"], f.get("node")) for f in report["findings"]} == {
        ("cachex.E010", three[1].address)}
    code, report = run("doctor", location)
    assert code == 2 and "cachex.E010" in ids(report)
    code, report = run("ring", location)  # the ring is computed, the dead node sampled empty
    assert code == 0 and len(report["nodes"]) == 3


def test_an_open_circuit_shows_in_status_and_stats(three: list[Server]) -> None:
    location = [n.url for n in three]
    options = {"failover": {"threshold": 1, "cooldown": 60}, "retry": None,
               "pool": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}
    cache = RedisCache(location, {"OPTIONS": options})
    victim = three[2]
    key = next(f"k{i}" for i in range(1000)
               if cache._topology.locate(cache.make_key(f"k{i}")) == victim.address)
    victim.kill()
    with pytest.raises(ConnectionError):
        cache.get(key)
    code, report = run("status", location, options)
    assert code == 2
    states = {n["address"]: n["breaker"] for n in report["nodes"]}
    assert states == {three[0].address: "closed", three[1].address: "closed",
                      victim.address: "open"}
    assert {"cachex.E010", "cachex.W011"} <= ids(report)
    code, report = run("stats", location, options)
    assert code == 1 and report["circuits"] == {victim.address: "open"}
    assert report["policy"]["circuit_opens"] >= 1


@pytest.mark.parametrize("topology", ["replicated", "cluster", "sentinel"])
def test_a_paused_secondary_node_degrades(topology: str) -> None:
    """A replica (or a sentinel) that does not answer: served, but exit 1 and W010."""
    location, options = lab_target(topology)
    lab = labs.lab({"replicated": "replicated", "cluster": "cluster",
                    "sentinel": "sentinel"}[topology])
    if topology == "replicated":
        victim = lab[1]
    elif topology == "cluster":
        victim = lab.replicas()[0]
    else:
        victim = lab.sentinels[0]
    victim.pause()
    try:
        code, report = run("status", location, options)
    finally:
        victim.resume()
    assert code == 1, report["findings"]
    assert "cachex.W010" in ids(report)
    assert not {f["id"] for f in report["findings"] if f["severity"] == "error"}
    assert [n["address"] for n in report["nodes"] if not n["reachable"]] == [victim.address]


def test_cluster_slot_migration_in_progress() -> None:
    cluster = labs.lab("cluster")
    location = cluster.url
    slot = 4242
    source = cluster.slot_owner(slot)
    target = next(p for p in cluster.primaries() if p is not source)
    migration = cluster.begin_slot_migration(slot, target)
    try:
        code, report = run("slots", location)
        assert code == 1
        assert report["migrations"] == [{"slot": slot, "from": source.address,
                                         "to": target.address}]
        assert report["importing"] == [{"slot": slot, "into": target.address,
                                        "from": source.address}]
        assert report["slots_served"] == 16384
        assert ids(report) == {"cachex.W012"}
        code, report = run("status", location)
        assert code == 1 and "cachex.W012" in ids(report)
    finally:
        migration.finish()
    code, report = run("slots", location)
    assert code == 0 and report["migrations"] == []


@pytest.fixture
def own_sentinel() -> Iterator[SentinelSet]:
    with sentinel() as lab:
        yield lab


def test_sentinel_failover_in_progress(own_sentinel: SentinelSet) -> None:
    """SENTINEL FAILOVER, with the replica frozen so the promotion cannot complete: the
    ``sentinel`` command sees the failover under way."""
    lab = own_sentinel
    code, report = run("sentinel", lab.url)
    assert code == 0 and report["failover_in_progress"] is False
    assert report["primary"] == lab.primary_node.address and report["quorum"] == 2
    replica = lab.replica_nodes[0]
    lab.sentinels[0].execute("SENTINEL", "FAILOVER", lab.service)
    replica.pause()
    try:
        code, report = run("sentinel", lab.url)
        assert report["failover_in_progress"] is True, report
        assert code == 1 and "cachex.W013" in ids(report)
        code, report = run("status", lab.url)
        assert "cachex.W013" in ids(report) and code >= 1
    finally:
        replica.resume()


def test_passwords_are_never_printed() -> None:
    single = labs.lab("single")
    location = f"redis://:pw-s3cret-value@{single.host}:{single.port}/0"
    for command in ("status", "doctor", "ring", "stats"):
        for as_json in (True, False):
            out = io.StringIO()
            cli.main([command, "--location", location, "--timeout", "0.5"]
                     + (["--json"] if as_json else []), out=out)
            assert "pw-s3cret-value" not in out.getvalue()
            assert "***" in out.getvalue()  # the LOCATION is shown, redacted


def test_management_command(settings: Any) -> None:
    from django.core.management import call_command

    location, options = lab_target("sharded")
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shards": {"BACKEND": "cachex.backends.redis.RedisCache", "LOCATION": location,
                   "OPTIONS": options, "KEY_PREFIX": "mgmt"},
    }
    out = io.StringIO()
    call_command("cachex", "status", "--json", stdout=out)  # exit 0: no SystemExit
    data = json.loads(out.getvalue())
    assert [r["alias"] for r in data["reports"]] == ["shards"]
    assert len(data["reports"][0]["nodes"]) == 3
    out = io.StringIO()
    call_command("cachex", "slots", stdout=out)  # from code: the output, no SystemExit
    assert "needs a Cluster" in out.getvalue() and "exit 3" in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a cachex alias"):
        call_command("cachex", "status", "--alias", "default")


def test_python_m_cachex_exit_codes() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": ""}
    env.pop("DJANGO_SETTINGS_MODULE")
    single = labs.lab("single")
    ok = subprocess.run([sys.executable, "-m", "cachex", "status", "--location", single.url],
                        capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0 and single.address in ok.stdout
    started = time.monotonic()
    dead = subprocess.run([sys.executable, "-m", "cachex", "status", "--location",
                           "redis://127.0.0.1:1/0", "--timeout", "0.3"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert dead.returncode == 2 and "cachex.E010" in dead.stdout
    assert time.monotonic() - started < 60
    usage = subprocess.run([sys.executable, "-m", "cachex", "status"], capture_output=True,
                           text=True, env=env, timeout=60)
    assert usage.returncode == 3
    bad = subprocess.run([sys.executable, "-m", "cachex", "status", "--location", "nope"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "cachex.E001" in bad.stdout
    down = subprocess.run([sys.executable, "-m", "django", "cachex", "status", "--timeout", "0.3",
                           "--settings", "tests.ops.settings_down"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert down.returncode == 2 and "cachex.E010" in down.stdout  # manage.py cachex's code
    project = subprocess.run([sys.executable, "-m", "cachex", "status", "--settings",
                              "tests.settings"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert project.returncode == 3 and "no cachex alias in CACHES" in project.stderr


def test_valkey_driver() -> None:
    location, options = lab_target("sharded")
    code, report = run("status", location, options, "--driver", "valkey")
    assert code == 0 and report["driver"] == "valkey"
    assert all(n["reachable"] for n in report["nodes"])
    location, options = lab_target("sentinel")
    code, report = run("sentinel", location, options, "--driver", "valkey")
    assert code == 0 and report["quorum"] == 2


def test_a_cluster_primary_down() -> None:
    """A killed primary: unreachable (E010) at once; once the cluster flags it failing, its
    slots are uncovered (E011) until a replica takes over; then the cluster is whole again."""
    from cachex.testing import cluster

    with cluster() as lab:
        victim = lab.primaries()[0]
        victim.kill()
        code, report = run("status", lab.url)
        assert code == 2 and ("cachex.E010", victim.address) in {
            (f["id"], f.get("node")) for f in report["findings"]}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the cluster's own failover (node timeout 2 s)
            code, report = run("slots", lab.url)
            if report.get("uncovered"):  # flagged failing, no replica promoted yet
                assert code == 2 and "cachex.E011" in ids(report)
            elif victim.address in report.get("failing", []) and not any(
                    p["node"] == victim.address and p["slots"] for p in report["primaries"]):
                break
            time.sleep(0.2)
        lab.wait_ready()
        code, report = run("slots", lab.url)
        assert report["slots_served"] == 16384 and victim.address in report["failing"]
        code, report = run("status", lab.url)
        down = [n for n in report["nodes"] if not n["reachable"]]
        assert [n["address"] for n in down] == [victim.address]
        assert down[0]["slots"] == 0  # failed over: it holds no data any more
        assert "cachex.E010" not in ids(report) and "cachex.W010" in ids(report)
