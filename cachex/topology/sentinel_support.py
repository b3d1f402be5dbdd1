"""Pure pieces of the sentinel topology: connection arguments, and reading sentinel replies.

No I/O here. ``sentinel.py`` asks the sentinels and opens connections; this module decides
what to pass to the driver and what a sentinel's answer means, including the error message
a user sees when no sentinel names a usable primary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..drivers import Driver
from .connect import UNBOUNDED, connection_kwargs

PRIMARY = "primary"
REPLICA = "replica"
ROLES = (PRIMARY, REPLICA)

# Keys of ``connection_kwargs`` that the sentinel-managed pool decides itself: the address
# comes from the sentinels and the connection class is the driver's sentinel-managed one.
_ADDRESS_KEYS = ("host", "port", "path", "connection_class")


def node_kwargs(driver: Driver, settings: Settings, *, asynchronous: bool) -> dict[str, Any]:
    """Arguments for the data-node connections (primary and replicas).

    Credentials and db come from LOCATION (``redis+sentinel://user:pass@hosts/<service>/<db>``);
    the driver's own retries stay off, as everywhere in cachex.
    """
    endpoint = settings.endpoints[0]
    kw = connection_kwargs(driver, endpoint, settings.pool, asynchronous=asynchronous)
    for key in _ADDRESS_KEYS:
        kw.pop(key, None)
    if endpoint.tls:
        kw["ssl"] = True  # the pool then picks the driver's SentinelManagedSSLConnection
    return kw


def sentinel_kwargs(driver: Driver, settings: Settings, *, asynchronous: bool
                    ) -> dict[str, Any]:
    """Arguments for the connections to the sentinels themselves.

    Sentinels have credentials of their own (OPTIONS['sentinel']['username'/'password']);
    the data nodes' password is never sent to them. ``OPTIONS['sentinel']['socket_timeout']``
    bounds both connect and reply, else the pool's timeouts apply.
    """
    pool = settings.pool
    timeout = settings.sentinel_socket_timeout
    kw: dict[str, Any] = {
        "username": settings.sentinel_username,
        "password": settings.sentinel_password,
        "socket_timeout": pool.socket_timeout if timeout is None else timeout,
        "socket_connect_timeout": pool.socket_connect_timeout if timeout is None else timeout,
        "retry": driver.async_no_retry() if asynchronous else driver.no_retry(),
        # Every new data connection asks a sentinel where the primary is: with the drivers'
        # default cap (redis-py 8: 100 per pool), a burst of new connections (1,000
        # concurrent async calls) failed with "Too many connections" here, i.e.
        # "no sentinel could be asked". Uncapped, as the data pools are (connect.py).
        "max_connections": UNBOUNDED,
    }
    if settings.endpoints[0].tls:
        kw["ssl"] = True
        kw.update(dict(pool.ssl))
    return kw


def sentinel_addresses(settings: Settings) -> list[tuple[str, int]]:
    """``(host, port)`` of every sentinel in LOCATION, in the order given."""
    return [(e.host or "", e.port or 26379) for e in settings.endpoints]


@dataclass(frozen=True)
class SentinelReport:
    """Why one sentinel did not give us a primary."""

    address: str
    kind: str  # "unreachable" | "unknown_service" | "primary_down"
    detail: str


def judge(address: str, masters: Mapping[str, Any], service: str, min_other_sentinels: int
          ) -> SentinelReport | None:
    """None when this sentinel's ``SENTINEL MASTERS`` reply names a usable primary."""
    state = masters.get(service)
    if not state:
        known = ", ".join(sorted(map(str, masters))) or "none"
        return SentinelReport(address, "unknown_service",
                              f"does not monitor {service!r} (it monitors: {known})")
    flags = state.get("flags", "")
    flag_text = ",".join(sorted(flags)) if isinstance(flags, (set, frozenset)) else str(flags)
    where = f"{state.get('ip')}:{state.get('port')}"
    if not state.get("is_master") or state.get("is_sdown") or state.get("is_odown"):
        return SentinelReport(address, "primary_down",
                              f"sees the primary {where} as {flag_text or 'not a master'}")
    others = int(state.get("num-other-sentinels", 0))
    if others < min_other_sentinels:
        return SentinelReport(address, "primary_down",
                              f"knows only {others} other sentinels "
                              f"(at least {min_other_sentinels} required)")
    return None


def unreachable(address: str, exc: BaseException) -> SentinelReport:
    return SentinelReport(address, "unreachable", f"{type(exc).__name__}: {exc}")


def no_primary_message(alias: str, service: str, reports: Sequence[SentinelReport]) -> str:
    """What to tell the user when no sentinel names a usable primary, and what to check."""
    kinds = {r.kind for r in reports}
    if not reports:
        hint = "LOCATION lists no sentinels"
    elif kinds == {"unreachable"}:
        hint = ("no sentinel could be asked; check the sentinel addresses in LOCATION and "
                "the sentinels' own credentials in OPTIONS['sentinel']")
    elif kinds == {"unknown_service"}:
        hint = (f"no sentinel monitors a service named {service!r}; check the service in "
                "LOCATION ('redis+sentinel://host:26379/<service>/<db>')")
    elif "primary_down" in kinds:
        hint = "the sentinels see the primary as down, so a failover is probably under way"
    else:
        hint = "the sentinels disagree or could not be asked"
    details = "; ".join(f"{r.address} {r.detail}" for r in reports)
    return (f"cachex cache {alias!r}: no primary for sentinel service {service!r}: {hint}"
            + (f" ({details})" if details else ""))
