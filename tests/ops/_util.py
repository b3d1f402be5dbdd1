"""Helpers for the operations tests: run a command as a user would and read its JSON."""

from __future__ import annotations

import io
import json
from typing import Any

from cachex.ops import cli
from tests import labs


def run(command: str, location: Any, options: dict[str, Any] | None = None,
        *extra: str) -> tuple[int, dict[str, Any]]:
    """``python -m cachex <command> --location ... --json`` in-process: (exit code, report)."""
    loc = location if isinstance(location, str) else ",".join(location)
    out = io.StringIO()
    code = cli.main([command, "--location", loc, "--options", json.dumps(options or {}),
                     "--json", "--timeout", "0.5", *extra], out=out)
    data = json.loads(out.getvalue())
    assert data["exit_code"] == code
    return code, data["reports"][0]


def ids(report: dict[str, Any]) -> set[str]:
    return {f["id"] for f in report["findings"]}


def lab_target(topology: str) -> tuple[Any, dict[str, Any]]:
    return labs.location(topology), labs.options(topology)
