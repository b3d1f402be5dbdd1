"""Django system checks for cachex aliases (``manage.py check``; run by runserver/migrate).

Offline: each cachex alias's LOCATION/OPTIONS go through the same parser the backend uses, and
a few risky-but-valid settings are flagged. Nothing here opens a connection, except the
``--deploy`` probe (``manage.py check --deploy``), which PINGs every node.

What the backend would refuse (``cachex.backends.parse``: the same steps, the same message)
is an error here; Django's own cache checks, which build every alias, meet a stand-in for such
an alias instead of its ``ImproperlyConfigured``, so the run reports it under its id.

Registered by ``cachex.apps.CachexConfig.ready`` when ``"cachex"`` is in INSTALLED_APPS. The
ids are listed in docs/operations.md and in ``cachex.ops.catalogue``; docs/configuration.md
gives a misconfiguration for each error id.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .ops.catalogue import severity
from .ops.report import Finding
from .ops.target import Target, django_targets

LONG_SOCKET_TIMEOUT = 5.0  # seconds: above this, a hung node holds a request for long
FIXES = {  # the fix for each way a backend refuses its settings (the message says the rest)
    "cachex.E001": "Fix LOCATION/OPTIONS as the message says (docs/configuration.md).",
    "cachex.E002": "Install the extra, e.g. pip install 'django-cachex-router[msgpack]' "
                   "('[prometheus]', '[otel]', '[lz4]', '[zstd]').",
    "cachex.E003": "See docs/operations.md#metrics for the accepted keys.",
}


def _f(check_id: str, message: str, fix: str, node: str | None = None) -> Finding:
    return Finding(check_id, severity(check_id), message, fix, node)


def offline_findings(target: Target, others: list[Target]) -> list[Finding]:
    """Every offline finding for one alias (``others``: the project's other cachex aliases)."""
    alias = target.alias
    if target.settings is None:
        return [_f("cachex.E001", target.error or f"cachex cache {alias!r} is misconfigured",
                   FIXES["cachex.E001"])]
    out: list[Finding] = []
    options: Mapping[str, Any] = target.options if isinstance(target.options, Mapping) else {}
    if target.problem is not None:
        out.append(_f(target.problem.check_id, str(target.problem),
                      FIXES[target.problem.check_id]))
    s = target.settings
    pool = s.pool
    if pool.socket_timeout is None or pool.socket_connect_timeout is None:
        which = [n for n, v in (("socket_timeout", pool.socket_timeout),
                                ("socket_connect_timeout", pool.socket_connect_timeout))
                 if v is None]
        out.append(_f("cachex.W001", f"cachex cache {alias!r}: OPTIONS['pool'] sets "
                      f"{' and '.join(which)} to None; a hung or unreachable node then holds "
                      "a request (and a worker) forever",
                      "Set a bound, e.g. OPTIONS['pool'] = {'socket_timeout': 1.0, "
                      "'socket_connect_timeout': 1.0}."))
    serializer = options.get("serializer", "pickle")
    signing = options.get("signing")
    if serializer == "pickle" and not signing and _shared_server(target):
        out.append(_f("cachex.W002", f"cachex cache {alias!r}: pickled values on a server "
                      "reached over the network, without signing: anyone who can write to "
                      "that server can make this site unpickle arbitrary objects (run code)",
                      "Set OPTIONS['signing'] (HMAC-signed values), use serializer 'json' or "
                      "'msgpack', or keep the server private to this site (AUTH/ACL, TLS)."))
    failover = options.get("failover")
    mode = failover.get("mode") if isinstance(failover, Mapping) else \
        getattr(failover, "mode", None)
    if mode == "fail_open" and not _policy_logged():
        out.append(_f("cachex.W003", f"cachex cache {alias!r}: failover mode 'fail_open' "
                      "hides errors from callers, and the 'cachex' logger is silenced: an "
                      "outage would go unnoticed",
                      "Let the 'cachex' logger (or 'cachex.policy') emit WARNING records to "
                      "a handler in LOGGING, or turn metrics on (OPTIONS['metrics'])."))
    if s.read_from_replicas and s.wait_replicas is None:
        out.append(_f("cachex.W004", f"cachex cache {alias!r}: read_from_replicas without "
                      "wait_replicas: a read right after a write may miss it (replication "
                      "is asynchronous)",
                      "Accept stale reads knowingly, or set OPTIONS['wait_replicas'] = 1 "
                      "(sentinel/replicated) so writes wait for a replica."))
    out += _bounds_findings(alias, options)
    hits = [k for k in ("MAX_ENTRIES", "CULL_FREQUENCY") if k in options]
    if hits:
        out.append(_f("cachex.W006", f"cachex cache {alias!r}: OPTIONS {', '.join(hits)} "
                      "mean nothing to Redis/Valkey (eviction is the server's "
                      "maxmemory-policy)",
                      "Remove them; bound memory with the server's maxmemory and "
                      "maxmemory-policy allkeys-lru."))
    for other in others:
        if other.settings is None or other.alias == alias:
            continue
        if _same_data(target, other) and (target.key_prefix == other.key_prefix):
            out.append(_f("cachex.W007", f"cachex caches {alias!r} and {other.alias!r} use "
                          f"the same server, database and KEY_PREFIX "
                          f"({target.key_prefix!r}): their keys collide and clear() on one "
                          "empties the other",
                          "Give each alias its own KEY_PREFIX or database (/1, /2 ...)."))
    retry = options.get("retry")
    if isinstance(retry, Mapping) and "deadline" in retry and retry["deadline"] is None \
            and (pool.socket_timeout is None or pool.socket_timeout > LONG_SOCKET_TIMEOUT) \
            and int(retry.get("attempts", 2) or 0) > 1:
        out.append(_f("cachex.W008", f"cachex cache {alias!r}: retries without a deadline on "
                      "a long (or no) socket timeout: one call may wait attempts x timeout",
                      "Set OPTIONS['retry']['deadline'] (seconds) or a shorter socket_timeout."))
    return out


def _bounds_findings(alias: str, options: Mapping[str, Any]) -> list[Finding]:
    """Near cache and stampede options are read defensively: their shapes belong to other
    modules; only the absence of any bound is flagged."""
    out: list[Finding] = []
    near = options.get("near_cache")
    if near:
        bounds = near if isinstance(near, Mapping) else {}
        if not (bounds.get("max_entries") or bounds.get("max_bytes")):
            out.append(_f("cachex.W005", f"cachex cache {alias!r}: the near cache has no "
                          "explicit max_entries or max_bytes: each process keeps up to the "
                          "defaults (10,000 values, 64 MiB)",
                          "Set OPTIONS['near_cache']['max_entries'] (and/or 'max_bytes')."))
    stampede = options.get("stampede")
    if isinstance(stampede, Mapping) and stampede.get("mode") == "lock":
        timeout_keys = ("lock_timeout", "timeout", "wait", "max_wait", "lock_ttl")
        if not any(stampede.get(k) for k in timeout_keys):
            out.append(_f("cachex.W005", f"cachex cache {alias!r}: stampede mode 'lock' "
                          "without a lock timeout: waiters may pile up behind a slow "
                          "recomputation",
                          "Bound the wait (see docs on OPTIONS['stampede'])."))
    return out


def _policy_logged() -> bool:
    logger = logging.getLogger("cachex.policy")
    return (not logger.disabled and not logging.getLogger("cachex").disabled
            and logger.isEnabledFor(logging.WARNING))


def _shared_server(target: Target) -> bool:
    """True when some data node is reached over a non-loopback network address."""
    assert target.settings is not None
    for ep in target.settings.endpoints:
        if ep.path is not None or ep.host is None:
            continue
        if ep.host == "localhost":
            continue
        try:
            if ipaddress.ip_address(ep.host).is_loopback:
                continue
        except ValueError:
            pass  # a host name: assume a shared server
        return True
    return False


def _same_data(a: Target, b: Target) -> bool:
    assert a.settings is not None and b.settings is not None
    if a.settings.topology in ("sentinel",) or b.settings.topology in ("sentinel",):
        same_service = (a.settings.service == b.settings.service
                        and a.settings.endpoints[0].db == b.settings.endpoints[0].db)
        sentinels_a = {e.address for e in a.settings.endpoints}
        return same_service and bool(sentinels_a & {e.address for e in b.settings.endpoints})
    ids_a = {(e.address, e.db) for e in a.settings.endpoints}
    ids_b = {(e.address, e.db) for e in b.settings.endpoints}
    return bool(ids_a & ids_b)


def _as_message(finding: Finding, alias: str) -> checks.CheckMessage:
    cls = {"error": checks.Error, "warning": checks.Warning}.get(finding.severity, checks.Info)
    return cls(finding.message, hint=finding.fix or None, obj=f"CACHES[{alias!r}]",
               id=finding.id)


def check_caches(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Offline checks of every cachex alias: no connection is opened."""
    targets, _ = django_targets()
    return [_as_message(f, t.alias) for t in targets
            for f in offline_findings(t, [o for o in targets if o is not t])]


def check_caches_live(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``check --deploy``: PING every node of every cachex alias (1 s timeout each)."""
    from .ops.discover import look

    out: list[checks.CheckMessage] = []
    targets, _ = django_targets()
    for t in targets:
        if t.settings is None:
            continue  # reported by the offline check
        view = look(t, timeout=1.0, count_keys=False)
        out += [_as_message(f, t.alias) for f in view.findings]
    return out


class Unbuilt:
    """Stands in ``caches[alias]`` for a cachex alias that cannot be built, while one of
    Django's own cache checks runs (see ``_tolerant``)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __repr__(self) -> str:
        return f"<cachex alias {self.alias!r}: not built, see cachex.E00x>"


@contextmanager
def _stand_ins() -> Iterator[None]:
    """Django's built-in cache checks build every alias (``caches[alias]``) to ask whether it
    is a FileBasedCache. A cachex alias never is; for the ones cachex's own check reports as
    errors, a stand-in answers in their place for the length of that check, so the check run
    goes on and reports them under their ids. Any other construction error still raises."""
    from django.core.cache import caches

    placed: list[str] = []
    targets, _ = django_targets()
    try:
        for t in targets:
            if t.problem is None and t.settings is not None:
                continue
            try:
                caches[t.alias]
            except ImproperlyConfigured:
                caches[t.alias] = Unbuilt(t.alias)  # type: ignore[assignment]
                placed.append(t.alias)
        yield
    finally:
        for alias in placed:
            with suppress(AttributeError):
                del caches[alias]


def _tolerant(check: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(check)  # keeps the registry's ``tags``
    def tolerant(app_configs: Any = None, **kwargs: Any) -> Any:
        with _stand_ins():
            return check(app_configs, **kwargs)

    tolerant._cachex_tolerant = True  # type: ignore[attr-defined]
    return tolerant


def _wrap_django_cache_checks() -> None:
    """Swap Django's registered cache checks (``django.core.checks.caches``) for tolerant
    wrappers of themselves, in the normal and the deploy groups; idempotent."""
    registry = checks.registry.registry
    for group in (registry.registered_checks, registry.deployment_checks):
        if not isinstance(group, set):
            continue  # a registry of another shape: Django's checks stay as they are
        checks_in: set[Any] = group
        for check in list(checks_in):
            if getattr(check, "__module__", "") == "django.core.checks.caches" \
                    and not getattr(check, "_cachex_tolerant", False):
                checks_in.discard(check)
                checks_in.add(_tolerant(check))


def register() -> None:
    checks.register(check_caches, checks.Tags.caches)
    checks.register(check_caches_live, checks.Tags.caches, deploy=True)
    _wrap_django_cache_checks()
