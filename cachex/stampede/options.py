"""``OPTIONS["stampede"]`` and the per-call ``stampede=`` argument -> ``StampedeOptions``. Pure.

Validated once per alias at start-up; a bad value is an ``ImproperlyConfigured`` naming the
alias, the problem and the fix (raised by ``parse_stampede``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

MODES = ("herd", "early", "lock")
# which keys each mode reads; "mode" is accepted everywhere
KEYS: dict[str, tuple[str, ...]] = {
    "herd": ("grace", "lease"),
    "early": ("beta", "delta", "lease"),
    "lock": ("lease", "wait", "poll"),
}
OFF = ("off", "none")  # per call: stampede=False / "off" turns protection off for that call
DEFAULT_GRACE = 60.0  # django-redis's CACHE_HERD_TIMEOUT default


@dataclass(frozen=True)
class StampedeOptions:
    """One mode and its settings, in milliseconds where Redis wants milliseconds.

    ``lease_ms``: how long the one caller chosen to recompute has before another caller is
    chosen (herd/early: the claim written into the value; lock: the lock key's expiry).
    """

    mode: str
    grace_ms: int = int(DEFAULT_GRACE * 1000)  # herd: stale values are served this long
    lease_ms: int = 10_000
    beta: float = 1.0                          # early: > 1 recomputes earlier
    delta_ms: int = 100                        # early: recompute time when none was measured
    wait: float = 10.0                         # lock: longest a waiter waits
    poll: float = 0.02                         # lock: seconds between a waiter's looks


class StampedeError(ValueError):
    """A bad stampede setting; turned into ImproperlyConfigured with the alias."""


def _seconds(spec: Mapping[str, Any], name: str, default: float, *, positive: bool = True
             ) -> float:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or math.isinf(value) or value < 0 or (positive and value == 0):
        raise StampedeError(f"OPTIONS['stampede'][{name!r}] must be a number of seconds "
                            f"{'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def _herd_grace() -> float:
    """Django setting ``CACHE_HERD_TIMEOUT`` (django-redis's name), else 60 s."""
    try:
        from django.conf import settings

        raw = getattr(settings, "CACHE_HERD_TIMEOUT", DEFAULT_GRACE)
    except Exception:  # settings not configured: a backend built by hand
        return DEFAULT_GRACE
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not raw > 0:
        raise StampedeError(f"settings.CACHE_HERD_TIMEOUT must be a number of seconds > 0, "
                            f"got {raw!r}")
    return float(raw)


def build(raw: Any) -> StampedeOptions | None:
    """A mode name, a dict with "mode", None/False (off) -> options; StampedeError if bad."""
    if raw is None or raw is False or (isinstance(raw, str) and raw.lower() in OFF):
        return None
    spec: Mapping[str, Any] = {"mode": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, Mapping):
        raise StampedeError(f"OPTIONS['stampede'] must be a dict such as {{'mode': 'herd'}} "
                            f"or a mode name, got {type(raw).__name__}")
    mode = spec.get("mode")
    if mode not in MODES:
        raise StampedeError(f"OPTIONS['stampede']['mode'] = {mode!r} is not a mode; use "
                            f"one of {', '.join(map(repr, MODES))}")
    unknown = [k for k in spec if k != "mode" and k not in KEYS[mode]]
    if unknown:
        raise StampedeError(f"OPTIONS['stampede'] key {unknown[0]!r} does not apply to mode "
                            f"{mode!r}; its keys are {', '.join(map(repr, KEYS[mode]))}")
    grace = _seconds(spec, "grace", _herd_grace() if mode == "herd" else DEFAULT_GRACE)
    lease = _seconds(spec, "lease", 10.0)
    beta = _seconds(spec, "beta", 1.0)
    delta = _seconds(spec, "delta", 0.1, positive=False)
    wait = _seconds(spec, "wait", lease, positive=False)
    poll = _seconds(spec, "poll", 0.02)
    return StampedeOptions(mode, grace_ms=max(1, int(grace * 1000)),
                           lease_ms=max(1, int(lease * 1000)), beta=beta,
                           delta_ms=int(delta * 1000), wait=wait, poll=poll)


def parse_stampede(alias: str, options: Mapping[str, Any]) -> StampedeOptions | None:
    """The alias's ``OPTIONS["stampede"]``, validated at start-up."""
    try:
        return build(options.get("stampede"))
    except StampedeError as exc:
        raise ImproperlyConfigured(
            f"cachex cache {alias!r}: {exc}. See docs/stampede.md, e.g. "
            "OPTIONS = {'stampede': {'mode': 'herd'}}") from None


UNSET: Any = object()  # get_or_set(..., stampede=UNSET): the alias's own setting


def for_call(raw: Any, alias_options: StampedeOptions | None) -> StampedeOptions | None:
    """The options one call uses: the alias's, or the call's ``stampede=`` argument.

    A bare mode name on an alias configured for that mode keeps the alias's settings;
    a dict is complete on its own. Raises ``ValueError`` (the caller's mistake, at call time).
    """
    if raw is UNSET:
        return alias_options
    if isinstance(raw, StampedeOptions):
        return raw
    try:
        built = build(raw)
    except StampedeError as exc:
        raise ValueError(str(exc).replace("OPTIONS['stampede']", "stampede=")) from None
    if built is not None and isinstance(raw, str) and alias_options is not None \
            and alias_options.mode == built.mode:
        return alias_options
    return built
