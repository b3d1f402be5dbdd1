"""Lists of codec-encoded values. Pushes and pops are never replayed after a possible send:
a replay would push twice or drop an element.

Names, argument order and return values are redis-py's: ``lpop(key, count=None)``,
``lrem(key, count, value)``, ``linsert(key, where, refvalue, value)``,
``lmove(source, destination, src="LEFT", dest="RIGHT")``.
"""

from __future__ import annotations

from typing import Any

from ..flow import Flow, adrive, drive
from ._common import Host, command, need, together


def _push(c: Host, name: str, key: Any, values: tuple[Any, ...], version: int | None
          ) -> Flow[int]:
    need(name.lower(), values)
    k = c.make_and_validate_key(key, version=version)
    encoded = [c._encode(v, k) for v in values]  # all or nothing: encode before any I/O
    return int((yield from command(key, k, "list", (name, k, *encoded), idempotent=False)))


def _pop(c: Host, name: str, key: Any, count: int | None, version: int | None) -> Flow[Any]:
    k = c.make_and_validate_key(key, version=version)
    args: tuple[Any, ...] = (name, k) if count is None else (name, k, count)
    raw = yield from command(key, k, "list", args, idempotent=False)
    if raw is None:
        return None
    if count is None:
        return c._decode(raw, k)
    return [c._decode(item, k) for item in raw]


def _lindex(c: Host, key: Any, index: int, version: int | None) -> Flow[Any]:
    k = c.make_and_validate_key(key, version=version)
    raw = yield from command(key, k, "list", ("LINDEX", k, index), write=False)
    return None if raw is None else c._decode(raw, k)


def _lwrite(c: Host, key: Any, version: int | None, name: str, *args: Any,
            value: Any = None, idempotent: bool = True) -> Flow[Any]:
    """A list write whose value (if any) goes last, through the codec."""
    k = c.make_and_validate_key(key, version=version)
    tail = () if value is None else (c._encode(value[0], k),)
    return (yield from command(key, k, "list", (name, k, *args, *tail), idempotent=idempotent))


def _linsert(c: Host, key: Any, where: str, refvalue: Any, value: Any, version: int | None
             ) -> Flow[int]:
    if where.upper() not in ("BEFORE", "AFTER"):
        raise ValueError(f"linsert() where must be 'BEFORE' or 'AFTER', not {where!r}")
    k = c.make_and_validate_key(key, version=version)
    args = ("LINSERT", k, where.upper(), c._encode(refvalue, k), c._encode(value, k))
    return int((yield from command(key, k, "list", args, idempotent=False)))


def _lmove(c: Host, source: Any, destination: Any, src: str, dest: str, version: int | None
           ) -> Flow[Any]:
    for side in (src, dest):
        if side.upper() not in ("LEFT", "RIGHT"):
            raise ValueError(f"lmove() sides must be 'LEFT' or 'RIGHT', not {side!r}")
    s = c.make_and_validate_key(source, version=version)
    d = c.make_and_validate_key(destination, version=version)
    together(c, "lmove", [s, d])
    raw = yield from command(source, s, "list", ("LMOVE", s, d, src.upper(), dest.upper()),
                             idempotent=False)
    return None if raw is None else c._decode(raw, s)


def _lrange(c: Host, key: Any, start: int, end: int, version: int | None) -> Flow[list[Any]]:
    k = c.make_and_validate_key(key, version=version)
    reply = yield from command(key, k, "list", ("LRANGE", k, start, end), write=False)
    return [c._decode(raw, k) for raw in reply]


def _llen(c: Host, key: Any, version: int | None) -> Flow[int]:
    k = c.make_and_validate_key(key, version=version)
    return int((yield from command(key, k, "list", ("LLEN", k), write=False)))


