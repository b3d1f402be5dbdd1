"""A django-debug-toolbar panel: the cachex calls of one request, with node and timing.

Add ``"cachex.metrics.debug_toolbar.CachexPanel"`` to ``DEBUG_TOOLBAR_PANELS`` and set
``OPTIONS["metrics"] = {"debug_toolbar": True}`` on the aliases to watch (in development
settings: the panel sees only aliases whose router is instrumented).
"""

from __future__ import annotations

from typing import Any

from debug_toolbar.panels import Panel
from django.utils.html import format_html, format_html_join

from .recorder import current_calls


class CachexPanel(Panel):
    title = "cachex"
    nav_title = "cachex"

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()
        return f"{len(stats.get('calls', []))} calls in {stats.get('total_ms', 0):.2f} ms"

    def process_request(self, request: Any) -> Any:
        calls: list[dict[str, Any]] = []
        token = current_calls.set(calls)
        try:
            return super().process_request(request)
        finally:
            current_calls.reset(token)
            self.record_stats({"calls": calls,
                               "total_ms": round(sum(c["ms"] for c in calls), 3)})

    @property
    def content(self) -> str:
        calls = self.get_stats().get("calls", [])
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((c["alias"], c["topology"], c["node"], c["command"], c["outcome"],
              f"{c['ms']:.3f}")
             for c in calls))
        return format_html(
            "<table><thead><tr><th>Alias</th><th>Topology</th><th>Node</th><th>Command</th>"
            "<th>Outcome</th><th>ms</th></tr></thead><tbody>{}</tbody></table>", rows)
