"""The driver seam (topology/seam.py): a failed probe or ``OPTIONS["fast_path"] = False``
puts a topology on the driver's public API, with the same results as the fast path.

The probe is broken the way a driver release would break it: the connection class built
while the topology starts has lost a private attribute. The topology then starts on the
public path (one WARNING naming what is missing and the driver version) and the same
operations, sync and async, give the same results as on a topology that passed the probe.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cachex.topology import seam
from tests import labs
from tests.core.test_wire_path import count_wire

TOPOLOGIES = ["single", "sharded", "cluster", "sentinel"]
_fresh = itertools.count()


@pytest.fixture(autouse=True)
def _forget_probes() -> Iterator[None]:
    """Each test probes afresh, and leaves no broken verdict behind for later tests."""
    seam.forget()
    yield
    seam.forget()


def _build(make_cache: Any, topology: str, **options: Any) -> Any:
    """A cache on a topology of its own (a distinct client name: no shared registry entry)."""
    options = {**labs.options(topology), **options,
               "pool": {"client_name": f"seam-{next(_fresh)}"}}
    return make_cache(labs.location(topology), KEY_PREFIX=f"seam{next(_fresh)}",
                      OPTIONS=options)


def _lose(monkeypatch: pytest.MonkeyPatch, cls: type, attr: str) -> None:
    """Connections of ``cls`` built from now on lack ``attr`` (a renamed private field)."""
    seam.probe_class.cache_clear()  # as in a process where the installed driver is so
    real = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        delattr(self, attr)

    monkeypatch.setattr(cls, "__init__", init)


def _connection_class(topology: str, asynchronous: bool) -> type:
    if topology == "sentinel":
        module = "redis.asyncio.sentinel" if asynchronous else "redis.sentinel"
        return importlib.import_module(module).SentinelManagedConnection  # type: ignore[no-any-return]
    module = "redis.asyncio.connection" if asynchronous else "redis.connection"
    return importlib.import_module(module).Connection  # type: ignore[no-any-return]


KEYS = [f"k{i}" for i in range(30)]


def _work(cache: Any) -> list[Any]:
    cache.set_many({k: {"v": i} for i, k in enumerate(KEYS[:20])}, 60)
    cache.set("n", 5)
    return [
        cache.get_many(KEYS), cache.get("k3"), cache.get("nope", "dflt"), cache.add("k3", 0),
        cache.incr("n", 2), cache.delete_many(KEYS[:5]), cache.get_many(KEYS[:8]),
        cache.has_key("k6"), cache.touch("k7", 30), cache.delete("k8"), cache.get("k8"),
    ]


async def _awork(cache: Any) -> list[Any]:
    await cache.aset_many({k: {"v": i} for i, k in enumerate(KEYS[:20])}, 60)
    await cache.aset("n", 5)
    return [
        await cache.aget_many(KEYS), await cache.aget("k3"), await cache.aget("nope", "dflt"),
        await cache.aadd("k3", 0), await cache.aincr("n", 2),
        await cache.adelete_many(KEYS[:5]), await cache.aget_many(KEYS[:8]),
        await cache.ahas_key("k6"), await cache.atouch("k7", 30), await cache.adelete("k8"),
        await cache.aget("k8"),
    ]


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_failed_probe_takes_the_public_path_sync(topology: str, make_cache: Any,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    fast = _build(make_cache, topology)
    assert fast._topology.fast and fast._topology.wire
    expected = _work(fast)

    with monkeypatch.context() as broken:  # only while the topology starts (and probes)
        _lose(broken, _connection_class(topology, False), "_sock")
        with caplog.at_level(logging.WARNING, logger="cachex.seam"):
            public = _build(make_cache, topology)
    assert not public._topology.fast and not public._topology.wire
    warnings = [r.getMessage() for r in caplog.records if r.name == "cachex.seam"]
    assert len(warnings) == 1, warnings
    assert "Connection._sock" in warnings[0] and seam.driver_version("redis") in warnings[0]

    used = count_wire(monkeypatch)
    assert _work(public) == expected
    assert used == [], "a topology that failed the probe used the wire path"

    with caplog.at_level(logging.WARNING, logger="cachex.seam"):
        _lose(monkeypatch, _connection_class(topology, False), "_sock")
        _build(make_cache, topology)  # a second topology: same verdict, no second warning
    assert len([r for r in caplog.records if r.name == "cachex.seam"]) == 1


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_failed_probe_takes_the_public_path_async(topology: str, make_cache: Any,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    fast = _build(make_cache, topology)
    with monkeypatch.context() as broken:
        _lose(broken, _connection_class(topology, True), "_reader")
        with caplog.at_level(logging.WARNING, logger="cachex.seam"):
            public = _build(make_cache, topology)
    assert not public._topology.fast
    assert any("Connection._reader" in r.getMessage() for r in caplog.records)

    async def scenario() -> tuple[list[Any], list[Any], list[int]]:
        expected = await _awork(fast)
        used = count_wire(monkeypatch)
        got = await _awork(public)
        return expected, got, used

    expected, got, used = asyncio.run(scenario())
    assert got == expected
    assert used == [], "a topology that failed the probe used the wire path"


@pytest.mark.parametrize("topology", ["single", "cluster"])
def test_fast_path_option_turns_it_off(topology: str, make_cache: Any,
                                       monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    fast = _build(make_cache, topology)
    expected = _work(fast)
    with caplog.at_level(logging.WARNING, logger="cachex.seam"):
        off = _build(make_cache, topology, fast_path=False)
    assert not off._topology.fast and not off._topology.wire
    assert not [r for r in caplog.records if r.name == "cachex.seam"], "chosen, not a fault"
    used = count_wire(monkeypatch)
    assert _work(off) == expected
    assert used == []
    assert asyncio.run(_awork(off)) == expected
    assert used == []

    with_it = _build(make_cache, topology, fast_path=True)
    assert with_it._topology.fast
    with_it.get_many(KEYS)
    assert used, "fast_path=True (the default) uses the wire path"


def test_fast_path_option_is_validated(make_cache: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"'seam-bad'.*OPTIONS\['fast_path'\] must be "
                                                   r"True or False, got 'no'"):
        from cachex.config import parse_settings

        parse_settings("seam-bad", "redis://127.0.0.1:6379/0", {"fast_path": "no"})
