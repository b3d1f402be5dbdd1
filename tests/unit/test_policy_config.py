"""Bad retry/failover OPTIONS fail at start-up, through the backend constructor, with an
ImproperlyConfigured naming the alias, the key and the fix. No server is contacted."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cachex.backends.redis import RedisCache
from cachex.backends.valkey import ValkeyCache

BACKENDS = {"redis": RedisCache, "valkey": ValkeyCache}
SHARDS = ["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"]


def build(cls: type, alias: str, location: Any, options: dict[str, Any]) -> Any:
    entry = {"BACKEND": f"{cls.__module__}.{cls.__name__}", "LOCATION": location,
             "OPTIONS": options}
    with override_settings(CACHES={"default": {"BACKEND": entry["BACKEND"],
                                               "LOCATION": "redis://127.0.0.1:3/0"},
                                   alias: entry}):
        return cls(location, {"OPTIONS": options})


@pytest.mark.parametrize("driver", list(BACKENDS))
@pytest.mark.parametrize(("options", "words"), [
    ({"retry": {"attempts": 3, "backof": 0.1}}, ["unknown OPTIONS['retry'] key 'backof'",
                                                 "backoff"]),
    ({"retry": {"attempts": -2}}, ["OPTIONS['retry']['attempts']", ">= 1", "-2"]),
    ({"retry": {"on": ["connection", "timeouts"]}}, ["unknown error class 'timeouts'",
                                                     "timeout"]),
    ({"failover": {"mode": "fail-open"}}, ["'fail-open' is not a mode", "fail_open"]),
    ({"failover": {"cooldwn": 1}}, ["unknown OPTIONS['failover'] key 'cooldwn'", "cooldown"]),
    ({"failover": {"threshold": -1}}, ["OPTIONS['failover']['threshold']", ">= 0"]),
])
def test_bad_policy_options_name_the_alias(driver: str, options: dict[str, Any],
                                            words: list[str]) -> None:
    alias = f"policy-bad-{driver}-{abs(hash(repr(options))) % 10_000}"
    with pytest.raises(ImproperlyConfigured) as info:
        build(BACKENDS[driver], alias, SHARDS, options)
    message = str(info.value)
    assert f"cachex cache {alias!r}" in message
    for word in words:
        assert word in message


def test_reroute_on_a_single_server_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        build(RedisCache, "policy-reroute-single", "redis://127.0.0.1:4/0",
              {"failover": {"mode": "reroute"}})
    assert "'policy-reroute-single'" in str(info.value)
    assert "needs client-side shards" in str(info.value)


def test_good_policy_options_build() -> None:
    cache = build(RedisCache, "policy-good", SHARDS,
                  {"retry": {"attempts": 3, "on": ["connection", "timeout"]},
                   "failover": {"mode": "reroute", "threshold": 2, "cooldown": 1.5}})
    policy = cache._router.policy
    assert policy.retry.options.attempts == 3
    assert policy.failover.mode == "reroute" and policy.breaker.cooldown == 1.5
    assert cache.policy_stats() == dict.fromkeys(cache.policy_stats(), 0)
