"""What every ``cachex`` command returns: data for ``--json``, findings, an exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Exit codes (documented in docs/operations.md): scripts and health checks rely on them.
EXIT_OK = 0        # everything answered, nothing to report
EXIT_DEGRADED = 1  # served, but something needs attention (a warning, a replica down, ...)
EXIT_ERROR = 2     # something cannot work: a node holding data unreachable, a bad config
EXIT_USAGE = 3     # the command itself was wrong: unknown alias, wrong topology, bad arguments

SEVERITY_EXIT = {"info": EXIT_OK, "warning": EXIT_DEGRADED, "error": EXIT_ERROR}


@dataclass
class Finding:
    """One thing worth telling an operator, with what to do about it."""

    id: str        # stable: "cachex.W001", "cachex.E010", ...
    severity: str  # "error" | "warning" | "info"
    message: str
    fix: str = ""
    node: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "severity": self.severity, "message": self.message,
               "fix": self.fix}
        if self.node is not None:
            out["node"] = self.node
        return out


@dataclass
class Report:
    """One command's result for one alias."""

    command: str
    alias: str
    data: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    usage_error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.usage_error is not None:
            return EXIT_USAGE
        return max((SEVERITY_EXIT.get(f.severity, EXIT_OK) for f in self.findings),
                   default=EXIT_OK)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"command": self.command, "alias": self.alias,
                               "exit_code": self.exit_code, **self.data,
                               "findings": [f.as_dict() for f in self.findings]}
        if self.usage_error is not None:
            out["usage_error"] = self.usage_error
        return out
