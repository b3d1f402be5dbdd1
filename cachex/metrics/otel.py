"""OpenTelemetry metrics and spans (``pip install 'django-cachex-router[otel]'``).

Instruments come from the given ``meter_provider`` (else OpenTelemetry's global one); spans,
one per operation, from ``tracer_provider`` (else the global one). Attributes: ``cachex.alias``,
``cachex.topology``, ``cachex.node``, ``db.operation.name`` (the command), ``cachex.outcome``.
"""

from __future__ import annotations

import threading
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
    def __init__(self, provider: Any) -> None:
        meter = provider.get_meter("cachex", __version__)
        self.operations = meter.create_counter(
            "cachex.operations", unit="{operation}",
            description="Cache operations by node, command and outcome")
        self.duration = meter.create_histogram(
            "cachex.operation.duration", unit="s",
            description="Time of a cache operation (a batch per node)")
        self.hits = meter.create_counter("cachex.hits", unit="{key}")
        self.misses = meter.create_counter("cachex.misses", unit="{key}")
        self.errors = meter.create_counter(
            "cachex.errors", unit="{attempt}",
            description="Failed attempts by node and error kind (retried ones included)")
        self.failovers = meter.create_counter(
            "cachex.failovers", unit="{decision}",
            description="Failover decisions after retries: fail_open, reroute or raise")
        self.routers: list[InstrumentedRouter] = []
        meter.create_observable_counter(
            "cachex.policy.events", callbacks=[self._policy_events], unit="{event}",
            description="cachex.stats counters: retries, circuit opens/closes, ...")

    def _policy_events(self, options: Any) -> Iterator[Any]:
        with _lock:
            routers = list(self.routers)
        for router in routers:
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
            self.i.routers.append(router)
        self.base = {"cachex.alias": router.alias, "cachex.topology": router.topology.name}
        self.traces = options.spans
        self.key_names = options.key_names
        tracer_provider = options.tracer_provider or trace.get_tracer_provider()
        self.tracer = tracer_provider.get_tracer("cachex", __version__)

    def op(self, node: str, command: str, outcome: str, seconds: float, hits: int,
           misses: int) -> None:
        attrs = {**self.base, "cachex.node": node, "db.operation.name": command,
                 "cachex.outcome": outcome}
        self.i.operations.add(1, attrs)
        self.i.duration.record(seconds, {**self.base, "db.operation.name": command})
        if hits:
            self.i.hits.add(hits, self.base)
        if misses:
            self.i.misses.add(misses, self.base)

    def error(self, node: str, kind: str) -> None:
        self.i.errors.add(1, {**self.base, "cachex.node": node, "error.type": kind})

    def failover(self, node: str, action: str) -> None:
        self.i.failovers.add(1, {**self.base, "cachex.node": node, "cachex.action": action})

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
