"""OpenTelemetry metrics and spans (``pip install 'django-cachex-router[otel]'``).

Instruments come from the given ``meter_provider`` (else OpenTelemetry's global one); spans,
one per operation, from ``tracer_provider`` (else the global one). Attributes: ``cachex.alias``,
``cachex.topology``, ``cachex.node``, ``db.operation.name`` (the command), ``cachex.outcome``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace

from .. import __version__

if TYPE_CHECKING:
    from .options import MetricsOptions
    from .recorder import InstrumentedRouter

_lock = threading.Lock()
_per_provider: dict[int, _Instruments] = {}


class _Instruments:
    """One provider's instruments. Counters are observable (read from each router's totals
    at collection time); only the latency histogram is recorded per operation."""

    def __init__(self, provider: Any) -> None:
        meter = provider.get_meter("cachex", __version__)
        self.duration = meter.create_histogram(
            "cachex.operation.duration", unit="s",
            description="Time of a cache operation (a batch per node)")
        self.routers: weakref.WeakSet[InstrumentedRouter] = weakref.WeakSet()
        meter.create_observable_counter(
            "cachex.operations", callbacks=[self._operations], unit="{operation}",
            description="Cache operations by node, command and outcome")
        meter.create_observable_counter("cachex.hits", callbacks=[self._hits], unit="{key}")
        meter.create_observable_counter("cachex.misses", callbacks=[self._misses],
                                        unit="{key}")
        meter.create_observable_counter(
            "cachex.errors", callbacks=[self._errors], unit="{attempt}",
            description="Failed attempts by node and error kind (retried ones included)")
        meter.create_observable_counter(
            "cachex.failovers", callbacks=[self._failovers], unit="{decision}",
            description="Failover decisions after retries: fail_open, reroute or raise")
        meter.create_observable_counter(
            "cachex.policy.events", callbacks=[self._policy_events], unit="{event}",
            description="cachex.stats counters: retries, circuit opens/closes, ...")

    def _each(self) -> Iterator[tuple[dict[str, Any], dict[str, Any], Any]]:
        with _lock:
            routers = list(self.routers)
        for router in routers:
            base = {"cachex.alias": router.alias, "cachex.topology": router.topology.name}
            yield base, router.local.copy(), router

    def _operations(self, options: Any) -> Iterator[Any]:
        totals: dict[tuple[Any, ...], int] = {}
        for base, c, _ in self._each():
            for (node, command, outcome), n in c["ops"].items():
                key = (*base.values(), node, command, outcome)
                totals[key] = totals.get(key, 0) + n
        for (alias, topo, node, command, outcome), n in totals.items():
            yield metrics.Observation(n, {"cachex.alias": alias, "cachex.topology": topo,
                                          "cachex.node": node, "db.operation.name": command,
                                          "cachex.outcome": outcome})

    def _keyed(self, field: str, names: tuple[str, str]) -> Iterator[Any]:
        totals: dict[tuple[Any, ...], int] = {}
        for base, c, _ in self._each():
            for (a, b), n in c[field].items():
                key = (*base.values(), a, b)
                totals[key] = totals.get(key, 0) + n
        for (alias, topo, a, b), n in totals.items():
            yield metrics.Observation(n, {"cachex.alias": alias, "cachex.topology": topo,
                                          names[0]: a, names[1]: b})

    def _errors(self, options: Any) -> Iterator[Any]:
        return self._keyed("errors", ("cachex.node", "error.type"))

    def _failovers(self, options: Any) -> Iterator[Any]:
        return self._keyed("failovers", ("cachex.node", "cachex.action"))

    def _count(self, field: str) -> Iterator[Any]:
        totals: dict[tuple[Any, ...], int] = {}
        for base, c, _ in self._each():
            key = tuple(base.values())
            totals[key] = totals.get(key, 0) + c[field]
        for (alias, topo), n in totals.items():
            yield metrics.Observation(n, {"cachex.alias": alias, "cachex.topology": topo})

    def _hits(self, options: Any) -> Iterator[Any]:
        return self._count("hits")

    def _misses(self, options: Any) -> Iterator[Any]:
        return self._count("misses")

    def _policy_events(self, options: Any) -> Iterator[Any]:
        seen: set[int] = set()
        for _, _, router in self._each():
            if id(router.stats) in seen:
                continue
            seen.add(id(router.stats))
            for event, n in router.stats.snapshot().items():
                yield metrics.Observation(n, {"cachex.alias": router.alias,
                                              "cachex.event": event})


def instruments_for(provider: Any) -> _Instruments:
    with _lock:
        found = _per_provider.get(id(provider))
        if found is None:
            found = _per_provider[id(provider)] = _Instruments(provider)
        return found


class OtelSink:
    def __init__(self, router: InstrumentedRouter, options: MetricsOptions) -> None:
        provider = options.meter_provider or metrics.get_meter_provider()
        self.i = instruments_for(provider)
        with _lock:
            self.i.routers.add(router)
        self.base = {"cachex.alias": router.alias, "cachex.topology": router.topology.name}
        self._record = self.i.duration.record
        self._attrs: dict[str, dict[str, Any]] = {}
        self.traces = options.spans
        self.key_names = options.key_names
        tracer_provider = options.tracer_provider or trace.get_tracer_provider()
        self.tracer = tracer_provider.get_tracer("cachex", __version__)

    def op(self, node: str, command: str, outcome: str, seconds: float, hits: int,
           misses: int) -> None:
        attrs = self._attrs.get(command)
        if attrs is None:
            attrs = self._attrs[command] = {**self.base, "db.operation.name": command}
        self._record(seconds, attrs)

    def error(self, node: str, kind: str) -> None:
        """Counted from the router's totals at collection time."""

    def failover(self, node: str, action: str) -> None:
        """Counted from the router's totals at collection time."""

    # -- spans ---------------------------------------------------------------------------
    @contextmanager
    def span(self, command: str, node: str, key: str | None) -> Iterator[Any]:
        attrs = {**self.base, "cachex.node": node, "db.operation.name": command,
                 "db.system.name": "redis"}
        if self.key_names and key is not None:
            attrs["cachex.key"] = key
        with self.tracer.start_as_current_span(f"cachex {command}", kind=trace.SpanKind.CLIENT,
                                               attributes=attrs,
                                               record_exception=False,
                                               set_status_on_exception=False) as span:
            yield span

    def finish(self, span: Any, outcome: str, exc: BaseException | None = None) -> None:
        span.set_attribute("cachex.outcome", outcome)
        if exc is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
