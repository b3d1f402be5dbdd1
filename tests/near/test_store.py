"""The near cache's store and options, without a server: bounds, expiry, the read race."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cachex.config import ConfigError
from cachex.near import NearStore, parse_near
from cachex.near.front import Front
from cachex.near.keys import MadeKeys
from cachex.near.store import immutable


def _put(store: NearStore, key: str, value: bytes, pttl: int = -1,
         token: int | None = None) -> bool:
    return store.put(key, value, pttl, time.monotonic(), store.seq if token is None else token,
                     len(value))


def test_a_million_distinct_keys_stay_within_both_bounds() -> None:
    store = NearStore(max_entries=1000, max_bytes=20_000)
    value = b"v" * 10
    peak_entries = peak_bytes = 0
    for i in range(1_000_000):
        key = f":1:k{i}"
        assert store.get(key) is None  # read once each: always a miss, then filled
        _put(store, key, value)
        if i % 997 == 0:
            peak_entries = max(peak_entries, len(store))
            peak_bytes = max(peak_bytes, store.nbytes)
    stats = store.snapshot()
    assert len(store) <= 1000 and store.nbytes <= 20_000
    assert peak_entries <= 1000 and peak_bytes <= 20_000
    assert stats["fills"] == 1_000_000 and stats["misses"] == 1_000_000
    assert stats["evictions"] == 1_000_000 - len(store)
    assert store.nbytes == sum(len(k) + 10 for k in store._entries)  # accounting exact


def test_least_recently_used_goes_first() -> None:
    store = NearStore(max_entries=2, max_bytes=10_000)
    _put(store, "a", b"1")
    _put(store, "b", b"2")
    assert store.get("a") is not None  # a is now the most recent
    _put(store, "c", b"3")
    assert store.get("b") is None and store.get("a") is not None
    assert store.snapshot()["evictions"] == 1


def test_a_value_larger_than_max_bytes_is_not_kept() -> None:
    store = NearStore(max_entries=10, max_bytes=100)
    assert not _put(store, "big", b"x" * 200)
    assert len(store) == 0


def test_the_server_ttl_is_never_exceeded() -> None:
    store = NearStore(max_entries=10, max_bytes=10_000)
    sent = time.monotonic() - 0.05  # the GET left 50 ms ago; the server said 40 ms left
    store.put("k", b"v", 40, sent, store.seq, 1)
    assert store.get("k") is None  # deadline counted from the send: already past
    assert store.snapshot()["expired"] == 1
    assert not _put(store, "gone", b"v", pttl=-2)  # expired between GET and PTTL


def test_the_local_ttl_caps_a_key_without_expiry() -> None:
    store = NearStore(max_entries=10, max_bytes=10_000, ttl=0.01)
    _put(store, "k", b"v", pttl=-1)
    assert store.get("k") is not None
    time.sleep(0.02)
    assert store.get("k") is None


def test_a_reply_older_than_an_invalidation_is_not_stored() -> None:
    """The read race: the token is taken before the GET, the invalidation arrives before the
    reply is stored; the old reply must not be kept."""
    store = NearStore(max_entries=10, max_bytes=10_000)
    token = store.seq
    store.invalidate(["k"])  # arrives while the GET is in flight
    assert not _put(store, "k", b"old", token=token)
    assert store.get("k") is None
    for change in (lambda: store.drop(["x"]), lambda: store.flush("local"), store.bump):
        token = store.seq
        change()
        assert not _put(store, "k", b"old", token=token)


def test_invalidation_and_flush_drop_values() -> None:
    store = NearStore(max_entries=10, max_bytes=10_000)
    _put(store, "a", b"1")
    _put(store, "b", b"2")
    store.invalidate(["a", "unknown"])
    assert store.get("a") is None and store.get("b") is not None
    store.flush("local")
    assert len(store) == 0 and store.nbytes == 0
    stats = store.snapshot()
    assert stats["invalidations"] == 1 and stats["flushes"] == stats["flushes_local"] == 1


@pytest.mark.parametrize("value, shared", [
    ("s", True), (b"b", True), (1, True), (1.5, True), (None, True), ((1, "a"), True),
    (frozenset({1}), True), ([1], False), ({"a": 1}, False), ((1, [2]), False),
    (object(), False),
])
def test_only_immutable_values_are_kept_decoded(value: Any, shared: bool) -> None:
    assert immutable(value) is shared


@pytest.mark.parametrize("raw, problem", [
    ("yes", "must be a dict"),
    ({"max_entries": 0}, "max_entries"),
    ({"max_bytes": "1MB"}, "max_bytes"),
    ({"prefixes": "app:"}, "prefixes"),
    ({"prefixes": ["app:", "app:x"]}, "overlap"),
    ({"ttl": -1}, "ttl"),
    ({"size": 1}, "unknown"),
])
def test_bad_options_name_the_problem(raw: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_near(raw, "")


def test_defaults_follow_the_key_prefix() -> None:
    assert parse_near(None, "app") is None
    assert parse_near(True, "app").prefixes == ("app:",)  # type: ignore[union-attr]
    got = parse_near({"max_entries": 5, "ttl": 2}, "")
    assert got is not None and got.max_entries == 5 and got.ttl == 2.0


def test_bad_options_fail_at_start_up_naming_the_alias(single_server: Any) -> None:
    from cachex.backends.redis import RedisCache

    with pytest.raises(ImproperlyConfigured, match=r"near_cache.*max_entries"):
        RedisCache(single_server.url, {"OPTIONS": {"near_cache": {"max_entries": -5}}})


def test_near_cache_with_a_stampede_mode_that_wraps_values_is_refused(
        single_server: Any) -> None:
    from cachex.backends.redis import RedisCache

    with pytest.raises(ImproperlyConfigured, match=r"near_cache.*stampede.*'lock'"):
        RedisCache(single_server.url, {"KEY_PREFIX": "refused", "OPTIONS": {
            "near_cache": True, "stampede": "early"}})


def test_batch_hits_count_for_recency_before_an_eviction() -> None:
    store = NearStore(max_entries=3, max_bytes=10_000)
    for key in "abc":
        _put(store, key, b"1")
    assert None not in store.get_many(["a"])  # noted, not yet moved
    _put(store, "d", b"4")  # full: the notes are applied first, then the oldest goes
    assert store.get("b") is None and store.get("a") is not None
    assert store.get("d") is not None  # the key just filled is never the one evicted


def _front(max_entries: int = 10) -> tuple[NearStore, Front]:
    store = NearStore(max_entries=max_entries, max_bytes=10_000)
    made = MadeKeys(max_entries)
    made.learn(["a", "b"], [":1:a", ":1:b"], 1)
    return store, Front(store, made)


def test_the_front_answers_only_while_the_store_is_unchanged() -> None:
    store, front = _front()
    seq, gen = store.seq, store.gen
    front.add(seq, gen, 1, ["a", "b"], ["x", "y"], float("inf"))
    got = front.get(["a", "b"], 1)
    assert got == {"a": "x", "b": "y"}
    got["a"] = "mutated"  # the caller's own dict
    assert front.get(["b", "a"], 1) == {"a": "x", "b": "y"}
    assert front.get(["a", "zzz"], 1) is None and front.get(["a"], 2) is None
    assert store.snapshot()["hits"] == 4
    store.invalidate(["unrelated"])  # any change: the front no longer answers
    assert front.get(["a"], 1) is None
    assert front._views == {}  # nor holds values the store may have let go of
    front.add(seq, gen, 1, ["a"], ["x"], float("inf"))  # read before that change: refused
    assert front.get(["a"], 1) is None


def test_the_front_follows_evictions_and_the_earliest_deadline() -> None:
    store, front = _front(max_entries=1)
    front.add(store.seq, store.gen, 1, ["a"], ["x"], float("inf"))
    _put(store, "p", b"1")
    _put(store, "q", b"2")  # evicts p: the store let a value go, the front follows
    assert front.get(["a"], 1) is None
    front.add(store.seq, store.gen, 1, ["a"], ["x"], time.monotonic() - 1)
    assert front.get(["a"], 1) is None  # past the earliest deadline among its values


def test_the_front_keeps_only_str_keys() -> None:
    store, front = _front()
    front.add(store.seq, store.gen, 1, ["1", 1], ["s", "i"], float("inf"))
    assert front.get(["1"], 1) == {"1": "s"}
    assert front.get([1], 1) is None and front.get([["unhashable"]], 1) is None


def test_front_hits_count_for_recency_too() -> None:
    store, front = _front(max_entries=3)  # "a" remembered as ":1:a"
    for key in (":1:a", ":1:b", ":1:c"):
        _put(store, key, b"1")
    front.add(store.seq, store.gen, 1, ["a"], ["x"], float("inf"))
    assert front.get(["a"], 1) == {"a": "x"}  # answered by the front, noted for the store
    _put(store, ":1:d", b"4")
    assert store.get(":1:b") is None and store.get(":1:a") is not None
