"""Every offline step of building an alias: what the backend and the system checks share.

``parse_alias`` reads LOCATION, OPTIONS and the other CACHES keys the way the backend does,
without opening a connection or registering anything, so ``manage.py check`` reports exactly
the settings a backend would refuse (and with the same message), each under its check id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..codec import Codec
from ..compat.options import apply as compat_options
from ..config import Settings, parse_pipelining, parse_settings
from ..near import parse_near
from ..near.options import NearOptions
from ..policy import FailoverOptions, RetryOptions, policy_options
from ..stampede.options import StampedeOptions, parse_stampede


class AliasConfigError(ImproperlyConfigured):
    """A CACHES entry the backend cannot be built from. ``check_id`` is the system check
    that reports it: ``cachex.E001`` (LOCATION/OPTIONS), ``E002`` (a library is missing),
    ``E003`` (``OPTIONS['metrics']``)."""

    def __init__(self, message: str, check_id: str = "cachex.E001") -> None:
        super().__init__(message)
        self.check_id = check_id


@dataclass(frozen=True)
class ParsedAlias:
    location: Any
    options: Mapping[str, Any]
    settings: Settings
    codec: Codec
    retry: RetryOptions
    failover: FailoverOptions
    stampede: StampedeOptions | None
    near: NearOptions | None
    pipelining: bool


def parse_alias(alias: str, location: Any, params: Mapping[str, Any], *,
                warn: bool = True) -> ParsedAlias:
    """The checked settings of one alias, or ``AliasConfigError`` naming alias, problem and
    fix. ``warn=False`` leaves the peers'-spelling warnings to the backend's own start-up."""
    options: Mapping[str, Any] = params.get("OPTIONS") or {}
    try:
        location, options = compat_options(alias, location, options, warn=warn)
        settings = parse_settings(alias, location, options)
        stampede = parse_stampede(alias, options)
        pipelining = parse_pipelining(alias, options)
    except AliasConfigError:
        raise
    except ImproperlyConfigured as exc:
        raise AliasConfigError(str(exc)) from None
    check_id = "cachex.E001"
    try:
        codec = Codec.from_options(options, alias)
        near = parse_near(options.get("near_cache"), params.get("KEY_PREFIX") or "")
        if near is not None and stampede is not None and stampede.mode != "lock":
            raise ValueError(
                f"OPTIONS['near_cache'] and OPTIONS['stampede'] mode {stampede.mode!r} do not "
                "work together yet (the stampede mode wraps stored values and replaces get "
                "and set): use stampede mode 'lock', or drop one of the two options")
        retry, failover = policy_options(options, settings.topology)
        if options.get("metrics"):
            from ..metrics.options import parse_metrics

            check_id = "cachex.E003"
            parse_metrics(options["metrics"], check_imports=True)
    except ImportError as exc:  # an optional codec or metrics library
        raise AliasConfigError(_named(alias, exc), "cachex.E002") from None
    except (ValueError, ImproperlyConfigured) as exc:
        raise AliasConfigError(_named(alias, exc), check_id) from None
    return ParsedAlias(location, options, settings, codec, retry, failover, stampede, near,
                       pipelining)


def _named(alias: str, exc: BaseException) -> str:
    text = str(exc)
    return text if text.startswith("cachex cache ") else f"cachex cache {alias!r}: {text}"
