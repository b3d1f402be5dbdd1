"""The seam's probes (cachex/topology/seam.py) on stand-in connection classes: what they
report missing, and that nothing raises a raw AttributeError. Never-connected instances only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from cachex.drivers import redis_driver
from cachex.topology import seam


@pytest.fixture(autouse=True)
def _forget_probes() -> Iterator[None]:
    seam.forget()
    yield
    seam.forget()


class Complete:
    """Everything the sync fast path needs, speaking ``protocol``."""

    protocol: Any = 2

    def __init__(self, **kwargs: Any) -> None:
        self._sock = None
        self.pid = 1

    def send_packed_command(self, *a: Any) -> None: ...
    def can_read(self) -> bool: return False
    def disconnect(self) -> None: ...


class Resp3(Complete):
    protocol = 3


class Bare:
    protocol = 2


class Unbuildable:
    def __init__(self, **kwargs: Any) -> None:
        raise RuntimeError("boom")


class NeedsPool(Complete):
    """Like the drivers' Sentinel-managed connections: built with their pool."""

    def __init__(self, **kwargs: Any) -> None:
        self.connection_pool = kwargs.pop("connection_pool")
        super().__init__(**kwargs)


def test_a_complete_class_passes() -> None:
    assert seam.probe_class(Complete, False) == ()
    assert seam.probe_class(NeedsPool, False) == ()


def test_missing_attributes_are_named() -> None:
    missing = seam.probe_class(Bare, False)
    assert "Bare._sock" in missing and "Bare.send_packed_command" in missing
    assert "Unbuildable()" in seam.probe_class(Unbuildable, False)[0]


def test_resp3_needs_a_hiredis_that_tells_pushes_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seam, "_hiredis_tells_pushes", lambda: True)
    assert seam.probe_class(Resp3, False) == ()
    seam.probe_class.cache_clear()
    monkeypatch.setattr(seam, "_hiredis_tells_pushes", lambda: False)
    assert any("RESP3" in m for m in seam.probe_class(Resp3, False))
    assert seam.probe_class(Complete, False) == ()  # RESP2 never carries pushes


def test_one_warning_per_driver_and_verdict(caplog: pytest.LogCaptureFixture) -> None:
    driver = redis_driver()
    with caplog.at_level(logging.WARNING, logger="cachex.seam"):
        assert seam.fast_path(driver.name, driver.async_pool, [Complete], [], "a1")
        assert not seam.fast_path(driver.name, driver.async_pool, [Bare], [], "a1")
        assert not seam.fast_path(driver.name, driver.async_pool, [Bare], [], "a2")
    [record] = [r for r in caplog.records if r.name == "cachex.seam"]
    text = record.getMessage()
    assert "Bare._sock" in text and seam.driver_version("redis") in text and "'a1'" in text
