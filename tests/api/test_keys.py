"""keys/iter_keys/delete_pattern/rename on every topology, sync and async: prefixes and
versions applied around the user's pattern, every primary scanned, cross-node renames
refused."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from cachex.exceptions import CrossSlotError
from cachex.redact import key_hash
from tests.api.conftest import data_nodes, raw_client


def test_keys_strips_prefix_and_version(api: Any) -> None:
    api.set_many({"user:1": 1, "user:2": 2, "item:1": 3})
    assert sorted(api.keys("user:*")) == ["user:1", "user:2"]
    assert sorted(api.keys()) == ["item:1", "user:1", "user:2"]
    assert api.keys("nothing*") == []


def test_keys_are_per_version(api: Any) -> None:
    api.set("a", 1)
    api.set("b", 1, version=2)
    assert api.keys() == ["a"]
    assert api.keys(version=2) == ["b"]


def test_keys_never_see_other_prefixes(make: Any, topology: str, driver: str, mode: str,
                                       loop: Any) -> None:
    from tests.api.conftest import Api

    # Glob characters in a prefix are escaped: "p*[" must not match "pX[" or "p*[x".
    ours = Api(make(topology, driver, KEY_PREFIX="p*[x?"), mode, loop)
    theirs = Api(make(topology, driver, KEY_PREFIX="pZ[x?"), mode, loop)
    longer = Api(make(topology, driver, KEY_PREFIX="p*[x?y"), mode, loop)
    ours.set("k1", 1)
    theirs.set("k2", 1)
    longer.set("k3", 1)
    assert ours.keys() == ["k1"]
    assert theirs.keys() == ["k2"]
    assert ours.delete_pattern("*") == 1
    assert theirs.get("k2") == 1
    assert longer.get("k3") == 1


def test_pattern_globs_apply_to_django_key(api: Any) -> None:
    api.set_many({"a1": 1, "a2": 1, "b1": 1, "a[1]": 1})
    assert sorted(api.keys("a?")) == ["a1", "a2"]
    assert sorted(api.keys("[ab]1")) == ["a1", "b1"]
    assert api.keys(r"a\[1\]") == ["a[1]"]


def test_custom_key_function_gets_raw_keys(make: Any, topology: str, driver: str) -> None:
    cache = make(topology, driver, KEY_FUNCTION="tests.api.keyfuncs.reversed_parts")
    cache.set("k1", 1)
    cache.set("k2", 1)
    stored = sorted(cache.keys("k*"))
    assert stored == sorted([cache.make_key("k1"), cache.make_key("k2")])
    assert stored[0].startswith("k1|")
    assert cache.delete_pattern("k*") == 2


def test_iter_keys_is_a_generator(api: Any) -> None:
    api.set_many({f"k{i}": i for i in range(50)})
    if api.mode == "sync":
        it = api.cache.iter_keys("k*", itersize=7)
        assert iter(it) is it and hasattr(it, "send")
        assert sorted(it) == sorted(f"k{i}" for i in range(50))
    else:
        agen = api.cache.aiter_keys("k*", itersize=7)
        assert agen.__aiter__() is agen and hasattr(agen, "asend")

        async def collect() -> list[str]:
            return [k async for k in agen]

        assert sorted(api.loop.run_until_complete(collect())) == sorted(
            f"k{i}" for i in range(50))


def test_iter_keys_rejects_bad_itersize(api: Any) -> None:
    with pytest.raises(ValueError, match="itersize"):
        list(api.cache.iter_keys("*", itersize=-1))


def _stored_on(nodes: list[Any], match: str) -> list[set[bytes]]:
    """Keys matching ``match`` on each node, read straight from the servers."""
    return [set(node.client().scan_iter(match=match, count=1000)) for node in nodes]


def test_delete_pattern_on_every_node(api: Any, topology: str) -> None:
    doomed = {f"doomed:{i}": i for i in range(300)}
    kept = {f"kept:{i}": i for i in range(300)}
    api.set_many(doomed | kept)
    prefix = api.cache.key_prefix
    nodes = data_nodes(topology)
    before = _stored_on(nodes, f"{prefix}:1:doomed:*")
    if len(nodes) > 1:
        assert all(before), "the test keys should be spread over every node"
    assert sum(len(s) for s in before) == 300

    assert api.delete_pattern("doomed:*", itersize=37) == 300

    assert _stored_on(nodes, f"{prefix}:1:doomed:*") == [set()] * len(nodes)
    assert sum(len(s) for s in _stored_on(nodes, f"{prefix}:1:kept:*")) == 300
    assert api.get_many(list(kept)) == kept
    assert api.delete_pattern("doomed:*") == 0


def test_delete_pattern_only_current_version(api: Any) -> None:
    api.set("k", 1)
    api.set("k", 2, version=2)
    assert api.delete_pattern("*") == 1
    assert api.get("k", version=2) == 2


def test_rename_keeps_value_and_expiry(api: Any) -> None:
    api.set("{t}old", {"v": 1}, timeout=100)
    api.set("{t}new", "overwritten")
    api.rename("{t}old", "{t}new")
    assert api.get("{t}new") == {"v": 1}
    assert api.has_key("{t}old") is False
    assert 0 < api.ttl("{t}new") <= 100


def test_rename_missing_key(api: Any) -> None:
    with pytest.raises(ValueError, match="not found"):
        api.rename("{t}missing", "{t}other")


def _apart(cache: Any) -> tuple[str, str]:
    """Two Django keys whose stored keys are not colocated."""
    made = cache.make_key
    for a, b in itertools.combinations((f"key{i}" for i in range(200)), 2):
        if not cache._topology.colocated(made(a), made(b)):
            return a, b
    raise AssertionError("no two keys apart")


def test_rename_across_nodes_is_refused(api: Any, topology: str) -> None:
    if topology in ("single", "sentinel"):
        api.set("a", 1)
        api.rename("a", "b")  # one server: any two keys may be renamed
        assert api.get("b") == 1
        return
    old, new = _apart(api.cache)
    api.set(old, 1)
    with pytest.raises(CrossSlotError) as info:
        api.rename(old, new)
    assert f"key#{key_hash(api.cache.make_key(old))}" in str(info.value)
    assert "hash tag" in str(info.value) and repr(old) not in str(info.value)
    assert api.get(old) == 1 and api.has_key(new) is False


def test_rename_with_hash_tag_across_any_topology(api: Any) -> None:
    api.hset("user:{42}:a", "f", 1)
    api.rename("user:{42}:a", "user:{42}:b")
    assert api.hget("user:{42}:b", "f") == 1
    made = api.cache.make_key("user:{42}:b")
    assert raw_client(api.cache, made).execute_command("EXISTS", made) == 1
