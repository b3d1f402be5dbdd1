from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from redis.cluster import RedisCluster
from redis.crc import key_slot

from cachex.testing import Cluster, LabError, cluster, flushall

from ._util import assert_gone, snapshot

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def lab() -> Iterator[Cluster]:
    with cluster() as started:
        yield started
        pids, lab_dir = snapshot(started.nodes)
    assert_gone(pids, lab_dir)


@pytest.fixture
def client(lab: Cluster) -> Iterator[RedisCluster]:
    rc = lab.client()
    yield rc
    rc.close()


def test_layout_and_slot_coverage(lab: Cluster) -> None:
    primaries, replicas = lab.primaries(), lab.replicas()
    assert len(primaries) == 3 and len(replicas) == 3
    assert set(primaries) | set(replicas) == set(lab.nodes)
    covered: set[int] = set()
    for first, last, *_ in lab.nodes[0].execute("CLUSTER", "SLOTS"):
        covered.update(range(first, last + 1))
    assert covered == set(range(16384))
    for node in lab.nodes:
        info = node.execute("CLUSTER", "INFO")
        assert "cluster_state:ok" in info and "cluster_known_nodes:6" in info
    for primary in primaries:
        assert len(lab.replicas_of(primary)) == 1
    assert lab.url == "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in lab.nodes)


def test_hash_tagged_keys_share_a_node(lab: Cluster, client: RedisCluster) -> None:
    client.set("user:{42}:name", "ada")
    client.set("user:{42}:lang", "en")
    slot = key_slot(b"user:{42}:name")
    assert key_slot(b"user:{42}:lang") == slot
    owner = lab.slot_owner(slot)
    assert owner.client().mget("user:{42}:name", "user:{42}:lang") == [b"ada", b"en"]
    flushall(lab)
    assert client.get("user:{42}:name") is None


def test_slot_migration_answers_through_ask(lab: Cluster, client: RedisCluster) -> None:
    keys = [f"{{mig}}:{i}" for i in range(10)]
    for key in keys:
        client.set(key, key)
    slot = key_slot(b"{mig}")
    source = lab.slot_owner(slot)
    target = next(p for p in lab.primaries() if p is not source)
    migration = lab.begin_slot_migration(slot, target)
    assert (migration.source, migration.target, migration.slot) == (source, target, slot)
    assert migration.move_keys(keys[:3]) == keys[:3]
    assert len(migration.move_keys(2)) == 2
    assert len(migration.keys_left()) == 5
    # Moved keys answer through ASK, the others from the source; new keys go to the target.
    assert [client.get(key) for key in keys] == [key.encode() for key in keys]
    client.set("{mig}:new", "fresh")
    assert client.get("{mig}:new") == b"fresh"
    with target.client(single_connection_client=True) as direct:
        direct.execute_command("ASKING")  # the target serves an importing slot after ASKING only
        assert direct.get("{mig}:new") == b"fresh"
    migration.finish()
    assert migration.finished
    assert lab.slot_owner(slot) is target
    assert migration.keys_left() == []
    assert [client.get(key) for key in keys] == [key.encode() for key in keys]
    with pytest.raises(LabError, match="already owns"):
        lab.begin_slot_migration(slot, target)


def test_failover_swaps_roles(lab: Cluster, client: RedisCluster) -> None:
    client.set("{fo}:k", "v")
    old = lab.slot_owner(key_slot(b"{fo}"))
    new = lab.failover(old)
    assert new is not old
    assert new in lab.primaries() and old in lab.replicas()
    assert lab.replicas_of(new) == [old]
    assert lab.slot_owner(key_slot(b"{fo}")) is new
    assert new.execute("ROLE")[0] == "master" and old.execute("ROLE")[0] == "slave"
    assert client.get("{fo}:k") == b"v"


def test_forced_failover_from_a_paused_primary(lab: Cluster) -> None:
    old = lab.primaries()[0]
    old.pause()
    try:
        new = lab.failover(old, force=True)
    finally:
        old.resume()
    lab.wait_ready()
    assert new in lab.primaries() and old in lab.replicas_of(new)


def test_killed_replica_restarts_and_rejoins(lab: Cluster) -> None:
    replica = lab.replicas()[0]
    replica_id = lab.node_id(replica)
    replica.kill()
    assert not replica.is_running()
    deadline = time.monotonic() + 30
    while "fail" not in lab.view()[replica_id].flags:  # the others noticed (node timeout 2 s)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert replica not in lab.replicas()
    replica.restart()
    lab.wait_ready(30)
    assert replica in lab.replicas()


def test_killed_primary_is_replaced_and_rejoins_as_replica(
    lab: Cluster, client: RedisCluster
) -> None:
    client.set("{kill}:k", "v")
    old = lab.slot_owner(key_slot(b"{kill}"))
    old.client().wait(1, 5000)
    old.kill()
    new = lab.wait_for_new_primary(old, timeout=60)
    assert new is not old and lab.slot_owner(key_slot(b"{kill}")) is new
    assert new.client().get("{kill}:k") == b"v"
    old.restart()
    lab.wait_ready()
    assert old in lab.replicas_of(new)


def test_cluster_exit_cleans_up_when_the_body_raises() -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        cluster(primaries=1, replicas_per_primary=0) as c,
    ):
        assert c.slot_owner(0) is c.nodes[0]
        pids, lab_dir = snapshot(c.nodes)
        raise RuntimeError("boom")
    assert_gone(pids, lab_dir)
