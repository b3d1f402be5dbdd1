"""Per-alias state shared by every backend instance of that alias, built once per process.

Django creates a backend instance per thread and per async task, so ``__init__`` must be
cheap: it looks the alias up here instead of re-parsing settings or opening pools.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..codec import Codec
from ..config import Settings
from ..drivers import Driver
from ..near import NearCache
from ..policy import build_policy
from ..router import Router
from ..stampede.options import StampedeOptions
from ..topology import topology_for
from .parse import parse_alias


@dataclass(frozen=True)
class AliasState:
    alias: str
    settings: Settings
    codec: Codec
    router: Router
    stampede: StampedeOptions | None = None
    near: NearCache | None = None  # OPTIONS["near_cache"], one per alias per process


_lock = threading.Lock()
_states: dict[str, AliasState] = {}


def alias_state(driver_factory: Callable[[], Driver], location: Any,
                params: Mapping[str, Any]) -> AliasState:
    key = f"{driver_factory.__name__}|{location!r}|{sorted(params.items(), key=str)!r}"
    state = _states.get(key)
    if state is None:
        with _lock:
            state = _states.get(key)
            if state is None:
                state = _states[key] = _build(driver_factory(), location, params)
    return state


def _build(driver: Driver, location: Any, params: Mapping[str, Any]) -> AliasState:
    alias = guess_alias(location, params)
    parsed = parse_alias(alias, location, params)  # the system checks run the same steps
    settings, options = parsed.settings, parsed.options
    try:
        policy = build_policy(options, alias, settings.topology)
        router = Router(topology_for(settings, driver), policy, log_keys=settings.log_keys,
                        pipelining=parsed.pipelining)
        if options.get("metrics"):  # only then: an alias without metrics runs no metrics code
            from ..metrics import instrument
            router = instrument(router, options["metrics"], log_keys=settings.log_keys,
                                pipelining=parsed.pipelining)
    except (ValueError, ImportError) as exc:  # what parse_alias checked cannot fail here
        raise ImproperlyConfigured(f"cachex cache {alias!r}: {exc}") from None
    near = None if parsed.near is None else NearCache(alias, parsed.near, router.topology)
    return AliasState(alias, settings, parsed.codec, router, parsed.stampede, near)


def guess_alias(location: Any, params: Mapping[str, Any]) -> str:
    """Django does not tell a backend its alias; find it in settings.CACHES for messages."""
    try:
        from django.conf import settings

        caches = settings.CACHES
    except Exception:  # settings not configured: a backend built by hand
        return "?"
    names = [
        name for name, conf in caches.items()
        if conf.get("LOCATION", "") == location
        and {k: v for k, v in conf.items() if k not in ("BACKEND", "LOCATION")} == dict(params)
    ]
    if len(names) == 1:
        return str(names[0])
    return " or ".join(map(str, names)) if names else "?"
