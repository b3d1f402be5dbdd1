"""Expiry: read, set and remove a key's time to live.

Semantics (the same as django-redis, so code moving over keeps working):
``ttl``/``pttl`` answer ``None`` for a key that exists without expiry and ``0`` for a
missing key; ``expire``/``pexpire``/``expire_at``/``persist`` answer whether they changed
something (Redis's 1/0).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT

from ..flow import Call, Flow, Run, adrive, drive
from ._common import Host

NO_EXPIRY = -1  # TTL/PTTL reply for a key without expiry
MISSING = -2  # TTL/PTTL reply for a missing key


def remaining(reply: Any) -> int | None:
    """A TTL/PTTL reply -> ``None`` (no expiry), ``0`` (missing) or the time left."""
    value = int(reply)
    if value == NO_EXPIRY:
        return None
    return 0 if value == MISSING else value


def epoch_ms(when: datetime | float) -> int:
    """A point in time as Unix milliseconds; naive datetimes are local time, as in Python."""
    if isinstance(when, datetime):
        return int(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise TypeError(f"expire_at() needs a datetime or a Unix timestamp, not {when!r}")
    return int(when * 1000)


def pexpire_ms(when: datetime | float) -> int:
    """``pexpire_at``'s point in time: a datetime, or Unix time already in milliseconds."""
    if isinstance(when, datetime):
        return int(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise TypeError(f"pexpire_at() needs a datetime or Unix milliseconds, not {when!r}")
    return int(when)


def _ttl(c: Host, key: Any, version: int | None, name: str) -> Flow[int | None]:
    k = c.make_and_validate_key(key, version=version)
    return remaining((yield Call(k, (name, k), write=False)))


def _pexpire(c: Host, key: Any, ms: int | None, version: int | None) -> Flow[bool]:
    k = c.make_and_validate_key(key, version=version)
    if ms is None:  # a timeout of None means "keep forever", as everywhere in Django
        _, exists = (yield Run([(c._topology.locate(k), [("PERSIST", k), ("EXISTS", k)])]))[0]
        return bool(exists)
    return bool((yield Call(k, ("PEXPIRE", k, ms))))


def _pexpire_at(c: Host, key: Any, at_ms: int, version: int | None) -> Flow[bool]:
    k = c.make_and_validate_key(key, version=version)
    return bool((yield Call(k, ("PEXPIREAT", k, at_ms))))


def _ms_arg(c: Host, ms: Any) -> int | None:
    """``pexpire``'s argument: milliseconds, a ``timedelta`` (redis-py), or
    ``DEFAULT_TIMEOUT`` for the alias's default timeout (whose ``None`` means "keep
    forever")."""
    if ms is DEFAULT_TIMEOUT:
        return c._ms(DEFAULT_TIMEOUT)
    if isinstance(ms, timedelta):
        return int(ms.total_seconds() * 1000)
    return int(ms)


def _timeout_ms(c: Host, timeout: Any) -> int | None:
    """``expire``'s argument: a Django timeout in seconds, or a ``timedelta`` (redis-py)."""
    if isinstance(timeout, timedelta):
        timeout = timeout.total_seconds()
    return c._ms(timeout)


def _persist(c: Host, key: Any, version: int | None) -> Flow[bool]:
    k = c.make_and_validate_key(key, version=version)
    return bool((yield Call(k, ("PERSIST", k))))


class TTLMixin(Host):
    """``ttl``, ``pttl``, ``expire``, ``pexpire``, ``expire_at``, ``persist`` and twins."""

    def ttl(self, key: Any, version: int | None = None) -> int | None:
        """Seconds left (rounded by the server); ``None``: no expiry; ``0``: no such key."""
        return drive(self._router, _ttl(self, key, version, "TTL"))

    async def attl(self, key: Any, version: int | None = None) -> int | None:
        return await adrive(self._router, _ttl(self, key, version, "TTL"))

    def pttl(self, key: Any, version: int | None = None) -> int | None:
        """Milliseconds left; ``None``: no expiry; ``0``: no such key."""
        return drive(self._router, _ttl(self, key, version, "PTTL"))

    async def apttl(self, key: Any, version: int | None = None) -> int | None:
        return await adrive(self._router, _ttl(self, key, version, "PTTL"))

    def expire(self, key: Any, timeout: Any, version: int | None = None) -> bool:
        """Set a Django-style timeout (seconds, float allowed; ``None`` keeps forever;
        ``<= 0`` expires the key now; a ``timedelta`` works too). True if the key exists."""
        return drive(self._router, _pexpire(self, key, _timeout_ms(self, timeout), version))

    async def aexpire(self, key: Any, timeout: Any, version: int | None = None) -> bool:
        return await adrive(self._router,
                            _pexpire(self, key, _timeout_ms(self, timeout), version))

    def pexpire(self, key: Any, ms: Any, version: int | None = None) -> bool:
        """Expire in ``ms`` milliseconds (``<= 0`` expires now; ``DEFAULT_TIMEOUT``: the
        alias's default timeout). True if the key exists."""
        return drive(self._router, _pexpire(self, key, _ms_arg(self, ms), version))

    async def apexpire(self, key: Any, ms: Any, version: int | None = None) -> bool:
        return await adrive(self._router, _pexpire(self, key, _ms_arg(self, ms), version))

    def expire_at(self, key: Any, when: datetime | float, version: int | None = None) -> bool:
        """Expire at ``when`` (a datetime or a Unix timestamp in seconds). True if the key
        exists."""
        return drive(self._router, _pexpire_at(self, key, epoch_ms(when), version))

    async def aexpire_at(self, key: Any, when: datetime | float,
                         version: int | None = None) -> bool:
        return await adrive(self._router, _pexpire_at(self, key, epoch_ms(when), version))

    def pexpire_at(self, key: Any, when: datetime | int, version: int | None = None) -> bool:
        """Expire at ``when``: a datetime, or Unix time in **milliseconds** (redis-py's
        PEXPIREAT). True if the key exists."""
        return drive(self._router, _pexpire_at(self, key, pexpire_ms(when), version))

    async def apexpire_at(self, key: Any, when: datetime | int,
                          version: int | None = None) -> bool:
        return await adrive(self._router, _pexpire_at(self, key, pexpire_ms(when), version))

    def persist(self, key: Any, version: int | None = None) -> bool:
        """Remove the expiry. True only if the key existed *and* had one."""
        return drive(self._router, _persist(self, key, version))

    async def apersist(self, key: Any, version: int | None = None) -> bool:
        return await adrive(self._router, _persist(self, key, version))
