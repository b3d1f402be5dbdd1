"""Placement on the ketama ring: reference agreement, movement, tags, identity."""

from __future__ import annotations

from collections import Counter

import pytest
from uhashring import HashRing

from cachex.config import parse_settings
from cachex.drivers import redis_driver
from cachex.routing import Ring, RingNode, hash_tag
from cachex.topology.sharded import ShardedTopology

KEYS = [f":1:user:{i}:profile" for i in range(20000)]


def topology(urls: list[str], **options: object) -> ShardedTopology:
    return ShardedTopology(parse_settings("t", urls, options), redis_driver())


def test_ring_agrees_with_uhashring_ketama_reference() -> None:
    topo = topology(["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0",
                     "redis://10.0.0.3:6380/2"])
    reference = HashRing(nodes=["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6380/2"],
                         hash_fn="ketama")
    for key in KEYS[:5000]:
        assert topo.locate(key) == reference.get_node(key)


def test_weighted_ring_and_tags_agree_with_uhashring_reference() -> None:
    """The flat lookup copy of the continuum gives uhashring's answer, weights and tags too,
    whether the placement is computed or remembered."""
    nodes = {"a:1": 1, "b:1": 3, "c:1": 2}
    ring = Ring([RingNode(n, w) for n, w in nodes.items()])
    reference = HashRing(nodes={n: {"weight": w} for n, w in nodes.items()}, hash_fn="ketama")
    keys = KEYS[:3000] + [f":1:{{user{i}}}:cart" for i in range(1000)]
    for _ in range(2):  # first computed, then from the memo
        for key in keys:
            assert ring.node_for(key) == reference.get_node(hash_tag(key))


def test_placement_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from cachex.routing import ring as ring_module

    monkeypatch.setattr(ring_module, "MEMO_SIZE", 100)
    ring = Ring([RingNode(n) for n in ("a:1", "b:1", "c:1")])
    for key in KEYS[:1000]:
        assert ring.node_for(key) == ring.place(key)
        assert len(ring._memo) <= 100


def test_adding_a_fourth_node_moves_about_a_quarter_of_keys() -> None:
    three = Ring([RingNode(n) for n in ("a:1", "b:1", "c:1")])
    four = Ring([RingNode(n) for n in ("a:1", "b:1", "c:1", "d:1")])
    moved = [k for k in KEYS if three.node_for(k) != four.node_for(k)]
    share = len(moved) / len(KEYS)
    # ideal is 1/4; ketama with 160 points per node stays within a few percent
    assert 0.20 <= share <= 0.30, share
    # and every moved key moved to the new node, never between old ones
    assert all(four.node_for(k) == "d:1" for k in moved)


def test_tagged_keys_stay_together() -> None:
    topo = topology([f"redis://10.0.0.{i}:6379/0" for i in range(1, 5)])
    for user in range(200):
        nodes = {topo.locate(f":1:user:{{{user}}}:{field}") for field in ("a", "b", "cart")}
        assert len(nodes) == 1
    assert hash_tag("a{}b{x}") == "a{}b{x}"  # empty first tag: whole key, like Cluster


def test_password_change_moves_nothing() -> None:
    before = topology(["redis://:old@10.0.0.1:6379/0", "redis://:old@10.0.0.2:6379/0"])
    after = topology(["redis://u:new@10.0.0.1:6379/0", "redis://u:new@10.0.0.2:6379/0"])
    assert all(before.locate(k) == after.locate(k) for k in KEYS[:5000])


def test_weights_shift_share() -> None:
    topo = topology(["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0?weight=3"])
    share = Counter(topo.locate(k) for k in KEYS)
    assert share["10.0.0.2:6379"] > 2 * share["10.0.0.1:6379"]
    by_option = topology(["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379/0"],
                         weights={"10.0.0.2:6379": 3})
    assert all(by_option.locate(k) == topo.locate(k) for k in KEYS[:3000])


def test_explicit_names_are_the_identity() -> None:
    named = topology(["redis://10.0.0.1:6379/0?name=alpha", "redis://10.0.0.2:6379/0?name=beta"])
    moved = topology(["redis://10.9.9.9:7000/0?name=alpha", "redis://10.8.8.8:7001/0?name=beta"])
    assert all(named.locate(k) == moved.locate(k) for k in KEYS[:3000])


@pytest.mark.parametrize(
    ("location", "options", "needle"),
    [
        ([], {}, "LOCATION is empty"),
        (["redis://10.0.0.1:6379/0", "redis://10.0.0.1:6379"], {}, "same server more than once"),
        (["redis://10.0.0.1:6379/0", "mongodb://10.0.0.2:6379"], {}, "unknown scheme"),
        (["redis://10.0.0.1:6379/0?weight=0", "redis://10.0.0.2:6379"], {}, "weight '0'"),
        (["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379"], {"weights": {"10.0.0.1:6379": -1}},
         "weight -1"),
        (["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6379"], {"weights": {"nope:1": 2}},
         "not in LOCATION"),
        ("redis://10.0.0.1:6379/0;;redis://10.0.0.1:6379/0", {}, "same server more than once"),
    ],
)
def test_bad_shard_configuration(location: object, options: dict[str, object],
                                 needle: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured) as info:
        parse_settings("shards", location, options)
    assert "'shards'" in str(info.value)
    assert needle in str(info.value)
