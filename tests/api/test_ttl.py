"""ttl/pttl/expire/pexpire/expire_at/persist on every topology, sync and async."""

from __future__ import annotations

import datetime as dt
from typing import Any


def test_ttl_semantics(api: Any) -> None:
    api.set("forever", 1, timeout=None)
    api.set("short", 1, timeout=100)
    assert api.ttl("forever") is None  # exists, no expiry
    assert api.ttl("missing") == 0  # no such key
    assert 0 < api.ttl("short") <= 100
    assert api.pttl("forever") is None
    assert api.pttl("missing") == 0
    assert 1000 < api.pttl("short") <= 100_000


def test_expire_sets_and_reports(api: Any) -> None:
    api.set("k", "v", timeout=None)
    assert api.expire("k", 50) is True
    assert 0 < api.ttl("k") <= 50
    assert api.expire("missing", 50) is False
    assert api.get("missing") is None  # expire never creates a key


def test_expire_fractional_and_none(api: Any) -> None:
    api.set("k", "v", timeout=None)
    assert api.expire("k", 20.5) is True
    assert 19_000 < api.pttl("k") <= 20_500
    assert api.expire("k", None) is True  # Django's None: keep forever
    assert api.ttl("k") is None
    assert api.expire("missing", None) is False


def test_expire_non_positive_removes(api: Any) -> None:
    api.set("k", "v", timeout=None)
    assert api.expire("k", 0) is True
    assert api.has_key("k") is False


def test_pexpire(api: Any) -> None:
    api.set("k", "v", timeout=None)
    assert api.pexpire("k", 40_000) is True
    assert 30_000 < api.pttl("k") <= 40_000
    assert api.pexpire("missing", 40_000) is False
    assert api.pexpire("k", -1) is True
    assert api.has_key("k") is False


def test_expire_at_datetime_and_timestamp(api: Any) -> None:
    api.set("a", 1, timeout=None)
    api.set("b", 1, timeout=None)
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)
    assert api.expire_at("a", at) is True
    assert 0 < api.ttl("a") <= 60
    assert api.expire_at("b", int(at.timestamp()) + 60) is True
    assert 60 < api.ttl("b") <= 120
    assert api.expire_at("missing", at) is False


def test_expire_at_in_the_past_removes(api: Any) -> None:
    api.set("k", 1, timeout=None)
    assert api.expire_at("k", dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)) is True
    assert api.has_key("k") is False


def test_persist(api: Any) -> None:
    api.set("k", "v", timeout=100)
    assert api.persist("k") is True
    assert api.ttl("k") is None
    assert api.persist("k") is False  # nothing to remove any more
    assert api.persist("missing") is False
    assert api.get("k") == "v"


def test_versions_are_separate_keys(api: Any) -> None:
    api.set("k", 1, timeout=None, version=2)
    assert api.ttl("k") == 0  # default version 1: missing
    assert api.ttl("k", version=2) is None
    assert api.expire("k", 30, version=2) is True
    assert 0 < api.ttl("k", version=2) <= 30
