"""Which cache a command looks at: a Django CACHES alias, or a LOCATION given by hand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..backends.parse import AliasConfigError, parse_alias
from ..compat.options import apply as compat_options
from ..config import Settings, parse_settings
from ..drivers import Driver, redis_driver, valkey_driver

BACKENDS = {"redis": "cachex.backends.redis.RedisCache",
            "valkey": "cachex.backends.valkey.ValkeyCache"}


@dataclass
class Target:
    """One cachex alias as a command sees it. ``problem`` is set when the backend could not
    be built from it; ``error`` too (and ``settings`` is None) when not even LOCATION parses:
    commands and checks report them instead of raising."""

    alias: str
    driver_name: str
    location: Any
    options: Mapping[str, Any]
    key_prefix: str = ""
    version: int = 1
    settings: Settings | None = None
    error: str | None = None
    problem: AliasConfigError | None = None  # what the backend would refuse, if anything
    conf: Mapping[str, Any] = field(default_factory=dict)

    @property
    def driver(self) -> Driver:
        return valkey_driver() if self.driver_name == "valkey" else redis_driver()

    @property
    def key_pattern(self) -> str:
        """SCAN pattern of the keys Django's default key function makes for this alias."""
        return f"{_glob_escape(self.key_prefix)}:*"


def driver_of(backend: Any) -> str | None:
    """``"redis"``/``"valkey"`` for a cachex BACKEND (a path or a class), None otherwise."""
    if not isinstance(backend, str):
        backend = f"{getattr(backend, '__module__', '')}.{getattr(backend, '__name__', '')}"
    for name, path in BACKENDS.items():
        if backend == path:
            return name
    try:
        from django.utils.module_loading import import_string

        from ..backends.base import CachexCache

        cls = import_string(backend)
    except Exception:
        return None
    if isinstance(cls, type) and issubclass(cls, CachexCache):
        factory = getattr(cls.driver_factory, "__name__", "")
        return "valkey" if "valkey" in factory else "redis"
    return None


def make_target(alias: str, conf: Mapping[str, Any], driver_name: str) -> Target:
    location = conf.get("LOCATION", "")
    options = conf.get("OPTIONS") or {}
    target = Target(alias, driver_name, location, options,
                    key_prefix=str(conf.get("KEY_PREFIX", "") or ""),
                    version=int(conf.get("VERSION", 1) or 1), conf=conf)
    try:
        target.settings = parse_alias(alias, location, conf, warn=False).settings
        return target
    except AliasConfigError as exc:
        target.problem = exc
    try:  # LOCATION alone may still parse: the live commands can look at the nodes
        target.settings = parse_settings(alias, *compat_options(alias, location, options,
                                                                warn=False))
    except ImproperlyConfigured as exc:
        target.error = str(exc)
    return target


def django_targets(aliases: list[str] | None = None) -> tuple[list[Target], list[str]]:
    """Targets for the cachex aliases of ``settings.CACHES`` (all of them when ``aliases``
    is empty), and the names asked for that are not cachex aliases."""
    from django.conf import settings

    caches: Mapping[str, Any] = getattr(settings, "CACHES", {}) or {}
    out: list[Target] = []
    unknown: list[str] = []
    for alias in aliases or list(caches):
        conf = caches.get(alias)
        driver = driver_of(conf.get("BACKEND", "")) if isinstance(conf, Mapping) else None
        if conf is None or driver is None:
            if aliases:
                unknown.append(alias)
            continue
        out.append(make_target(alias, conf, driver))
    return out, unknown


def target_from_location(location: Any, options: Mapping[str, Any] | None = None, *,
                         alias: str = "cli", driver: str = "redis",
                         key_prefix: str = "", version: int = 1) -> Target:
    """A target without a Django project: LOCATION and OPTIONS given directly."""
    conf = {"LOCATION": location, "OPTIONS": dict(options or {}), "KEY_PREFIX": key_prefix,
            "VERSION": version}
    return make_target(alias, conf, driver)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
