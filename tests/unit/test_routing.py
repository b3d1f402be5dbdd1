"""The routing planner and the scatter/merge of replies (cachex/routing): pure, no servers."""

from __future__ import annotations

import random

from cachex.routing import (
    SLOTS,
    Ring,
    RingNode,
    SlotMemo,
    batch_commands,
    hash_tag,
    key_slot,
    node_commands,
    plan_nodes,
    plan_slots,
    scatter,
    single_batch,
)


def test_slots_match_redis_cluster() -> None:
    assert key_slot("foo") == 12182  # CLUSTER KEYSLOT foo
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers")
    assert key_slot("foo{}{bar}") == key_slot("foo{}{bar}") != key_slot("bar")  # empty tag
    assert key_slot("foo{{bar}}zap") == key_slot("{bar")
    assert key_slot("foo{bar}{zap}") == key_slot("bar")
    assert all(0 <= key_slot(f"k{i}") < SLOTS for i in range(200))


def test_hash_tags_follow_the_first_non_empty_braces() -> None:
    assert hash_tag("user:{42}:profile") == "42"
    assert hash_tag("plain") == "plain"
    assert hash_tag("a{}b") == "a{}b"
    assert hash_tag("a{b") == "a{b"


def test_slot_memo_gives_the_same_slots() -> None:
    memo = SlotMemo()
    keys = [f"k{i}" for i in range(50)] + ["{t}1", "{t}2"]
    assert memo.slots(keys) == [key_slot(k) for k in keys]
    assert memo.slots(keys[::-1]) == [key_slot(k) for k in keys[::-1]]


def test_plan_nodes_groups_keys_per_node_and_remembers_positions() -> None:
    keys = ["a", "b", "c", "d"]
    batches = plan_nodes(keys, ["n1", "n2", "n1", "n2"])
    assert [(b.node, b.keys, b.positions) for b in batches] == [
        ("n1", ["a", "c"], [0, 2]), ("n2", ["b", "d"], [1, 3])]
    one = plan_nodes(keys, ["n1"] * 4)
    assert [(b.node, b.keys, b.positions) for b in one] == [("n1", keys, [0, 1, 2, 3])]
    assert plan_nodes([], []) == []


def test_plan_slots_puts_one_group_per_slot_inside_a_node() -> None:
    keys = ["{a}1", "{b}1", "{a}2", "{c}1"]
    slots = [key_slot(k) for k in keys]
    owners = ["x"] * SLOTS
    owners[slots[3]] = "y"
    batches = plan_slots(keys, slots, owners)
    assert {b.node for b in batches} == {"x", "y"}
    x = next(b for b in batches if b.node == "x")
    assert [g.keys for g in x.groups if "{a}1" in g.keys] == [["{a}1", "{a}2"]]
    for batch in batches:
        for group in batch.groups:
            assert len({key_slot(k) for k in group.keys}) == 1


def _replies(commands: list) -> list:
    """What MGET would answer: per node, per command, ``v-<key>`` for each key."""
    return [[[f"v-{k}" for k in cmd[1:]] for cmd in cmds] for _, cmds in commands]


def test_node_commands_build_one_command_per_node_and_scatter_restores_order() -> None:
    rng = random.Random(7)
    keys = [f"k{i}" for i in range(40)]
    nodes = [rng.choice("abc") for _ in keys]
    commands, positions = node_commands("MGET", keys, nodes)
    assert positions is not None
    assert sorted(node for node, _ in commands) == ["a", "b", "c"]
    for node, [cmd] in commands:  # one command per node, its keys in the caller's order
        assert cmd == ("MGET", *[k for k, n in zip(keys, nodes) if n == node])
    assert scatter(len(keys), positions, _replies(commands)) == [f"v-{k}" for k in keys]


def test_node_commands_with_one_key_on_a_node() -> None:
    commands, positions = node_commands("DEL", ["a", "b", "c"], ["x", "y", "x"])
    assert commands == [("x", [("DEL", "a", "c")]), ("y", [("DEL", "b")])]
    assert positions == [[0, 2], [1]]


def test_node_commands_on_one_node_keep_the_callers_order_without_positions() -> None:
    assert node_commands("MGET", ["a", "b"], ["x", "x"]) == ([("x", [("MGET", "a", "b")])], None)
    assert node_commands("MGET", [], []) == ([], None)


def test_batch_commands_give_one_command_per_cluster_slot_group() -> None:
    keys = ["{a}1", "{b}1", "{a}2", "{c}1"]
    slots = [key_slot(k) for k in keys]
    owners = ["x"] * SLOTS
    owners[slots[3]] = "y"
    commands, positions = batch_commands("MGET", plan_slots(keys, slots, owners))
    assert positions is not None
    assert sum(len(cmds) for _, cmds in commands) == len({slots[0], slots[1], slots[3]})
    assert scatter(len(keys), positions, _replies(commands)) == [f"v-{k}" for k in keys]
    assert batch_commands("GET", single_batch("n", ["p", "q"])) == (
        [("n", [("GET", "p", "q")])], None)


def test_scatter_aligns_a_short_reply_per_command() -> None:
    # one node, two commands: [b, a] at [1, 0] answered with one value; [c] at [2]
    assert scatter(3, [[1, 0], [2]], [[["va"], ["vc"]]]) == [None, "va", "vc"]
    # the same over two nodes
    assert scatter(3, [[1, 0], [2]], [[["va"]], [["vc"]]]) == [None, "va", "vc"]


def test_single_batch_keeps_everything_on_one_node() -> None:
    [batch] = single_batch("only", ["x", "y"])
    assert (batch.node, batch.keys, batch.positions) == ("only", ["x", "y"], [0, 1])


def test_ring_places_hash_tags_together_and_moves_few_keys_when_a_node_goes() -> None:
    ring = Ring([RingNode("a", 1), RingNode("b", 1), RingNode("c", 1)])
    assert ring.node_for("user:{42}:profile") == ring.node_for("user:{42}:prefs")
    keys = [f"k{i}" for i in range(600)]
    before = dict(zip(keys, ring.nodes_for(keys)))
    smaller = ring.without(["c"])
    assert smaller is not None
    after = dict(zip(keys, smaller.nodes_for(keys)))
    assert all(after[k] == before[k] for k in keys if before[k] != "c")
    assert {after[k] for k in keys} == {"a", "b"}
    assert ring.without(["a", "b", "c"]) is None
