"""Lists of codec-encoded values. Pushes and pops are never replayed after a possible send:
a replay would push twice or drop an element."""

from __future__ import annotations

from typing import Any

from ..flow import Flow, adrive, drive
from ._common import Host, command, need


def _push(c: Host, name: str, key: Any, values: tuple[Any, ...], version: int | None
          ) -> Flow[int]:
    need(name.lower(), values)
    k = c.make_and_validate_key(key, version=version)
    encoded = [c._encode(v, k) for v in values]  # all or nothing: encode before any I/O
    return int((yield from command(key, k, "list", (name, k, *encoded), idempotent=False)))


def _pop(c: Host, name: str, key: Any, version: int | None) -> Flow[Any]:
    k = c.make_and_validate_key(key, version=version)
    raw = yield from command(key, k, "list", (name, k), idempotent=False)
    return None if raw is None else c._decode(raw, k)


def _lrange(c: Host, key: Any, start: int, end: int, version: int | None) -> Flow[list[Any]]:
    k = c.make_and_validate_key(key, version=version)
    reply = yield from command(key, k, "list", ("LRANGE", k, start, end), write=False)
    return [c._decode(raw, k) for raw in reply]


def _llen(c: Host, key: Any, version: int | None) -> Flow[int]:
    k = c.make_and_validate_key(key, version=version)
    return int((yield from command(key, k, "list", ("LLEN", k), write=False)))


class ListMixin(Host):
    """``lpush rpush lpop rpop lrange llen`` and their ``a`` twins."""

    def lpush(self, key: Any, *values: Any, version: int | None = None) -> int:
        """Prepend values (the last one ends up first); the new length."""
        return drive(self._router, _push(self, "LPUSH", key, values, version))

    async def alpush(self, key: Any, *values: Any, version: int | None = None) -> int:
        return await adrive(self._router, _push(self, "LPUSH", key, values, version))

    def rpush(self, key: Any, *values: Any, version: int | None = None) -> int:
        """Append values; the new length."""
        return drive(self._router, _push(self, "RPUSH", key, values, version))

    async def arpush(self, key: Any, *values: Any, version: int | None = None) -> int:
        return await adrive(self._router, _push(self, "RPUSH", key, values, version))

    def lpop(self, key: Any, version: int | None = None) -> Any:
        """Remove and return the first value; None if the list is empty or missing."""
        return drive(self._router, _pop(self, "LPOP", key, version))

    async def alpop(self, key: Any, version: int | None = None) -> Any:
        return await adrive(self._router, _pop(self, "LPOP", key, version))

    def rpop(self, key: Any, version: int | None = None) -> Any:
        """Remove and return the last value; None if the list is empty or missing."""
        return drive(self._router, _pop(self, "RPOP", key, version))

    async def arpop(self, key: Any, version: int | None = None) -> Any:
        return await adrive(self._router, _pop(self, "RPOP", key, version))

    def lrange(self, key: Any, start: int = 0, end: int = -1,
               version: int | None = None) -> list[Any]:
        """Values from ``start`` to ``end`` inclusive (negative: from the end)."""
        return drive(self._router, _lrange(self, key, start, end, version))

    async def alrange(self, key: Any, start: int = 0, end: int = -1,
                      version: int | None = None) -> list[Any]:
        return await adrive(self._router, _lrange(self, key, start, end, version))

    def llen(self, key: Any, version: int | None = None) -> int:
        """Length (0 for a missing key)."""
        return drive(self._router, _llen(self, key, version))

    async def allen(self, key: Any, version: int | None = None) -> int:
        return await adrive(self._router, _llen(self, key, version))