class ListMixin(Host):
    """List commands and their ``a`` twins."""

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

    def lpop(self, key: Any, count: int | None = None, version: int | None = None) -> Any:
        """Remove and return the first value (None if the list is empty or missing); with
        ``count``, a list of up to ``count`` values (None if the key is missing)."""
        return drive(self._router, _pop(self, "LPOP", key, count, version))

    async def alpop(self, key: Any, count: int | None = None, version: int | None = None
                    ) -> Any:
        return await adrive(self._router, _pop(self, "LPOP", key, count, version))

    def rpop(self, key: Any, count: int | None = None, version: int | None = None) -> Any:
        """Like ``lpop``, from the end."""
        return drive(self._router, _pop(self, "RPOP", key, count, version))

    async def arpop(self, key: Any, count: int | None = None, version: int | None = None
                    ) -> Any:
        return await adrive(self._router, _pop(self, "RPOP", key, count, version))

    def lpushx(self, key: Any, *values: Any, version: int | None = None) -> int:
        """``lpush`` only if the list exists; the new length (0: nothing pushed)."""
        return drive(self._router, _push(self, "LPUSHX", key, values, version))

    async def alpushx(self, key: Any, *values: Any, version: int | None = None) -> int:
        return await adrive(self._router, _push(self, "LPUSHX", key, values, version))

    def rpushx(self, key: Any, *values: Any, version: int | None = None) -> int:
        """``rpush`` only if the list exists; the new length (0: nothing pushed)."""
        return drive(self._router, _push(self, "RPUSHX", key, values, version))

    async def arpushx(self, key: Any, *values: Any, version: int | None = None) -> int:
        return await adrive(self._router, _push(self, "RPUSHX", key, values, version))

    def lindex(self, key: Any, index: int, version: int | None = None) -> Any:
        """The value at ``index`` (negative: from the end), or None."""
        return drive(self._router, _lindex(self, key, index, version))

    async def alindex(self, key: Any, index: int, version: int | None = None) -> Any:
        return await adrive(self._router, _lindex(self, key, index, version))

    def lset(self, key: Any, index: int, value: Any, version: int | None = None) -> bool:
        """Replace the value at ``index``; True (an index out of range is an error)."""
        return bool(drive(self._router, _lwrite(self, key, version, "LSET", index,
                                                value=(value,))))

    async def alset(self, key: Any, index: int, value: Any, version: int | None = None
                    ) -> bool:
        return bool(await adrive(self._router, _lwrite(self, key, version, "LSET", index,
                                                       value=(value,))))

    def lrem(self, key: Any, count: int, value: Any, version: int | None = None) -> int:
        """Remove ``count`` occurrences of ``value`` (from the end if negative; 0: all);
        how many were removed."""
        return int(drive(self._router, _lwrite(self, key, version, "LREM", count,
                                               value=(value,), idempotent=False)))

    async def alrem(self, key: Any, count: int, value: Any, version: int | None = None
                    ) -> int:
        return int(await adrive(self._router, _lwrite(self, key, version, "LREM", count,
                                                      value=(value,), idempotent=False)))

    def ltrim(self, key: Any, start: int, end: int, version: int | None = None) -> bool:
        """Keep only ``start``..``end`` (inclusive); True."""
        return bool(drive(self._router, _lwrite(self, key, version, "LTRIM", start, end)))

    async def altrim(self, key: Any, start: int, end: int, version: int | None = None
                     ) -> bool:
        return bool(await adrive(self._router, _lwrite(self, key, version, "LTRIM", start,
                                                       end)))

    def linsert(self, key: Any, where: str, refvalue: Any, value: Any,
                version: int | None = None) -> int:
        """Insert ``value`` ``"BEFORE"``/``"AFTER"`` the first ``refvalue``; the new length,
        -1 if ``refvalue`` is not there, 0 if the key is missing. Not replayed."""
        return drive(self._router, _linsert(self, key, where, refvalue, value, version))

    async def alinsert(self, key: Any, where: str, refvalue: Any, value: Any,
                       version: int | None = None) -> int:
        return await adrive(self._router, _linsert(self, key, where, refvalue, value, version))

    def lmove(self, source: Any, destination: Any, src: str = "LEFT", dest: str = "RIGHT",
              version: int | None = None) -> Any:
        """Pop from ``src`` end of ``source`` and push to ``dest`` end of ``destination``
        atomically; the value moved, or None. Both keys on one node (hash tags)."""
        return drive(self._router, _lmove(self, source, destination, src, dest, version))

    async def almove(self, source: Any, destination: Any, src: str = "LEFT",
                     dest: str = "RIGHT", version: int | None = None) -> Any:
        return await adrive(self._router,
                            _lmove(self, source, destination, src, dest, version))

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
