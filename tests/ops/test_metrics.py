"""Metrics on real servers: a shard killed under load, the failures counted on that node by
the Prometheus collector (scraped through prometheus_client) and by OpenTelemetry (read
through the SDK's InMemoryMetricReader), sync and async; spans without key names."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from cachex.backends.redis import RedisCache
from cachex.metrics import InstrumentedRouter
from cachex.router import Router
from cachex.testing import Server, servers

pytest.importorskip("prometheus_client")
pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def three() -> Iterator[list[Server]]:
    with servers(3) as nodes:
        yield nodes


class Observed:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])
        self.spans = InMemorySpanExporter()
        self.tracers = TracerProvider()
        self.tracers.add_span_processor(SimpleSpanProcessor(self.spans))

    def options(self) -> dict[str, Any]:
        return {"prometheus": {"registry": self.registry},
                "otel": {"meter_provider": self.meters, "tracer_provider": self.tracers}}

    def prom(self, name: str) -> list[tuple[dict[str, str], float]]:
        text = generate_latest(self.registry).decode()
        return [(s.labels, s.value) for fam in text_string_to_metric_families(text)
                for s in fam.samples if s.name == name]

    def otel(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        data = self.reader.get_metrics_data()
        out = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        out += [(dict(p.attributes), getattr(p, "value", getattr(p, "count", None)))
                                for p in metric.data.data_points]
        return out


def by_node(samples: list[tuple[dict[str, Any], float]], label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, value in samples:
        out[labels[label]] = out.get(labels[label], 0) + value
    return out


def make(nodes: list[Server], alias_options: dict[str, Any]) -> RedisCache:
    options = {"pool": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
               "failover": {"mode": "raise", "threshold": 3, "cooldown": 30}, **alias_options}
    return RedisCache([n.url for n in nodes], {"OPTIONS": options, "KEY_PREFIX": "m"})


def test_metrics_off_keeps_the_plain_router(three: list[Server]) -> None:
    plain = make(three, {})
    assert type(plain._router) is Router  # the hot path carries no metrics code
    on = make(three, {"metrics": {"prometheus": {"registry": CollectorRegistry()}}})
    assert isinstance(on._router, InstrumentedRouter)


def test_shard_outage_counted_on_the_right_node(three: list[Server]) -> None:
    seen = Observed()
    cache = make(three, {"metrics": seen.options()})
    topo = cache._topology
    keys: dict[str, list[str]] = {n.address: [] for n in three}
    i = 0
    while any(len(v) < 10 for v in keys.values()):
        key = f"k{i}"
        i += 1
        node = topo.locate(cache.make_key(key))
        if len(keys[node]) < 10:
            keys[node].append(key)
    every = [k for ks in keys.values() for k in ks]
    cache.set_many(dict.fromkeys(every, "v"))
    assert cache.get_many(every) == dict.fromkeys(every, "v")
    assert cache.get("absent") is None
    victim = three[1].address
    three[1].kill()
    failures = 0
    for key in every:
        try:
            cache.get(key)
        except ConnectionError:
            failures += 1

    async def async_part() -> int:
        failed = 0
        for key in keys[victim]:
            try:
                await cache.aget(key)
            except ConnectionError:
                failed += 1
        return failed

    failures += asyncio.run(async_part())
    assert failures == 20  # the victim's 10 keys, sync and async; the others answered

    # Prometheus, scraped through prometheus_client
    errors = by_node(seen.prom("cachex_errors_total"), "node")
    assert set(errors) == {victim} and errors[victim] >= 3
    failed_ops = {(lab["node"], lab["outcome"]) for lab, v in seen.prom("cachex_operations_total")
                  if lab["outcome"] != "ok" and v}
    assert {node for node, _ in failed_ops} == {victim}
    assert {outcome for _, outcome in failed_ops} <= {"ConnectionFailed", "NodeUnavailable"}
    ok = by_node([(lab, v) for lab, v in seen.prom("cachex_operations_total")
                  if lab["outcome"] == "ok" and lab["command"] == "MGET"], "node")
    assert set(ok) == {n.address for n in three}  # before the kill, the victim served too
    hits = sum(v for _, v in seen.prom("cachex_hits_total"))
    misses = sum(v for _, v in seen.prom("cachex_misses_total"))
    assert hits == 30 + 20 and misses == 1  # get_many(30) + 20 live gets; get("absent")
    assert [v for lab, v in seen.prom("cachex_breaker_transitions_total")
            if lab["to"] == "open"] == [1.0]
    assert dict((lab["node"], v) for lab, v in seen.prom("cachex_circuit_open")) == {victim: 1}
    assert sum(v for lab, v in seen.prom("cachex_failovers_total")
               if lab["node"] == victim and lab["action"] == "raise") == failures
    assert seen.prom("cachex_operation_duration_seconds_count")

    # OpenTelemetry, read through the in-memory reader
    otel_errors = by_node(seen.otel("cachex.errors"), "cachex.node")
    assert set(otel_errors) == {victim} and otel_errors[victim] == errors[victim]
    otel_failed = {a["cachex.node"] for a, v in seen.otel("cachex.operations")
                   if a["cachex.outcome"] != "ok" and v}
    assert otel_failed == {victim}
    events = {a["cachex.event"]: v for a, v in seen.otel("cachex.policy.events")}
    assert events["circuit_opens"] == 1

    # spans: one per operation, the node named, no key names by default
    spans = seen.spans.get_finished_spans()
    assert spans and all(s.name.startswith("cachex ") for s in spans)
    failed_spans = [s for s in spans if s.attributes["cachex.outcome"] != "ok"]
    assert len(failed_spans) == failures
    assert {s.attributes["cachex.node"] for s in failed_spans} == {victim}
    assert not any("k1" in str(v) for s in spans for v in s.attributes.values())


def test_fail_open_is_counted_as_such(three: list[Server]) -> None:
    seen = Observed()
    cache = make(three, {"metrics": {"prometheus": {"registry": seen.registry}},
                         "failover": {"mode": "fail_open", "threshold": 2, "cooldown": 30}})
    victim = three[0]
    key = next(f"x{i}" for i in range(1000)
               if cache._topology.locate(cache.make_key(f"x{i}")) == victim.address)
    victim.kill()
    for _ in range(4):
        assert cache.get(key) is None  # no error: failed open
    actions = {(lab["node"], lab["action"]): v for lab, v in seen.prom("cachex_failovers_total")}
    assert actions == {(victim.address, "fail_open"): 4.0}
    assert by_node(seen.prom("cachex_errors_total"), "node") == {victim.address: 2.0}
    from cachex.ops.commands import stats
    from cachex.ops.target import target_from_location

    report = stats(target_from_location([n.url for n in three], {
        "pool": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}))  # same servers
    assert report.data["operations"]["failovers"] == {f"{victim.address} fail_open": 4}


def rerouted_batches(cache: RedisCache, keys: list[str], asynchronous: bool) -> None:
    """get_many then set_many over every shard, sync or async: the first one meets the
    outage (retries, then the failover), the second one a suspect node (decided at once)."""
    if not asynchronous:
        cache.get_many(keys)
        cache.set_many(dict.fromkeys(keys, 1))
        return

    async def async_part() -> None:
        await cache.aget_many(keys)
        await cache.aset_many(dict.fromkeys(keys, 1))

    asyncio.run(async_part())


def assert_rerouted_on(seen: Observed, nodes: list[Server], victim: str,
                       expected: dict[tuple[str, str], float], case: str = "") -> None:
    """Prometheus and OpenTelemetry both count ``expected`` (command, outcome) on the
    victim, and only ``ok`` on the other nodes."""
    ops = {(lab["node"], lab["command"], lab["outcome"]): v
           for lab, v in seen.prom("cachex_operations_total") if v}
    assert {(c, o): v for (n, c, o), v in ops.items() if n == victim} == expected, case
    others = {n.address for n in nodes} - {victim}
    assert {(n, "MGET", "ok") for n in others} <= set(ops)
    assert not [k for k in ops if k[0] in others and k[2] != "ok"]
    otel: dict[tuple[str, str, str], float] = {}
    for a, v in seen.otel("cachex.operations"):
        if v:
            at = (a["cachex.node"], a["db.operation.name"], a["cachex.outcome"])
            otel[at] = otel.get(at, 0) + v
    assert otel == ops, case


def test_rerouted_calls_are_labelled_on_the_dead_node_only(three: list[Server]) -> None:
    """Circuit open after the first failure: the failover is decided before any I/O."""
    seen = Observed()
    cache = make(three, {"metrics": seen.options(),
                         "failover": {"mode": "reroute", "threshold": 1, "cooldown": 30}})
    topo = cache._topology
    victim = three[2].address
    keys = [f"r{i}" for i in range(60)]
    mine = [k for k in keys if topo.locate(cache.make_key(k)) == victim]
    three[2].kill()
    cache.get(mine[0])
    rerouted_batches(cache, keys, asynchronous=False)
    rerouted_batches(cache, keys, asynchronous=True)
    assert_rerouted_on(seen, three, victim, {("GET", "rerouted"): 1, ("MGET", "rerouted"): 2,
                                             ("SET", "rerouted"): 2})


def test_async_rerouted_batches_are_labelled_like_sync_ones(three: list[Server]) -> None:
    """A fresh outage (circuit closed): the first batch fails on the dead shard, is retried,
    then rerouted. With ``fast_path`` off, async runs one task per node, so that reroute is
    decided in a child task (the case once labelled ``ok``); with it on, in the batch's own
    coroutine. Each cache (own breaker) meets the outage afresh."""
    victim = three[0].address
    keys = [f"r{i}" for i in range(60)]
    three[0].kill()
    for fast_path in (False, True):
        for asynchronous in (False, True):
            seen = Observed()
            cache = make(three, {"metrics": seen.options(), "fast_path": fast_path,
                                 "failover": {"mode": "reroute", "threshold": 100,
                                              "cooldown": 30}})
            rerouted_batches(cache, keys, asynchronous)
            assert_rerouted_on(seen, three, victim, {("MGET", "rerouted"): 1,
                                                     ("SET", "rerouted"): 1},
                               f"fast_path={fast_path} async={asynchronous}")


def get_many(cache: Any, keys: list[str], asynchronous: bool) -> dict[str, Any]:
    return asyncio.run(cache.aget_many(keys)) if asynchronous else cache.get_many(keys)


@pytest.mark.parametrize("mode", ["reroute", "fail_open"])
def test_hits_and_misses_of_batches_served_by_a_failover(three: list[Server], settings: Any,
                                                         mode: str) -> None:
    """get_many over three shards with one dead: the keys the live shards served, the dead
    shard's keys rerouted (their stand-in's answers) or failed open (misses, as the caller
    sees them) are all counted, sync and async; read through ``cachex.metrics.snapshot`` /
    ``cachex.stats`` and scraped from the Prometheus collector."""
    from cachex import stats
    from cachex.metrics import snapshot

    victim = three[1]
    keys = [f"b{i}" for i in range(60)]
    stored = {k: i for i, k in enumerate(keys) if i % 2 == 0}
    registries: dict[str, Any] = {}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for asynchronous in (False, True):
        alias = f"{mode}_{'async' if asynchronous else 'sync'}"
        registries[alias] = CollectorRegistry()
        settings.CACHES = {**settings.CACHES, alias: {
            "BACKEND": "cachex.backends.redis.RedisCache", "LOCATION": [n.url for n in three],
            "KEY_PREFIX": "hm", "OPTIONS": {
                "pool": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
                "failover": {"mode": mode, "threshold": 100, "cooldown": 30},
                "metrics": {"prometheus": {"registry": registries[alias]}}}}}
    from django.core.cache import caches

    caches["reroute_sync" if mode == "reroute" else "fail_open_sync"].set_many(stored)
    victim.kill()
    for asynchronous in (False, True):
        alias = f"{mode}_{'async' if asynchronous else 'sync'}"
        cache = caches[alias]
        mine = [k for k in keys
                if cache._topology.locate(cache.make_key(k)) == victim.address]
        assert mine and len(mine) < len(keys)
        seen = [get_many(cache, keys, asynchronous)]  # the outage met: retries, failover
        cache.set_many({k: "again" for k in mine})  # rerouted to a stand-in, or dropped
        seen.append(get_many(cache, keys, asynchronous))  # reroute: found on the stand-in
        hits = sum(len(found) for found in seen)
        misses = 2 * len(keys) - hits
        if mode == "reroute":
            assert {k for k in mine if k in seen[1]} == set(mine)  # served, as hits
        else:
            assert not [k for k in mine if k in seen[0] or k in seen[1]]
        assert hits and misses
        got = snapshot(alias)
        assert (got["hits"], got["misses"]) == (hits, misses), alias
        outcome = "rerouted" if mode == "reroute" else "failed_open"
        assert got["operations"][f"{victim.address} MGET {outcome}"] == 2
        assert stats.snapshot(alias)["reroutes" if mode == "reroute" else "fail_open"] >= 2
        registry = registries[alias]
        scraped = {s.name: s.value for fam in text_string_to_metric_families(
            generate_latest(registry).decode()) for s in fam.samples
            if s.name in ("cachex_hits_total", "cachex_misses_total")}
        assert scraped == {"cachex_hits_total": hits, "cachex_misses_total": misses}, alias
