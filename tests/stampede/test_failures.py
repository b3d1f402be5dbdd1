"""Stampede protection when things go wrong, and with values it did not write: a lock
holder SIGKILLed mid-compute, several processes at once, a dead node under fail_open,
values written by Django's own RedisCache or by cachex without the option, bad settings."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.exceptions import ImproperlyConfigured

from cachex.backends.redis import RedisCache
from cachex.stampede.flows import LOCK_SUFFIX
from cachex.testing.ports import free_port
from tests import labs

LEASE = 0.5  # the lock's / claim's lease: how long a dead holder can block the key


def counter(cache: Any, name: str) -> Any:
    """A raw counter beside the cache (INCR through the driver): counts computations
    made in any process."""
    made = cache.make_key(name)
    client = cache._topology.client(made, True)
    return lambda: client.execute_command("INCR", made)


def _holder(location: Any, params: dict[str, Any], started: Any) -> None:
    """Child process: take the lock (or the herd claim) and hang in the computation."""
    cache = RedisCache(location, params)

    def hang() -> str:
        started.set()
        time.sleep(3600)
        return "never"

    cache.get_or_set("hot", hang, timeout=30)


@pytest.mark.parametrize("mode", ["lock", "herd"])
@pytest.mark.parametrize("topology", ["single", "cluster"])
def test_killed_holder_blocks_only_for_its_lease(make: Callable[..., Any], topology: str,
                                                 mode: str) -> None:
    spec = {"mode": mode, "lease": LEASE}
    if mode == "lock":  # a waiter that outwaits the lease would compute without the lock
        spec.update(wait=5, poll=0.01)
    cache = make(topology, "redis", OPTIONS={"stampede": spec})
    if mode == "herd":  # a soft-expired value: the child is chosen to refresh it
        cache.set("hot", "stale", timeout=0.05)
        time.sleep(0.06)
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    child = ctx.Process(target=_holder, args=(labs.location(topology),
                                              {"KEY_PREFIX": cache.key_prefix,
                                               "OPTIONS": {"stampede": spec}}, started))
    child.start()
    try:
        assert started.wait(30), "the child never started computing"
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        assert child.exitcode == -signal.SIGKILL
        computes: list[int] = []

        def compute() -> str:
            computes.append(1)
            return "fresh"

        if mode == "herd":
            # within the lease the dead refresher's claim still stands: the stale value
            assert cache.get_or_set("hot", compute, timeout=30) == "stale"
            assert computes == []
            time.sleep(LEASE + 0.1)
        # lock: this caller waits for the dead holder's lock to lapse, then computes
        assert cache.get_or_set("hot", compute, timeout=30) == "fresh"
        assert computes == [1]
        if mode == "lock":  # it took the lapsed lock (not the waiters' fallback) and freed it
            lock = cache.make_key("hot") + LOCK_SUFFIX
            assert cache._topology.client(lock, True).execute_command("EXISTS", lock) == 0
        assert cache.get_or_set("hot", compute, timeout=30) == "fresh"
        assert computes == [1]
    finally:
        if child.is_alive():
            child.kill()
            child.join()


def _racer(location: Any, params: dict[str, Any], go: Any, out: Any) -> None:
    cache = RedisCache(location, params)
    bump = counter(cache, "computes")

    def compute() -> str:
        bump()
        time.sleep(0.1)
        return "fresh"

    go.wait(30)
    out.put(cache.get_or_set("hot", compute, timeout=30))


@pytest.mark.parametrize("mode", ["lock", "herd"])
def test_one_recomputation_across_processes(make: Callable[..., Any], mode: str) -> None:
    spec = {"mode": mode, "lease": 30, "wait": 30, "poll": 0.01} if mode == "lock" \
        else {"mode": mode, "lease": 30}
    cache = make("single", "redis", OPTIONS={"stampede": spec})
    if mode == "herd":
        cache.set("hot", "stale", timeout=0.05)
        time.sleep(0.06)
    ctx = multiprocessing.get_context("fork")
    go, out = ctx.Event(), ctx.Queue()
    params = {"KEY_PREFIX": cache.key_prefix, "OPTIONS": {"stampede": spec}}
    procs = [ctx.Process(target=_racer, args=(labs.location("single"), params, go, out))
             for _ in range(4)]
    for p in procs:
        p.start()
    go.set()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert cache.get("computes") == 1
    assert set(results) <= {"stale", "fresh"}


# ---------------------------------------------------------------- values it did not write
@pytest.mark.parametrize("mode", ["herd", "early", "lock"])
def test_reads_values_written_without_the_option(make: Callable[..., Any], mode: str,
                                                 loop: asyncio.AbstractEventLoop) -> None:
    plain = make("single", "redis")
    protected = make("single", "redis", KEY_PREFIX=plain.key_prefix,
                     OPTIONS={"stampede": {"mode": mode}})
    django_cache = DjangoRedisCache(labs.location("single"), {"KEY_PREFIX": plain.key_prefix})
    django_cache.set("by-django", {"from": "django"}, 30)
    plain.set("by-cachex", ["cachex"], 30)
    plain.set("forever", "no expiry", None)
    django_cache.set("count", 41, 30)  # Django stores a plain int raw

    def never() -> None:
        raise AssertionError("a stored value was recomputed")

    assert protected.get("by-django") == {"from": "django"}
    assert protected.get_or_set("by-django", never, 30) == {"from": "django"}
    assert loop.run_until_complete(protected.aget_or_set("by-cachex", never, 30)) == ["cachex"]
    assert protected.get_or_set("forever", never) == "no expiry"
    assert protected.get_many(["by-django", "by-cachex"]) == {
        "by-django": {"from": "django"}, "by-cachex": ["cachex"]}
    assert protected.incr("count") == 42 and django_cache.get("count") == 42
    protected.set("n", 1, 30)  # a plain int stays raw: INCR/DECR and Django read it
    assert protected.incr("n", 5) == 6 and protected.decr("n") == 5
    assert django_cache.get("n") == 5
    # and the other way: the option turned off again reads what it wrote
    protected.set("wrapped", {"v": 1}, 30)
    assert plain.get("wrapped") == {"v": 1}
    assert plain.get_many(["wrapped"]) == {"wrapped": {"v": 1}}


def test_herd_touch_keeps_the_grace(make: Callable[..., Any]) -> None:
    cache = make("single", "redis", OPTIONS={"stampede": {"mode": "herd", "grace": 100}})
    cache.set("k", "v", timeout=0.05)
    time.sleep(0.06)
    assert cache.touch("k", 50) is True  # fresh again for 50 s: no caller is sent to refresh
    assert [cache.get("k") for _ in range(3)] == ["v", "v", "v"]
    assert cache.ttl("k") > 100


# ---------------------------------------------------------------- a dead node
@pytest.mark.parametrize("mode", ["herd", "early", "lock"])
def test_dead_node_under_fail_open_gives_misses(mode: str,
                                                loop: asyncio.AbstractEventLoop) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    cache = RedisCache(dead, {"OPTIONS": {
        "stampede": {"mode": mode}, "failover": {"mode": "fail_open"}, "retry": None,
        "pool": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}}})
    assert cache.get("k", "miss") == "miss"
    cache.set("k", "v")  # dropped
    assert cache.get_or_set("k", lambda: "computed") == "computed"
    assert loop.run_until_complete(cache.aget_or_set("k", lambda: "computed")) == "computed"
    assert loop.run_until_complete(cache.aget("k")) is None


def test_dead_node_raises_by_default() -> None:
    from cachex.exceptions import CachexError

    dead = f"redis://127.0.0.1:{free_port()}/0"
    cache = RedisCache(dead, {"OPTIONS": {
        "stampede": {"mode": "herd"}, "retry": None,
        "pool": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}}})
    with pytest.raises(CachexError):
        cache.get("k")
    with pytest.raises(CachexError):
        cache.get_or_set("k", lambda: 1)


# ---------------------------------------------------------------- settings
@pytest.mark.parametrize(("spec", "message"), [
    ({"mode": "fast"}, "is not a mode"),
    ({"mode": "herd", "beta": 2}, "does not apply to mode 'herd'"),
    ({"mode": "early", "beta": -1}, "'beta'] must be a number of seconds > 0"),
    ({"mode": "lock", "wait": "5"}, "'wait'] must be a number"),
    (["herd"], "must be a dict"),
])
def test_bad_settings_fail_at_start_up(spec: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as info:
        RedisCache("redis://127.0.0.1:6379/0", {"OPTIONS": {"stampede": spec}})
    assert "cachex cache" in str(info.value) and "docs/stampede.md" in str(info.value)


def test_mode_name_alone_and_herd_timeout_setting(settings: Any) -> None:
    settings.CACHE_HERD_TIMEOUT = 7
    cache = RedisCache("redis://127.0.0.1:6379/5", {"OPTIONS": {"stampede": "herd"},
                                                    "KEY_PREFIX": "herd-setting"})
    assert cache._stampede.mode == "herd" and cache._stampede.grace_ms == 7000


def test_only_the_stampede_scripts_fail_open() -> None:
    from cachex.policy.failover import NoNeutralReply, neutral_reply
    from cachex.stampede import lua

    assert neutral_reply(("EVALSHA", lua.SHAS[lua.READ], 1, "k", 10, "0")) is None
    assert neutral_reply(("EVAL", lua.TOUCH, 1, "k", 10)) is None
    for other in (("EVALSHA", lua.SHAS[lua.RELEASE], 1, "k", "t"), ("EVAL", "return 1", 1, "k")):
        with pytest.raises(NoNeutralReply):
            neutral_reply(other)


def test_signed_values_in_the_envelope(make: Callable[..., Any]) -> None:
    """With OPTIONS["signing"], the envelope goes around the signed bytes: the MAC is still
    checked, and a value whose signed part was tampered with is refused."""
    from cachex.codec import DecodeError
    from cachex.stampede import envelope

    signing = {"key": "k" * 32}
    cache = make("single", "redis", OPTIONS={"stampede": {"mode": "herd"}, "signing": signing})
    cache.set("s", {"v": 1}, 30)
    made = cache.make_key("s")
    client = cache._topology.client(made, True)
    raw = client.execute_command("GET", made)
    assert envelope.is_wrapped(raw) and raw[envelope.SIZE:][:2] == b"\x00S"
    assert cache.get("s") == {"v": 1} and cache.get_or_set("s", lambda: 2, 30) == {"v": 1}
    client.execute_command("SET", made, raw[:-1] + bytes([raw[-1] ^ 1]), "KEEPTTL")
    with pytest.raises(DecodeError, match=r"not signed|signature"):
        cache.get("s")


@pytest.mark.parametrize("mode", ["herd", "early"])
def test_set_nx_xx_keep_the_envelope(make: Callable[..., Any], mode: str) -> None:
    from cachex.stampede import envelope

    cache = make("single", "redis", OPTIONS={"stampede": {"mode": mode}})
    made = cache.make_key("k")
    client = cache._topology.client(made, True)
    assert cache.set("k", "a", 30, xx=True) is False and cache.get("k") is None
    assert cache.set("k", "a", 30, nx=True) is True
    assert cache.set("k", "b", 30, nx=True) is False
    assert cache.set("k", "c", 30, xx=True) is True and cache.get("k") == "c"
    assert envelope.is_wrapped(client.execute_command("GET", made))
    assert cache.set("k", "d", 30) is None
