"""Sets of codec-encoded members. Membership is by stored bytes: two values are the same
member when they encode to the same bytes (plain ints are stored as their digits)."""

from __future__ import annotations

from typing import Any

from ..flow import Flow, adrive, drive
from ._common import Host, command, need


def _write(c: Host, name: str, key: Any, members: tuple[Any, ...], version: int | None
           ) -> Flow[int]:
    need(name.lower(), members)
    k = c.make_and_validate_key(key, version=version)
    encoded = [c._encode(m, k) for m in members]
    return int((yield from command(key, k, "set", (name, k, *encoded))))


def _smembers(c: Host, key: Any, version: int | None) -> Flow[set[Any]]:
    k = c.make_and_validate_key(key, version=version)
    reply = yield from command(key, k, "set", ("SMEMBERS", k), write=False)
    return {c._decode(raw, k) for raw in reply}


def _sismember(c: Host, key: Any, member: Any, version: int | None) -> Flow[bool]:
    k = c.make_and_validate_key(key, version=version)
    args = ("SISMEMBER", k, c._encode(member, k))
    return bool((yield from command(key, k, "set", args, write=False)))


def _scard(c: Host, key: Any, version: int | None) -> Flow[int]:
    k = c.make_and_validate_key(key, version=version)
    return int((yield from command(key, k, "set", ("SCARD", k), write=False)))


class SetMixin(Host):
    """``sadd srem smembers sismember scard`` and their ``a`` twins."""

    def sadd(self, key: Any, *members: Any, version: int | None = None) -> int:
        """Add members; how many were new."""
        return drive(self._router, _write(self, "SADD", key, members, version))

    async def asadd(self, key: Any, *members: Any, version: int | None = None) -> int:
        return await adrive(self._router, _write(self, "SADD", key, members, version))

    def srem(self, key: Any, *members: Any, version: int | None = None) -> int:
        """Remove members; how many were there."""
        return drive(self._router, _write(self, "SREM", key, members, version))

    async def asrem(self, key: Any, *members: Any, version: int | None = None) -> int:
        return await adrive(self._router, _write(self, "SREM", key, members, version))

    def smembers(self, key: Any, version: int | None = None) -> set[Any]:
        """All members as a Python set (members must be hashable once decoded)."""
        return drive(self._router, _smembers(self, key, version))

    async def asmembers(self, key: Any, version: int | None = None) -> set[Any]:
        return await adrive(self._router, _smembers(self, key, version))

    def sismember(self, key: Any, member: Any, version: int | None = None) -> bool:
        """Whether ``member`` is in the set."""
        return drive(self._router, _sismember(self, key, member, version))

    async def asismember(self, key: Any, member: Any, version: int | None = None) -> bool:
        return await adrive(self._router, _sismember(self, key, member, version))

    def scard(self, key: Any, version: int | None = None) -> int:
        """Number of members (0 for a missing key)."""
        return drive(self._router, _scard(self, key, version))

    async def ascard(self, key: Any, version: int | None = None) -> int:
        return await adrive(self._router, _scard(self, key, version))
