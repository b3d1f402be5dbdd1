from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cachex.testing import SentinelSet, flushall, sentinel

from ._util import assert_gone, snapshot

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def lab() -> Iterator[SentinelSet]:
    with sentinel(password="data-pw", sentinel_password="sentinel-pw") as started:
        yield started
        pids, lab_dir = snapshot(started.nodes + started.sentinels)
    assert_gone(pids, lab_dir)


def test_sentinels_agree(lab: SentinelSet) -> None:
    primary = lab.primary_node
    assert primary is lab.nodes[0]
    assert lab.replica_nodes == lab.nodes[1:] == lab.replicas_nodes
    for node in lab.sentinels:
        assert node.execute("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster") == [
            "127.0.0.1",
            str(primary.port),
        ]
        state = node.execute("SENTINEL", "MASTER", "mymaster")
        assert state[state.index("num-other-sentinels") + 1] == "2"
    addresses = ",".join(f"127.0.0.1:{n.port}" for n in lab.sentinels)
    assert lab.url == f"redis+sentinel://{addresses}/mymaster/0"
    assert "pw" not in lab.url
    with pytest.raises(redis.AuthenticationError):
        lab.sentinels[0].client(password=None, retry=Retry(NoBackoff(), 0)).ping()


def test_serves_through_sentinel(lab: SentinelSet) -> None:
    discovery = lab.sentinel_client()
    primary = discovery.master_for("mymaster")
    primary.set("k", "v")
    assert primary.wait(1, 5000) == 1
    assert discovery.slave_for("mymaster").get("k") == b"v"
    flushall(lab)
    assert primary.get("k") is None


def test_failover_changes_the_primary(lab: SentinelSet) -> None:
    old = lab.primary_node
    old.client().set("k", "before")
    assert old.client().wait(1, 5000) == 1
    new = lab.failover()
    assert new is not old and lab.primary_node is new
    assert new.execute("ROLE")[0] == "master" and old.execute("ROLE")[0] == "slave"
    assert lab.replica_nodes == [old]
    assert lab.sentinel_client().master_for("mymaster").get("k") == b"before"


def test_killed_primary_is_replaced(lab: SentinelSet) -> None:
    old = lab.primary_node
    old.client().set("k", "survives")
    assert old.client().wait(1, 5000) == 1
    old.kill()
    new = lab.wait_for_new_primary(old, timeout=60)
    assert new is not old and new.execute("ROLE")[0] == "master"
    assert new.client().get("k") == b"survives"


def test_sentinel_exit_cleans_up_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), sentinel(replicas=0, sentinels=1) as s:
        pids, lab_dir = snapshot(s.nodes + s.sentinels)
        raise RuntimeError("boom")
    assert_gone(pids, lab_dir)
