"""``OPTIONS["near_cache"]``: parsed and checked once, at start-up.

Shape (every key optional; ``True`` or ``{}`` takes every default)::

    OPTIONS = {"near_cache": {
        "max_entries": 10_000,      # LRU bound on the number of values kept in process
        "max_bytes": 64 * 2**20,    # LRU bound on their encoded size
        "prefixes": ["myapp:"],     # tracked key prefixes (default: KEY_PREFIX + ":")
        "ttl": 300,                 # longest a value is served locally (seconds, or None)
    }}

Only keys that start with one of ``prefixes`` are kept: the server announces changes for
those prefixes only (``CLIENT TRACKING ... BCAST PREFIX``), so a key outside them could go
stale unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError

KEYS = ("max_entries", "max_bytes", "prefixes", "ttl")
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_BYTES = 64 * 2**20


@dataclass(frozen=True)
class NearOptions:
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    prefixes: tuple[str, ...] = (":",)
    ttl: float | None = None


def _positive_int(raw: Mapping[str, Any], name: str, default: int) -> int:
    value = raw.get(name, default)
    if type(value) is not int or value <= 0:
        raise ConfigError(f"OPTIONS['near_cache'][{name!r}] must be a positive int, got "
                          f"{value!r}: write e.g. {{{name!r}: {default}}}")
    return value


def parse_near(raw: Any, key_prefix: str) -> NearOptions | None:
    """None when the option is absent or false; else the checked options (ConfigError)."""
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("OPTIONS['near_cache'] must be a dict (or True for the defaults), "
                          f"got {type(raw).__name__}: write {{'near_cache': {{'max_entries': "
                          f"{DEFAULT_MAX_ENTRIES}}}}}")
    unknown = sorted(set(map(str, raw)) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown OPTIONS['near_cache'] key(s) {', '.join(unknown)}; "
                          f"accepted keys: {', '.join(KEYS)}")
    max_entries = _positive_int(raw, "max_entries", DEFAULT_MAX_ENTRIES)
    max_bytes = _positive_int(raw, "max_bytes", DEFAULT_MAX_BYTES)
    prefixes = raw.get("prefixes", [f"{key_prefix}:"])
    if isinstance(prefixes, str) or not isinstance(prefixes, (list, tuple)) or not prefixes \
            or not all(isinstance(p, str) for p in prefixes):
        raise ConfigError("OPTIONS['near_cache']['prefixes'] must be a non-empty list of "
                          f"strings, got {prefixes!r}: write e.g. {{'prefixes': "
                          f"[{key_prefix + ':'!r}]}}")
    for a in prefixes:
        for b in prefixes:
            if a is not b and b.startswith(a):
                raise ConfigError(f"OPTIONS['near_cache']['prefixes'] overlap ({a!r} covers "
                                  f"{b!r}); the server refuses overlapping prefixes: keep "
                                  f"only {a!r}")
    ttl = raw.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))
                            or ttl <= 0):
        raise ConfigError(f"OPTIONS['near_cache']['ttl'] must be a positive number of seconds "
                          f"or None, got {ttl!r}: write e.g. {{'ttl': 300}}")
    return NearOptions(max_entries, max_bytes, tuple(dict.fromkeys(prefixes)),
                       None if ttl is None else float(ttl))
