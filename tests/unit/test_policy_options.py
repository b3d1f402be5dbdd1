"""OPTIONS['retry'] / OPTIONS['failover'] validation and build_policy. Pure, no servers."""

from __future__ import annotations

from typing import Any

import pytest

from cachex.exceptions import (
    ClusterDown,
    CommandError,
    CommandTimeout,
    ConnectionFailed,
    NodeUnavailable,
    ReadOnlyNode,
)
from cachex.policy import (
    FailoverOptions,
    RetryOptions,
    RetryPolicy,
    build_policy,
    parse_failover,
    parse_retry,
)
from cachex.policy.options import error_class


def test_retry_defaults_and_off_switches() -> None:
    assert parse_retry({}) == RetryOptions()
    assert parse_retry(None).attempts == 1
    assert parse_retry(False).attempts == 1
    ready = RetryOptions(attempts=5)
    assert parse_retry(ready) is ready


def test_retry_full_dict() -> None:
    got = parse_retry({"attempts": 4, "backoff": 0, "max_backoff": 0.5, "jitter": False,
                       "deadline": None, "on": ["timeout", "connection", "timeout"],
                       "replay_unsafe": True})
    assert got == RetryOptions(4, 0.0, 0.5, False, None, ("timeout", "connection"), True)


@pytest.mark.parametrize(("raw", "words"), [
    ({"attempt": 3}, ["unknown OPTIONS['retry'] key 'attempt'", "attempts"]),
    ({"attempts": -1}, ["OPTIONS['retry']['attempts']", ">= 1", "-1"]),
    ({"attempts": 0}, ["OPTIONS['retry']['attempts']", ">= 1"]),
    ({"attempts": 2.5}, ["OPTIONS['retry']['attempts']", "whole number"]),
    ({"attempts": True}, ["OPTIONS['retry']['attempts']"]),
    ({"on": ["conection"]}, ["unknown error class 'conection'", "connection, timeout"]),
    ({"on": "timeout"}, ["must be a list of error class names"]),
    ({"backoff": -0.1}, ["OPTIONS['retry']['backoff']", ">= 0"]),
    ({"deadline": float("nan")}, ["OPTIONS['retry']['deadline']"]),
    ({"jitter": "yes"}, ["OPTIONS['retry']['jitter']", "True or False"]),
    ({"replay_unsafe": 1}, ["OPTIONS['retry']['replay_unsafe']"]),
    ("3", ["OPTIONS['retry'] must be a dict"]),
])
def test_retry_errors_name_the_key_and_the_fix(raw: Any, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        parse_retry(raw)
    for word in words:
        assert word in str(info.value)


def test_failover_defaults() -> None:
    assert parse_failover(None, "single") == FailoverOptions("raise", 3, 5.0)
    assert parse_failover({}, "sharded").threshold == 3
    # a failover moves the role elsewhere: no breaker unless asked for
    assert parse_failover(None, "sentinel").threshold == 0
    assert parse_failover({"mode": "fail_open"}, "cluster").threshold == 0
    assert parse_failover({"threshold": 2}, "cluster").threshold == 2
    assert parse_failover({"mode": "fail_open"}, "cluster").mode == "fail_open"
    assert parse_failover({"mode": "reroute", "threshold": 0}, "sharded").threshold == 0
    ready = FailoverOptions("fail_open", 1, 0.5)
    assert parse_failover(ready, "single") is ready


@pytest.mark.parametrize(("raw", "topology", "words"), [
    ({"mode": "failopen"}, "single", ["'failopen' is not a mode", "raise, fail_open, reroute"]),
    ({"treshold": 3}, "single", ["unknown OPTIONS['failover'] key 'treshold'", "threshold"]),
    ({"threshold": -1}, "single", ["OPTIONS['failover']['threshold']", ">= 0"]),
    ({"cooldown": -5}, "single", ["OPTIONS['failover']['cooldown']", ">= 0"]),
    ({"mode": "reroute"}, "single", ["'reroute' needs client-side shards", "single"]),
    ({"mode": "reroute"}, "cluster", ["the cluster topology"]),
    (FailoverOptions(mode="nope"), "single", ["'nope' is not a mode"]),
    ("fail_open", "single", ["OPTIONS['failover'] must be a dict"]),
])
def test_failover_errors_name_the_key_and_the_fix(raw: Any, topology: str,
                                                   words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        parse_failover(raw, topology)
    for word in words:
        assert word in str(info.value)


def test_build_policy_wires_the_parts() -> None:
    policy = build_policy({"retry": {"attempts": 4},
                           "failover": {"mode": "reroute", "threshold": 2, "cooldown": 1}},
                          "unit-build", "sharded")
    assert policy.retry.options.attempts == 4
    assert policy.failover == FailoverOptions("reroute", 2, 1.0)
    assert policy.breaker is not None and policy.breaker.threshold == 2
    assert policy.stats is policy.retry.stats


def test_build_policy_defaults_retry_once_and_break_after_three() -> None:
    policy = build_policy({}, "unit-default", "single")
    assert policy.retry.options == RetryOptions()
    assert policy.breaker is not None and policy.breaker.threshold == 3


def test_build_policy_accepts_ready_objects_and_turns_the_breaker_off() -> None:
    ready = RetryPolicy(RetryOptions(attempts=7), "elsewhere")
    policy = build_policy({"retry": ready, "failover": FailoverOptions(threshold=0)},
                          "unit-ready", "single")
    assert policy.retry.options.attempts == 7
    assert policy.retry.alias == "unit-ready"
    assert policy.breaker is None


@pytest.mark.parametrize(("exc", "name"), [
    (CommandTimeout("t"), "timeout"),
    (ConnectionFailed("c"), "connection"),
    (NodeUnavailable("open"), "circuit_open"),
    (ClusterDown("d"), "cluster_down"),
    (ReadOnlyNode("r"), "readonly"),
    (CommandError("x"), None),
])
def test_error_class_keeps_timeouts_apart_from_connection_errors(exc: Exception,
                                                                  name: str | None) -> None:
    # CommandTimeout subclasses ConnectionFailed; "on": ["connection"] must not retry it.
    assert error_class(exc) == name


def test_users_cannot_ask_to_retry_open_circuits() -> None:
    with pytest.raises(ValueError, match="unknown error class 'circuit_open'"):
        parse_retry({"on": ["circuit_open"]})


def test_only_cluster_policies_retry_open_circuits() -> None:
    opened = NodeUnavailable("open")
    assert not build_policy({}, "u", "sharded").retry.should_retry(opened, idempotent=False)
    assert build_policy({}, "u", "cluster").retry.should_retry(opened, idempotent=False)
    no_conn = {"retry": {"on": ["timeout"]}}
    assert not build_policy(no_conn, "u", "cluster").retry.should_retry(opened, True)
