"""Prometheus metrics on ``prometheus_client`` (``pip install 'django-cachex-router[prometheus]'``).

Per-operation counters and latency histograms are updated as calls finish; the policy's own
counters (``cachex.stats``: retries, circuit openings, ...) and each node's circuit state are
read by a collector at scrape time, so they cost nothing between scrapes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .options import MetricsOptions
    from .recorder import InstrumentedRouter

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
           1.0, 2.5, 5.0)

_lock = threading.Lock()
_per_registry: dict[int, _Metrics] = {}


class _Metrics:
    """The metric objects of one registry (prometheus_client refuses duplicates)."""

    def __init__(self, registry: Any) -> None:
        self.operations = Counter(
            "cachex_operations", "Cache operations by node, command and outcome",
            ["alias", "topology", "node", "command", "outcome"], registry=registry)
        self.duration = Histogram(
            "cachex_operation_duration_seconds", "Time of a cache operation (a batch per node)",
            ["alias", "topology", "command"], buckets=BUCKETS, registry=registry)
        self.hits = Counter("cachex_hits", "Keys found by get/get_many",
                            ["alias", "topology"], registry=registry)
        self.misses = Counter("cachex_misses", "Keys not found by get/get_many",
                              ["alias", "topology"], registry=registry)
        self.errors = Counter("cachex_errors", "Failed attempts by node and error kind "
                              "(retried ones included)",
                              ["alias", "topology", "node", "kind"], registry=registry)
        self.failovers = Counter("cachex_failovers", "Failover decisions after retries: "
                                 "fail_open, reroute or raise",
                                 ["alias", "topology", "node", "action"], registry=registry)
        self.routers: list[InstrumentedRouter] = []
        registry.register(PolicyCollector(self))


def metrics_for(registry: Any) -> _Metrics:
    with _lock:
        found = _per_registry.get(id(registry))
        if found is None:
            found = _per_registry[id(registry)] = _Metrics(registry)
        return found


class PolicyCollector(Collector):
    """Read at scrape time: the policy counters and circuit states of every router."""

    def __init__(self, metrics: _Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        events = CounterMetricFamily("cachex_policy_events", "cachex.stats counters: retries, "
                                     "give_ups, circuit_opens, circuit_closes, short_circuits, "
                                     "reroutes, fail_open (and any later event)",
                                     labels=["alias", "event"])
        retries = CounterMetricFamily("cachex_retries", "Attempts made after a first failure",
                                      labels=["alias"])
        transitions = CounterMetricFamily("cachex_breaker_transitions",
                                          "Circuit breaker state changes", labels=["alias", "to"])
        circuit = GaugeMetricFamily("cachex_circuit_open", "1 while a node's circuit is open "
                                    "or half-open in this process", labels=["alias", "node"])
        with _lock:
            routers = list(self.metrics.routers)
        seen: set[str] = set()
        for router in routers:
            alias = router.alias
            if alias in seen:
                continue
            seen.add(alias)
            counts = router.stats.snapshot()
            for event, n in counts.items():
                events.add_metric([alias, event], n)
            retries.add_metric([alias], counts.get("retries", 0))
            transitions.add_metric([alias, "open"], counts.get("circuit_opens", 0))
            transitions.add_metric([alias, "closed"], counts.get("circuit_closes", 0))
            breaker = router.breaker
            if breaker is not None:
                for node in list(breaker.suspects):
                    state = breaker.state(node)
                    circuit.add_metric([alias, router.node_name(node)],
                                       0 if state == "closed" else 1)
        yield from (events, retries, transitions, circuit)


class PrometheusSink:
    def __init__(self, router: InstrumentedRouter, options: MetricsOptions) -> None:
        self.m = metrics_for(options.registry if options.registry is not None else REGISTRY)
        with _lock:
            self.m.routers.append(router)
        self.alias = router.alias
        self.topology = router.topology.name
        self._ops: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[str, Any] = {}
        self._hits = self.m.hits.labels(self.alias, self.topology)
        self._misses = self.m.misses.labels(self.alias, self.topology)

    def op(self, node: str, command: str, outcome: str, seconds: float, hits: int,
           misses: int) -> None:
        key = (node, command, outcome)
        counter = self._ops.get(key)
        if counter is None:
            counter = self._ops[key] = self.m.operations.labels(
                self.alias, self.topology, node, command, outcome)
        counter.inc()
        hist = self._durations.get(command)
        if hist is None:
            hist = self._durations[command] = self.m.duration.labels(
                self.alias, self.topology, command)
        hist.observe(seconds)
        if hits:
            self._hits.inc(hits)
        if misses:
            self._misses.inc(misses)

    def error(self, node: str, kind: str) -> None:
        self.m.errors.labels(self.alias, self.topology, node, kind).inc()

    def failover(self, node: str, action: str) -> None:
        self.m.failovers.labels(self.alias, self.topology, node, action).inc()
