"""Optional metrics for cachex aliases: Prometheus, OpenTelemetry, the debug toolbar panel.

Off by default. With ``OPTIONS["metrics"]`` set, the alias gets an ``InstrumentedRouter`` (a
``Router`` subclass that times each operation and reports it); without it the plain
``Router`` runs, so an alias without metrics executes no metrics code at all.
"""

from __future__ import annotations

from .options import MetricsOptions, parse_metrics
from .recorder import InstrumentedRouter, instrument, snapshot

__all__ = ["InstrumentedRouter", "MetricsOptions", "instrument", "parse_metrics", "snapshot"]
