"""Operating cachex: what its nodes are doing, seen from outside the request path.

``cachex.ops`` backs ``manage.py cachex <command>`` and ``python -m cachex <command>``. It
opens its own short-lived connections (small timeouts, no retries, no breaker) so that looking
at a sick cache never waits on, or disturbs, the connections the site serves traffic with.
"""

from __future__ import annotations

from .report import EXIT_DEGRADED, EXIT_ERROR, EXIT_OK, EXIT_USAGE, Finding, Report
from .target import Target, django_targets, target_from_location

__all__ = [
    "EXIT_DEGRADED",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "Finding",
    "Report",
    "Target",
    "django_targets",
    "target_from_location",
]
