"""What the numbers were measured on: CPU, cores, load, Python, server and package versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("django", "redis", "valkey", "django-redis", "django-valkey", "hiredis",
            "libvalkey", "asgiref", "uhashring", "tenacity", "matplotlib")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        import cachex

        out["cachex"] = getattr(cachex, "__version__", None)
    except ImportError:
        out["cachex"] = None
    return out


def server_version() -> str:
    try:
        from cachex.testing import find_binaries

        b = find_binaries()
        return f"{b.flavor}-server {'.'.join(map(str, b.version))}"
    except Exception as exc:
        return f"unknown ({exc})"


def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "cachex"],
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip() or None
    if commit and dirty.stdout.strip():
        commit += " (cachex/ modified)"
    return commit


def load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def info() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "server": server_version(),
        "packages": versions(),
        "git": git_commit(),
        "load_before": load(),
    }
