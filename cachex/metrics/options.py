"""``OPTIONS["metrics"]`` -> ``MetricsOptions``. Pure validation (imports checked on request)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..optioncheck import reject_unknown

METRICS_KEYS = ("prometheus", "otel", "debug_toolbar", "key_names")
PROMETHEUS_KEYS = ("registry",)
OTEL_KEYS = ("meter_provider", "tracer_provider", "spans")


@dataclass(frozen=True)
class MetricsOptions:
    prometheus: bool = False
    registry: Any = None  # a prometheus_client CollectorRegistry; None: the default REGISTRY
    otel: bool = False
    meter_provider: Any = None  # None: opentelemetry's global provider
    tracer_provider: Any = None
    spans: bool = True
    debug_toolbar: bool = False
    key_names: bool = False  # spans carry the cache key only when asked

    @property
    def enabled(self) -> bool:
        return self.prometheus or self.otel or self.debug_toolbar


def _section(raw: Any, name: str, keys: tuple[str, ...]) -> Mapping[str, Any] | None:
    if raw in (None, False):
        return None
    if raw is True:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"OPTIONS['metrics'][{name!r}] must be True, False or a dict, "
                         f"got {raw!r}")
    reject_unknown(raw, keys, f"OPTIONS['metrics'][{name!r}]")
    return raw


def parse_metrics(raw: Any, *, check_imports: bool = False) -> MetricsOptions:
    """Validate ``OPTIONS["metrics"]``; ValueError names the bad key, ImportError the extra."""
    if raw in (None, False):
        return MetricsOptions()
    if isinstance(raw, MetricsOptions):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueError("OPTIONS['metrics'] must be a dict such as {'prometheus': True} or "
                         f"{{'otel': True}}, got {raw!r}")
    reject_unknown(raw, METRICS_KEYS, "OPTIONS['metrics']")
    prom = _section(raw.get("prometheus"), "prometheus", PROMETHEUS_KEYS)
    otel = _section(raw.get("otel"), "otel", OTEL_KEYS)
    for flag in ("debug_toolbar", "key_names"):
        if not isinstance(raw.get(flag, False), bool):
            raise ValueError(f"OPTIONS['metrics'][{flag!r}] must be True or False")
    if otel is not None and not isinstance(otel.get("spans", True), bool):
        raise ValueError("OPTIONS['metrics']['otel']['spans'] must be True or False")
    opts = MetricsOptions(
        prometheus=prom is not None, registry=(prom or {}).get("registry"),
        otel=otel is not None, meter_provider=(otel or {}).get("meter_provider"),
        tracer_provider=(otel or {}).get("tracer_provider"),
        spans=bool((otel or {}).get("spans", True)),
        debug_toolbar=bool(raw.get("debug_toolbar", False)),
        key_names=bool(raw.get("key_names", False)))
    if check_imports:
        _need(opts.prometheus, "prometheus_client", "prometheus")
        _need(opts.otel, "opentelemetry.metrics", "otel")
    return opts


def _need(wanted: bool, module: str, extra: str) -> None:
    if not wanted:
        return
    try:
        importlib.import_module(module)
    except ImportError:
        raise ImportError(f"OPTIONS['metrics'][{extra!r}] needs {module.split('.')[0]}: "
                          f"pip install 'django-cachex-router[{extra}]'") from None
