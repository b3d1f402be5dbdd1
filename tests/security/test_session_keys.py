"""Django's cache session engine through a shard outage: no session id in any log record or
error message (a logged session id loads that session again once the node is back)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from django.test import override_settings

from cachex.exceptions import ConnectionFailed, WrongType
from cachex.redact import key_hash
from cachex.testing import servers
from tests.security._util import all_logs, error_texts, leaks

pytestmark = pytest.mark.timeout(120)
COOLDOWN = 0.3
POOL = {"socket_timeout": 0.3, "socket_connect_timeout": 0.3}


def _caches(urls: list[str]) -> dict[str, Any]:
    backend = "cachex.backends.redis.RedisCache"
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {"BACKEND": backend, "LOCATION": urls, "OPTIONS": {
            "failover": {"mode": "fail_open", "threshold": 2, "cooldown": COOLDOWN},
            "retry": {"attempts": 2, "backoff": 0.01}, "pool": POOL}},
        # the same shards without failover: every failure is raised to the caller
        "strict": {"BACKEND": backend, "LOCATION": urls, "OPTIONS": {
            "failover": {"mode": "raise", "threshold": 2, "cooldown": COOLDOWN},
            "retry": {"attempts": 2, "backoff": 0.01}, "pool": POOL}},
    }


def test_session_ids_never_reach_logs_or_errors_during_a_shard_outage() -> None:
    from django.contrib.sessions.backends.cache import SessionStore
    from django.core.cache import caches

    with servers(3) as shards, override_settings(
            CACHES=_caches([s.url for s in shards]),
            SESSION_ENGINE="django.contrib.sessions.backends.cache",
            SESSION_CACHE_ALIAS="sessions"), all_logs() as logs:
        ids: list[str] = []
        errors: list[BaseException] = []

        def new_session(i: int) -> None:
            store = SessionStore()
            store["user"] = i
            store.create()
            ids.append(str(store.session_key))

        for i in range(30):
            new_session(i)
        shards[1].kill()

        async def use_async(session_id: str, n: int) -> None:
            store = SessionStore(session_key=session_id)
            await store.aload()
            store["n"] = n
            await store.asave()
            await store.aexists(session_id)

        for n in range(3):  # each round after a cooldown: the circuit's probe fails again
            for session_id in list(ids):
                store = SessionStore(session_key=session_id)
                cache_key = store.cache_key
                store.load()
                store["n"] = n
                store.save()
                store.exists(session_id)
                asyncio.run(use_async(session_id, n))
                try:
                    caches["strict"].get(cache_key)
                except Exception as exc:
                    errors.append(exc)
            new_session(100 + n)
            time.sleep(COOLDOWN * 1.5)
        texts = list(logs.texts()) + [t for e in errors for t in error_texts(e)]
        warned = [r for r in logs.records if r.name.startswith("cachex") and r.levelno >= 30]
    print(f"\n[measure] {len(ids)} sessions, {len(logs.records)} log records, "
          f"{len(errors)} errors scanned")
    assert warned and errors, "the outage must have been logged and raised"
    found = leaks(texts, ids)
    assert not found, found[:3]


@pytest.mark.parametrize(("mode", "shown"), [
    ("hash", lambda k: f"key#{key_hash(k)}"),
    ("prefix", lambda k: f"{k[:12]!r}…#{key_hash(k)}"),
    ("full", repr),
])
def test_log_keys_decides_how_errors_show_keys(mode: str, shown: Any, make_cache: Any) -> None:
    cache = make_cache("redis://127.0.0.1:1/0", KEY_PREFIX="dbg",
                       OPTIONS={"log_keys": mode, "retry": None,
                                "pool": {"socket_connect_timeout": 0.5}})
    with pytest.raises(ConnectionFailed) as info:
        cache.get("user:42:profile")
    assert shown(cache.make_key("user:42:profile")) in str(info.value)
    if mode != "full":
        assert "user:42:profile" not in str(info.value)


@pytest.mark.parametrize(("mode", "shown"), [
    ("hash", lambda k: f"key#{key_hash(k)}"),
    ("prefix", lambda k: f"{k[:12]!r}…#{key_hash(k)}"),
    ("full", repr),
])
def test_log_keys_decides_how_wrong_type_errors_show_keys(mode: str, shown: Any,
                                                          make_cache: Any,
                                                          single_server: Any) -> None:
    """The extended API's WRONGTYPE message (with the type the key really holds) shows the
    key as the alias's other errors do."""
    cache = make_cache(single_server.url, KEY_PREFIX="dbg", OPTIONS={"log_keys": mode})
    cache.set("user:42:profile", "a string")
    with pytest.raises(WrongType) as info:
        cache.lpush("user:42:profile", 1)
    message = str(info.value)
    assert shown(cache.make_key("user:42:profile")) in message and "holds a string" in message
    if mode != "full":
        assert "user:42:profile" not in message
