"""The extended API with redis-py's and django-redis 7's names, argument order and return
values, on every topology, sync and async (issue 13)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.test import override_settings

from cachex.exceptions import CrossSlotError, LockError
from cachex.redact import key_redactor
from tests.api.conftest import Api


def test_zincrby_takes_amount_before_member(api: Any) -> None:
    # redis-py/django-redis order: zincrby(key, amount, member). The old cachex order
    # (key, member, amount) silently added a member "5" with score 3.
    api.zadd("z", {"3": 1})
    assert api.zincrby("z", 5, "3") == 6.0
    assert api.zscore("z", "3") == 6.0
    assert api.zcard("z") == 1
    assert api.zincrby("z", 2.5, "new") == 2.5


# ------------------------------------------------------------------ Django-level methods
def test_set_nx_and_xx_answer_whether_they_wrote(api: Any) -> None:
    assert api.set("k", 1, nx=True) is True
    assert api.set("k", 2, nx=True) is False
    assert api.get("k") == 1
    assert api.set("k", 3, timeout=-1, nx=True) is False  # nx leaves an existing key alone
    assert api.get("k") == 1
    assert api.set("other", 1, xx=True) is False  # xx: only an existing key
    assert api.has_key("other") is False
    assert api.set("k", 4, xx=True) is True
    assert api.get("k") == 4
    assert api.set("k", 5, timeout=0, xx=True) is True  # expired at once: deleted
    assert api.has_key("k") is False
    assert api.set("plain", 1) is None  # Django's contract without nx/xx


def test_set_nx_keeps_the_timeout(api: Any) -> None:
    assert api.set("k", 1, timeout=100, nx=True) is True
    assert 0 < api.ttl("k") <= 100


def test_incr_ignore_key_check_creates(api: Any) -> None:
    assert api.incr("n", ignore_key_check=True) == 1
    assert api.incr("n", 10, ignore_key_check=True) == 11
    assert api.get("n") == 11
    assert api.decr("m", 3, ignore_key_check=True) == -3


def test_incr_past_64_bits_goes_on(api: Any) -> None:
    top = 2**63 - 1
    api.set("n", top, timeout=100)
    assert api.incr("n") == top + 1
    assert api.get("n") == top + 1
    assert api.incr("n", 2) == top + 3
    assert api.decr("n", 4) == top - 1  # back in range: INCRBY again
    assert api.get("n") == top - 1
    assert 0 < api.ttl("n") <= 100  # the expiry survives the Python path
    api.set("s", "text")
    with pytest.raises(TypeError):
        api.incr("s")


def test_delete_many_counts(api: Any) -> None:
    api.set_many({"a": 1, "b": 2, "{t}c": 3})
    assert api.delete_many(["a", "b", "{t}c", "missing"]) == 3
    assert api.delete_many(["a", "b"]) == 0
    assert api.delete_many([]) is None  # Django's own tests assert None here


# ---------------------------------------------------------------------------------- TTL
def test_pexpire_and_expire_take_default_timeout(make: Any, topology: str, driver: str,
                                                 mode: str, loop: Any) -> None:
    api = Api(make(topology, driver, TIMEOUT=200), mode, loop)
    api.set("k", "v", timeout=None)
    assert api.pexpire("k", DEFAULT_TIMEOUT) is True
    assert 100_000 < api.pttl("k") <= 200_000
    api.persist("k")
    assert api.expire("k", DEFAULT_TIMEOUT) is True
    assert 100 < api.ttl("k") <= 200
    assert api.pexpire("missing", DEFAULT_TIMEOUT) is False


def test_expire_and_pexpire_take_timedelta(api: Any) -> None:
    api.set("k", 1, timeout=None)
    assert api.expire("k", dt.timedelta(seconds=50)) is True
    assert 40 < api.ttl("k") <= 50
    assert api.pexpire("k", dt.timedelta(seconds=30)) is True
    assert 20_000 < api.pttl("k") <= 30_000


def test_pexpire_at_takes_milliseconds_or_datetime(api: Any) -> None:
    api.set("a", 1, timeout=None)
    api.set("b", 1, timeout=None)
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)
    assert api.pexpire_at("a", soon) is True
    assert 0 < api.pttl("a") <= 60_000
    assert api.pexpire_at("b", int(soon.timestamp() * 1000) + 60_000) is True
    assert 60_000 < api.pttl("b") <= 120_000
    assert api.pexpire_at("b", dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)) is True
    assert api.has_key("b") is False
    assert api.pexpire_at("missing", soon) is False


# -------------------------------------------------------------------------------- locks
def test_lock_thread_local_false_releases_from_another_thread(cache: Any) -> None:
    lock = cache.lock("L", thread_local=False)
    assert lock.acquire(blocking=True)
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(lock.release, errors))
    thread.start()
    thread.join()
    assert errors == []
    assert cache.has_key("L") is False


def test_lock_thread_local_true_keeps_token_to_its_thread(cache: Any) -> None:
    lock = cache.lock("L", None, 30)  # django-redis order: key, version, timeout
    assert lock.acquire(blocking=False)
    assert 0 < cache.ttl("L") <= 30
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(lock.release, errors))
    thread.start()
    thread.join()
    assert [type(e) for e in errors] == [LockError]  # another thread does not hold it
    assert cache.has_key("L") is True
    lock.release()
    assert cache.has_key("L") is False


def test_alock_takes_the_same_arguments(cache: Any, loop: Any) -> None:
    async def main() -> None:
        lock = cache.alock("L", timeout=30, sleep=0.01, blocking=False, thread_local=False)
        assert await lock.acquire()
        assert await cache.alock("L", blocking=False).acquire() is False
        await lock.release()

    loop.run_until_complete(main())


def _catch(fn: Any, errors: list[BaseException]) -> None:
    try:
        fn()
    except BaseException as exc:  # the test inspects it
        errors.append(exc)


# -------------------------------------------------------------------------- sorted sets
def test_zadd_flags(api: Any) -> None:
    api.zadd("z", {"a": 10})
    assert api.zadd("z", {"a": 20}, nx=True) == 0
    assert api.zscore("z", "a") == 10.0
    assert api.zadd("z", {"a": 25, "new": 1}, xx=True) == 0
    assert api.zscore("z", "a") == 25.0
    assert api.zscore("z", "new") is None
    assert api.zadd("z", {"a": 30, "b": 2}, ch=True) == 2  # one changed + one added
    assert api.zadd("z", {"a": 5}, gt=True, ch=True) == 0  # not greater: unchanged
    assert api.zadd("z", {"a": 5}, lt=True, ch=True) == 1
    assert api.zadd("z", {"a": 2.5}, incr=True) == 7.5
    assert api.zadd("z", {"zz": 1}, xx=True, incr=True) is None
    with pytest.raises(ValueError):
        api.zadd("z", {"a": 1}, nx=True, xx=True)


def test_zrange_variants(api: Any) -> None:
    api.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert api.zrange("z", 0, -1, desc=True) == ["d", "c", "b", "a"]
    assert api.zrange("z", 0, 1, desc=True, withscores=True) == [("d", 4.0), ("c", 3.0)]
    assert api.zrange("z", 0, 0, withscores=True, score_cast_func=int) == [("a", 1)]
    assert api.zrange("z", 2, 3, byscore=True) == ["b", "c"]
    assert api.zrange("z", "+inf", "-inf", desc=True, byscore=True, offset=1, num=2) == [
        "c", "b"]
    assert api.zrevrange("z", 0, 0, withscores=True, score_cast_func=int) == [("d", 4)]
    api.zadd("lex", {"x": 0, "y": 0})  # the codec pickles str members: lex order of bytes
    assert sorted(api.zrange("lex", "-", "+", bylex=True)) == ["x", "y"]


def test_zset_score_ranges(api: Any) -> None:
    api.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert api.zcount("z", 2, 4) == 3
    assert api.zcount("z", "-inf", "+inf") == 5
    assert api.zcount("z", "(2", 4) == 2
    assert api.zrangebyscore("z", 2, 4) == ["b", "c", "d"]
    assert api.zrangebyscore("z", "-inf", "+inf", start=1, num=2) == ["b", "c"]
    assert api.zrangebyscore("z", 1, 2, withscores=True) == [("a", 1.0), ("b", 2.0)]
    assert api.zrevrangebyscore("z", 4, 2) == ["d", "c", "b"]
    assert api.zrevrangebyscore("z", "+inf", "-inf", 0, 1, True) == [("e", 5.0)]
    assert api.zremrangebyscore("z", 2, 3) == 2
    assert api.zrange("z", 0, -1) == ["a", "d", "e"]
    assert api.zremrangebyrank("z", 0, 0) == 1
    assert api.zrange("z", 0, -1) == ["d", "e"]


def test_zpop(api: Any) -> None:
    api.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert api.zpopmax("z") == ("d", 4.0)
    assert api.zpopmin("z") == ("a", 1.0)
    assert api.zpopmin("z", count=5) == [("b", 2.0), ("c", 3.0)]
    assert api.zpopmin("z") is None
    assert api.zpopmax("z", count=2) == []


def test_zset_more_reads(api: Any) -> None:
    api.zadd("z", {"a": 1, "b": 2, (1, 2): 3})
    assert api.zrevrank("z", "a") == 2
    assert api.zrevrank("z", "zz") is None
    assert api.zmscore("z", ["a", "zz", (1, 2)]) == [1.0, None, 3.0]


def test_zstore_with_one_hash_tag(api: Any) -> None:
    api.zadd("{g}a", {"x": 1, "y": 2})
    api.zadd("{g}b", {"y": 10, "z": 5})
    assert api.zunionstore("{g}u", ["{g}a", "{g}b"]) == 3
    assert api.zrange("{g}u", 0, -1, withscores=True) == [("x", 1.0), ("z", 5.0), ("y", 12.0)]
    assert api.zinterstore("{g}i", {"{g}a": 2, "{g}b": 1}, aggregate="max") == 1
    assert api.zscore("{g}i", "y") == 10.0


# --------------------------------------------------------------------------------- sets
def test_set_algebra_with_one_hash_tag(api: Any) -> None:
    api.sadd("{s}1", "a", "b", "c")
    api.sadd("{s}2", "b", "c", "d")
    api.sadd("{s}3", "c")
    assert api.sdiff("{s}1", "{s}2") == {"a"}
    assert api.sinter("{s}1", "{s}2", "{s}3") == {"c"}
    assert api.sunion("{s}1", "{s}2") == {"a", "b", "c", "d"}
    assert api.sdiffstore("{s}d", "{s}1", "{s}2") == 1
    assert api.smembers("{s}d") == {"a"}
    assert api.sinterstore("{s}i", "{s}1", "{s}2") == 2
    assert api.smembers("{s}i") == {"b", "c"}
    assert api.sunionstore("{s}u", "{s}1", "{s}3") == 3
    assert api.smembers("{s}u") == {"a", "b", "c"}
    assert api.smove("{s}1", "{s}2", "a") is True
    assert api.smove("{s}1", "{s}2", "nope") is False
    assert api.smembers("{s}1") == {"b", "c"}
    assert api.smembers("{s}2") == {"a", "b", "c", "d"}


def test_sdiffstore_versions(api: Any) -> None:
    api.sadd("{v}1", "a", "b", version=2)
    api.sadd("{v}2", "b", version=2)
    assert api.sdiffstore("{v}d", "{v}1", "{v}2", version_keys=2) == 1
    assert api.smembers("{v}d") == {"a"}  # dest in the default version
    assert api.smembers("{v}d", version=2) == set()


def test_spop_srandmember_smismember(api: Any) -> None:
    api.sadd("s", "a", "b")
    assert api.srandmember("s") in {"a", "b"}
    assert api.srandmember("s", 1) in (["a"], ["b"])
    assert sorted(api.srandmember("s", -4)) != []  # negative count: repeats allowed
    assert api.smismember("s", "a", "zz", "b") == [True, False, True]
    popped = api.spop("s")
    assert popped in {"a", "b"}
    assert api.spop("s", 5) == {"a", "b"} - {popped}
    assert api.spop("s") is None
    assert api.srandmember("s") is None
    assert api.spop("s", 2) == set()


def test_sscan(api: Any) -> None:
    members = {f"bar{i}" for i in range(40)} | {"zoo", 7, (1, 2)}
    api.sadd("s", *members)
    assert api.sscan("s") == members  # every page, not only the first
    assert api.sscan("s", match="zoo") == {"zoo"}
    assert api.sscan("s", match="bar1?") == {f"bar{i}" for i in range(10, 20)}
    assert api.sscan("missing") == set()
    assert set(_iterate(api, "sscan_iter", "s", match="bar*", count=5)) == {
        f"bar{i}" for i in range(40)}
    assert set(_iterate(api, "sscan_iter", "s")) == members


def test_hscan_and_zscan(api: Any) -> None:
    api.hset("h", mapping={f"f{i}": i for i in range(30)} | {"other": [1]})
    pages, cursor = {}, None
    while cursor != 0:
        cursor, page = api.hscan("h", cursor or 0, count=5)
        pages.update(page)
    assert pages == {f"f{i}": i for i in range(30)} | {"other": [1]}
    assert dict(_iterate(api, "hscan_iter", "h", match="f1*")) == {
        "f1": 1, **{f"f1{i}": 10 + i for i in range(10)}}
    api.zadd("z", {f"m{i}": i for i in range(30)} | {7: 99})
    assert sorted(_iterate(api, "zscan_iter", "z", match="m2?", score_cast_func=int)) == [
        (f"m2{i}", 20 + i) for i in range(10)]
    assert len(_iterate(api, "zscan_iter", "z", count=4)) == 31
    assert api.zscan("missing") == (0, [])


def _iterate(api: Any, name: str, *args: Any, **kwargs: Any) -> list[Any]:
    if api.mode == "sync":
        return list(getattr(api.cache, name)(*args, **kwargs))

    async def collect() -> list[Any]:
        return [x async for x in getattr(api.cache, "a" + name)(*args, **kwargs)]

    return list(api.loop.run_until_complete(collect()))


# ------------------------------------------------------------------------ hashes, lists
def test_hash_mapping_and_bulk_reads(api: Any) -> None:
    assert api.hset("h", mapping={"a": 1, "b": [2]}) == 2
    assert api.hset("h", "c", "x", mapping={"a": 5}) == 1
    assert api.hmget("h", ["a", "nope", "b"]) == [5, None, [2]]
    assert api.hmget("h", "a", "c") == [5, "x"]
    assert sorted(map(str, api.hvals("h"))) == ["5", "[2]", "x"]
    assert api.hsetnx("h", "a", 9) is False
    assert api.hsetnx("h", "d", 9) is True
    assert api.hincrbyfloat("h", "f", 1.5) == 1.5
    assert api.hincrbyfloat("h", "f", 1) == 2.5
    with pytest.raises(TypeError):
        api.hset("h")


def test_list_extras(api: Any) -> None:
    api.rpush("l", "a", "b", "c", "b", "d")
    assert api.lpop("l", 2) == ["a", "b"]
    assert api.rpop("l", 1) == ["d"]
    assert api.lpop("missing", 2) is None
    assert api.lindex("l", 0) == "c"
    assert api.lindex("l", 9) is None
    assert api.lset("l", 0, "C") is True
    assert api.linsert("l", "AFTER", "C", "x") == 3
    assert api.lrange("l", 0, -1) == ["C", "x", "b"]
    assert api.lrem("l", 0, "x") == 1
    assert api.ltrim("l", 0, 0) is True
    assert api.lrange("l", 0, -1) == ["C"]
    assert api.lpushx("missing", 1) == 0
    assert api.rpushx("l", "z") == 2
    assert api.lmove("{q}a", "{q}b") is None
    api.rpush("{q}a", 1, 2)
    assert api.lmove("{q}a", "{q}b", "RIGHT", "LEFT") == 2
    assert api.lrange("{q}b", 0, -1) == [2]


def test_mget_mset_atomic_with_one_hash_tag(api: Any) -> None:
    assert api.mget([]) == {}
    api.mset({"{m}a": 1, "{m}b": [2]}, timeout=100)
    assert api.mget(["{m}a", "{m}b", "{m}c"]) == {"{m}a": 1, "{m}b": [2]}
    assert 0 < api.ttl("{m}b") <= 100
    api.mset({"{m}a": 3})
    assert api.ttl("{m}a") is None  # django-valkey's default: no expiry
    api.mset({"{m}a": 3, "{m}b": 4}, timeout=0)
    assert api.mget(["{m}a", "{m}b"]) == {}


def test_get_lock_is_lock(cache: Any) -> None:
    with cache.get_lock("L", timeout=30):
        assert cache.lock("L", blocking=False).acquire() is False
    assert cache.has_key("L") is False


# ------------------------------------------------------------------- keys, key function
def test_delete_pattern_django_redis_order(api: Any) -> None:
    api.set("p1", 1, version=2)
    api.set("p2", 1)
    assert api.delete_pattern("p*", 2) == 1  # second positional: version
    assert api.has_key("p2") is True
    assert api.delete_pattern("p*", prefix=api.cache.key_prefix, itersize=10) == 1


@pytest.mark.parametrize("topology", ["single"])
def test_scan_itersize_setting_of_django_redis(api: Any, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    counts: list[Any] = []
    real = api.cache._router.run if api.mode == "sync" else api.cache._router.arun

    def spy(batches: Any, *args: Any, **kwargs: Any) -> Any:
        counts.extend(cmd[-1] for _, cmds in batches for cmd in cmds if cmd[0] == "SCAN")
        return real(batches, *args, **kwargs)

    monkeypatch.setattr(api.cache._router, "run" if api.mode == "sync" else "arun", spy)
    api.set("a", 1)
    with override_settings(DJANGO_REDIS_SCAN_ITERSIZE=30):
        assert api.keys("*") == ["a"]
        assert api.delete_pattern("nothing*", itersize=7) == 0
    assert api.keys("*") == ["a"]
    assert counts == [30, 7, 1000]


def _stored(key: str, prefix: str, version: int) -> str:
    return f"{prefix}|{version}|{key}"


def _unstored(stored: str) -> str:
    return stored.split("|", 2)[2]


def test_reverse_key_function(make: Any, topology: str, driver: str, mode: str,
                              loop: Any) -> None:
    plain = make(topology, driver, KEY_FUNCTION=_stored)
    assert set(Api(plain, mode, loop).keys("*")) == set()
    plain.set("a", 1)
    assert Api(plain, mode, loop).keys("*") == [plain.make_key("a")]  # as stored
    api = Api(make(topology, driver, KEY_PREFIX=plain.key_prefix, KEY_FUNCTION=_stored,
                   REVERSE_KEY_FUNCTION="tests.api.test_peer_api._unstored"), mode, loop)
    assert api.keys("*") == ["a"]
    assert _iterate(api, "iter_keys", "a*") == ["a"]


# ----------------------------------------------------------- multi-key across the nodes
MULTI_KEY = [
    ("sdiff", lambda a, b: (a, b)), ("sinter", lambda a, b: (a, b)),
    ("sunion", lambda a, b: (a, b)), ("sdiffstore", lambda a, b: (a, a, b)),
    ("sinterstore", lambda a, b: (a, a, b)), ("sunionstore", lambda a, b: (b, a)),
    ("smove", lambda a, b: (a, b, "m")), ("zunionstore", lambda a, b: (a, [a, b])),
    ("zinterstore", lambda a, b: (b, [a])), ("lmove", lambda a, b: (a, b)),
    ("mget", lambda a, b: ([a, b],)), ("mset", lambda a, b: ({a: 1, b: 2},)),
]


def _apart(cache: Any) -> tuple[str, str]:
    """Two keys whose stored keys are on different nodes."""
    first = cache.make_key("k0")
    topology = cache._topology
    for i in range(1, 200):
        other = f"k{i}"
        if topology.label_for(cache.make_key(other)) != topology.label_for(first):
            return "k0", other
    raise AssertionError("no two keys on different nodes")


@pytest.mark.parametrize("topology", ["sharded", "cluster"])
@pytest.mark.parametrize(("method", "args"), MULTI_KEY, ids=[m for m, _ in MULTI_KEY])
def test_multi_key_across_nodes_names_them(api: Any, method: str, args: Any) -> None:
    a, b = _apart(api.cache)
    with pytest.raises(CrossSlotError) as info:
        getattr(api, method)(*args(a, b))
    message = str(info.value)
    topology = api.cache._topology
    show = key_redactor(api.cache.settings.log_keys)
    for key in (a, b):
        made = api.cache.make_key(key)
        assert topology.label_for(made) in message
        assert show(made) in message  # the key in the alias's redacted form
        assert made not in message  # never the stored key itself
    assert "hash tag" in message


@pytest.mark.parametrize("topology", ["cluster"])
def test_same_node_other_slot_is_refused_in_a_cluster(api: Any) -> None:
    topology = api.cache._topology
    first = api.cache.make_key("k0")
    other = next(f"k{i}" for i in range(1, 500)
                 if topology.label_for(api.cache.make_key(f"k{i}")) == topology.label_for(first)
                 and not topology.colocated(first, api.cache.make_key(f"k{i}")))
    with pytest.raises(CrossSlotError, match="different Cluster slots"):
        api.sunion("k0", other)


@pytest.mark.parametrize("topology", ["single", "sentinel"])
def test_multi_key_without_tags_on_one_server(api: Any) -> None:
    api.sadd("x", 1, 2)
    api.sadd("y", 2)
    assert api.sdiff("x", "y") == {1}
    assert api.smove("x", "y", 1) is True
