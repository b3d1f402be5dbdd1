"""Prometheus metrics on ``prometheus_client`` (``pip install 'django-cachex-router[prometheus]'``).

A collector registered once per registry reads, at scrape time, the totals every instrumented
router keeps anyway (``InstrumentedRouter.local``) and the policy's own counters
(``cachex.stats``) and circuit states. Nothing is pushed per operation, so turning Prometheus on
adds no work to a cache call beyond what any metrics integration does.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from .recorder import BUCKETS

if TYPE_CHECKING:
    from .options import MetricsOptions
    from .recorder import InstrumentedRouter

_lock = threading.Lock()
_collectors: dict[int, CachexCollector] = {}


class CachexCollector(Collector):
    """Every metric of every instrumented router attached to one registry."""

    def __init__(self) -> None:
        self.routers: weakref.WeakSet[InstrumentedRouter] = weakref.WeakSet()

    def collect(self) -> Iterator[Any]:
        ops = CounterMetricFamily("cachex_operations", "Cache operations by node, command and "
                                  "outcome (ok, failed_open or the error class)",
                                  labels=["alias", "topology", "node", "command", "outcome"])
        duration = HistogramMetricFamily("cachex_operation_duration_seconds",
                                         "Time of a cache operation (a batch per node)",
                                         labels=["alias", "topology", "command"])
        hits = CounterMetricFamily("cachex_hits", "Keys found by get/get_many",
                                   labels=["alias", "topology"])
        misses = CounterMetricFamily("cachex_misses", "Keys not found by get/get_many",
                                     labels=["alias", "topology"])
        errors = CounterMetricFamily("cachex_errors", "Failed attempts by node and error kind "
                                     "(retried ones included)",
                                     labels=["alias", "topology", "node", "kind"])
        failovers = CounterMetricFamily("cachex_failovers", "Failover decisions after "
                                        "retries: fail_open, reroute or raise",
                                        labels=["alias", "topology", "node", "action"])
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
        near = CounterMetricFamily("cachex_near_events", "Near cache counters (hits are not "
                                   "in cachex_hits: they never reach the router): hits, "
                                   "misses, fills, invalidations, evictions, expired, "
                                   "flushes (and flushes_<reason>), drops",
                                   labels=["alias", "event"])
        near_size = GaugeMetricFamily("cachex_near_size", "What the near cache holds now: "
                                      "entries, bytes, channels_up", labels=["alias", "what"])
        with _lock:
            routers = list(self.routers)
        sums: dict[str, dict[tuple[str, ...], Any]] = {
            name: {} for name in ("ops", "hits", "misses", "errors", "failovers", "events",
                                  "buckets", "sums")}

        def add(name: str, labels: tuple[str, ...], value: Any) -> None:
            table = sums[name]
            if isinstance(value, list):
                old = table.get(labels)
                table[labels] = value if old is None else [a + b for a, b in zip(old, value)]
            else:
                table[labels] = table.get(labels, 0) + value

        stats_seen: set[int] = set()
        for router in routers:
            alias, topo = router.alias, router.topology.name
            c = router.local.copy()
            for (node, command, outcome), n in c["ops"].items():
                add("ops", (alias, topo, node, command, outcome), n)
            for command, counts in c["buckets"].items():
                add("buckets", (alias, topo, command), counts)
                add("sums", (alias, topo, command), c["sums"][command])
            add("hits", (alias, topo), c["hits"])
            add("misses", (alias, topo), c["misses"])
            for (node, kind), n in c["errors"].items():
                add("errors", (alias, topo, node, kind), n)
            for (node, action), n in c["failovers"].items():
                add("failovers", (alias, topo, node, action), n)
            if id(router.stats) not in stats_seen:
                stats_seen.add(id(router.stats))
                for event, n in router.stats.snapshot().items():
                    add("events", (alias, event), n)
            breaker = router.breaker
            if breaker is not None:
                for node in list(breaker.suspects):
                    state = breaker.state(node)
                    circuit.add_metric([alias, router.node_name(node)],
                                       0 if state == "closed" else 1)
        for labels, n in sums["ops"].items():
            ops.add_metric(list(labels), n)
        for labels, counts in sums["buckets"].items():
            cumulative, total = [], 0
            for bound, n in zip([*map(str, BUCKETS), "+Inf"], counts):
                total += n
                cumulative.append((bound, total))
            duration.add_metric(list(labels), cumulative, sums["sums"][labels])
        for labels, n in sums["hits"].items():
            hits.add_metric(list(labels), n)
        for labels, n in sums["misses"].items():
            misses.add_metric(list(labels), n)
        for labels, n in sums["errors"].items():
            errors.add_metric(list(labels), n)
        for labels, n in sums["failovers"].items():
            failovers.add_metric(list(labels), n)
        per_alias: dict[str, dict[str, int]] = {}
        for (alias, event), n in sums["events"].items():
            events.add_metric([alias, event], n)
            per_alias.setdefault(alias, {})[event] = n
        for alias, counts in per_alias.items():
            retries.add_metric([alias], counts.get("retries", 0))
            transitions.add_metric([alias, "open"], counts.get("circuit_opens", 0))
            transitions.add_metric([alias, "closed"], counts.get("circuit_closes", 0))
        from ..near.core import live  # OPTIONS["near_cache"]: docs/near-cache.md

        for alias in sorted({router.alias for router in routers}):
            totals: dict[str, int] = {}
            for cache in live(alias):
                for name, n in cache.stats().items():
                    totals[name] = totals.get(name, 0) + n
            for name, n in totals.items():
                if name in ("entries", "bytes", "channels_up"):
                    near_size.add_metric([alias, name], n)
                else:
                    near.add_metric([alias, name], n)
        yield from (ops, duration, hits, misses, errors, failovers, events, retries,
                    transitions, circuit, near, near_size)


def collector_for(registry: Any) -> CachexCollector:
    with _lock:
        found = _collectors.get(id(registry))
        if found is None:
            found = _collectors[id(registry)] = CachexCollector()
            registry.register(found)
        return found


class PrometheusSink:
    """Attaches a router to its registry's collector; the collector does the rest."""

    def __init__(self, router: InstrumentedRouter, options: MetricsOptions) -> None:
        registry = options.registry if options.registry is not None else REGISTRY
        collector = collector_for(registry)
        with _lock:
            collector.routers.add(router)
