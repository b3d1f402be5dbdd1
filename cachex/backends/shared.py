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
from ..compat.options import apply as compat_options
from ..config import Settings, parse_pipelining, parse_settings
from ..drivers import Driver
from ..near import NearCache, parse_near
from ..policy import build_policy
from ..router import Router
from ..stampede.options import StampedeOptions, parse_stampede
from ..topology import topology_for


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
    options = params.get("OPTIONS") or {}
    location, options = compat_options(alias, location, options)  # peers' spellings
    settings = parse_settings(alias, location, options)
    stampede = parse_stampede(alias, options)
    try:
        codec = Codec.from_options(options, alias)
        near_options = parse_near(options.get("near_cache"), params.get("KEY_PREFIX") or "")
        if near_options is not None and stampede is not None and stampede.mode != "lock":
            raise ValueError(
                f"OPTIONS['near_cache'] and OPTIONS['stampede'] mode {stampede.mode!r} do not "
                "work together yet (the stampede mode wraps stored values and replaces get "
                "and set): use stampede mode 'lock', or drop one of the two options")
        policy = build_policy(options, alias, settings.topology)
        pipelining = parse_pipelining(alias, options)
        router = Router(topology_for(settings, driver), policy, log_keys=settings.log_keys,
                        pipelining=pipelining)
        if options.get("metrics"):  # only then: an alias without metrics runs no metrics code
            from ..metrics import instrument
            router = instrument(router, options["metrics"], log_keys=settings.log_keys,
                                pipelining=pipelining)
    except (ValueError, ImportError) as exc:  # ImportError: an optional codec library
        raise ImproperlyConfigured(f"cachex cache {alias!r}: {exc}") from None
    near = None if near_options is None else NearCache(alias, near_options, router.topology)
    return AliasState(alias, settings, codec, router, stampede, near)


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
