"""Hashes: field names are plain strings, field values go through the alias's codec.

Names and argument order are redis-py's and django-redis 7's (``hset(key, field, value,
mapping=None)``, ``hmget(key, fields)``, ``hincrby(key, field, amount=1)``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from ..flow import Flow, adrive, drive
from ._common import Host, command, need, pairs, scan_page, text


def _hset(c: Host, key: Any, field: str | None, value: Any,
          mapping: Mapping[str, Any] | None, version: int | None) -> Flow[int]:
    k = c.make_and_validate_key(key, version=version)
    items: list[Any] = [] if field is None else [field, c._encode(value, k)]
    for name, item in (mapping or {}).items():
        items += (name, c._encode(item, k))
    if not items:
        raise TypeError("hset() needs a field and value, or a mapping")
    return int((yield from command(key, k, "hash", ("HSET", k, *items))))


def _hsetnx(c: Host, key: Any, field: str, value: Any, version: int | None) -> Flow[bool]:
    k = c.make_and_validate_key(key, version=version)
    args = ("HSETNX", k, field, c._encode(value, k))
    return bool((yield from command(key, k, "hash", args, idempotent=False)))


def _hmget(c: Host, key: Any, fields: list[str], version: int | None) -> Flow[list[Any]]:
    need("hmget", fields)
    k = c.make_and_validate_key(key, version=version)
    reply = yield from command(key, k, "hash", ("HMGET", k, *fields), write=False)
    return [None if raw is None else c._decode(raw, k) for raw in reply]


def _hvals(c: Host, key: Any, version: int | None) -> Flow[list[Any]]:
    k = c.make_and_validate_key(key, version=version)
    reply = yield from command(key, k, "hash", ("HVALS", k), write=False)
    return [c._decode(raw, k) for raw in reply]


def _hincrbyfloat(c: Host, key: Any, field: str, amount: float, version: int | None
                  ) -> Flow[float]:
    k = c.make_and_validate_key(key, version=version)
    return float((yield from command(key, k, "hash", ("HINCRBYFLOAT", k, field, amount),
                                     idempotent=False)))


def _hscan(c: Host, key: Any, cursor: int, match: str | None, count: int | None,
           version: int | None) -> Flow[tuple[int, dict[str, Any]]]:
    k = c.make_and_validate_key(key, version=version)
    cursor, items = yield from scan_page(key, k, "hash", "HSCAN", cursor, match, count)
    return cursor, {text(f): c._decode(v, k) for f, v in pairs(items)}


def _fields(fields: str | Iterable[str], more: tuple[str, ...]) -> list[str]:
    """redis-py's ``hmget(name, keys, *args)``: a list of fields, or fields as arguments."""
    first = [fields] if isinstance(fields, (str, bytes)) else list(fields)
    return first + list(more)


def _hget(c: Host, key: Any, field: str, default: Any, version: int | None) -> Flow[Any]:
    k = c.make_and_validate_key(key, version=version)
    raw = yield from command(key, k, "hash", ("HGET", k, field), write=False)
    return default if raw is None else c._decode(raw, k)


def _hgetall(c: Host, key: Any, version: int | None) -> Flow[dict[str, Any]]:
    k = c.make_and_validate_key(key, version=version)
    reply = yield from command(key, k, "hash", ("HGETALL", k), write=False)
    decode = c._decode
    return {text(f): decode(v, k) for f, v in pairs(reply)}


def _hdel(c: Host, key: Any, fields: tuple[str, ...], version: int | None) -> Flow[int]:
    need("hdel", fields)
    k = c.make_and_validate_key(key, version=version)
    return int((yield from command(key, k, "hash", ("HDEL", k, *fields))))


def _hread(c: Host, key: Any, version: int | None, *args: Any) -> Flow[Any]:
    k = c.make_and_validate_key(key, version=version)
    return (yield from command(key, k, "hash", (args[0], k, *args[1:]), write=False))


def _hkeys(c: Host, key: Any, version: int | None) -> Flow[list[str]]:
    return [text(f) for f in (yield from _hread(c, key, version, "HKEYS"))]


def _hincrby(c: Host, key: Any, field: str, amount: int, version: int | None) -> Flow[int]:
    k = c.make_and_validate_key(key, version=version)
    return int((yield from command(key, k, "hash", ("HINCRBY", k, field, amount),
                                   idempotent=False)))


class HashMixin(Host):
    """Hash commands and their ``a`` twins."""

    def hset(self, key: Any, field: str | None = None, value: Any = None,
             mapping: Mapping[str, Any] | None = None, version: int | None = None) -> int:
        """Set one field, and/or every field of ``mapping``; how many fields are new."""
        return drive(self._router, _hset(self, key, field, value, mapping, version))

    async def ahset(self, key: Any, field: str | None = None, value: Any = None,
                    mapping: Mapping[str, Any] | None = None, version: int | None = None
                    ) -> int:
        return await adrive(self._router, _hset(self, key, field, value, mapping, version))

    def hsetnx(self, key: Any, field: str, value: Any, version: int | None = None) -> bool:
        """Set the field only if it does not exist; whether it was set."""
        return drive(self._router, _hsetnx(self, key, field, value, version))

    async def ahsetnx(self, key: Any, field: str, value: Any, version: int | None = None
                      ) -> bool:
        return await adrive(self._router, _hsetnx(self, key, field, value, version))

    def hmget(self, key: Any, fields: str | Iterable[str], *more: str,
              version: int | None = None) -> list[Any]:
        """Values of ``fields`` in order, None for each missing one (redis-py: a list of
        fields, or the fields as arguments)."""
        return drive(self._router, _hmget(self, key, _fields(fields, more), version))

    async def ahmget(self, key: Any, fields: str | Iterable[str], *more: str,
                     version: int | None = None) -> list[Any]:
        return await adrive(self._router, _hmget(self, key, _fields(fields, more), version))

    def hvals(self, key: Any, version: int | None = None) -> list[Any]:
        """Every field's value ( [] for a missing key)."""
        return drive(self._router, _hvals(self, key, version))

    async def ahvals(self, key: Any, version: int | None = None) -> list[Any]:
        return await adrive(self._router, _hvals(self, key, version))

    def hincrbyfloat(self, key: Any, field: str, amount: float = 1.0,
                     version: int | None = None) -> float:
        """Add ``amount`` to a numeric field (missing: 0); the new value. Not replayed."""
        return drive(self._router, _hincrbyfloat(self, key, field, amount, version))

    async def ahincrbyfloat(self, key: Any, field: str, amount: float = 1.0,
                            version: int | None = None) -> float:
        return await adrive(self._router, _hincrbyfloat(self, key, field, amount, version))

    def hget(self, key: Any, field: str, default: Any = None,
             version: int | None = None) -> Any:
        """The field's value, or ``default`` if the field or the key is missing."""
        return drive(self._router, _hget(self, key, field, default, version))

    async def ahget(self, key: Any, field: str, default: Any = None,
                    version: int | None = None) -> Any:
        return await adrive(self._router, _hget(self, key, field, default, version))

    def hgetall(self, key: Any, version: int | None = None) -> dict[str, Any]:
        """Every field and value (``{}`` for a missing key)."""
        return drive(self._router, _hgetall(self, key, version))

    async def ahgetall(self, key: Any, version: int | None = None) -> dict[str, Any]:
        return await adrive(self._router, _hgetall(self, key, version))

    def hdel(self, key: Any, *fields: str, version: int | None = None) -> int:
        """Delete fields; how many existed."""
        return drive(self._router, _hdel(self, key, fields, version))

    async def ahdel(self, key: Any, *fields: str, version: int | None = None) -> int:
        return await adrive(self._router, _hdel(self, key, fields, version))

    def hlen(self, key: Any, version: int | None = None) -> int:
        """Number of fields (0 for a missing key)."""
        return int(drive(self._router, _hread(self, key, version, "HLEN")))

    async def ahlen(self, key: Any, version: int | None = None) -> int:
        return int(await adrive(self._router, _hread(self, key, version, "HLEN")))

    def hkeys(self, key: Any, version: int | None = None) -> list[str]:
        """Field names ( [] for a missing key)."""
        return drive(self._router, _hkeys(self, key, version))

    async def ahkeys(self, key: Any, version: int | None = None) -> list[str]:
        return await adrive(self._router, _hkeys(self, key, version))

    def hexists(self, key: Any, field: str, version: int | None = None) -> bool:
        """Whether the field exists."""
        return bool(drive(self._router, _hread(self, key, version, "HEXISTS", field)))

    async def ahexists(self, key: Any, field: str, version: int | None = None) -> bool:
        return bool(await adrive(self._router, _hread(self, key, version, "HEXISTS", field)))

    def hincrby(self, key: Any, field: str, amount: int = 1, version: int | None = None
                ) -> int:
        """Add ``amount`` to an integer field (missing: 0); the new value. Never replayed
        by the retry policy after a possible send."""
        return drive(self._router, _hincrby(self, key, field, amount, version))

    async def ahincrby(self, key: Any, field: str, amount: int = 1,
                       version: int | None = None) -> int:
        return await adrive(self._router, _hincrby(self, key, field, amount, version))

    def hscan(self, key: Any, cursor: int = 0, match: str | None = None,
              count: int | None = None, version: int | None = None
              ) -> tuple[int, dict[str, Any]]:
        """One HSCAN page (redis-py): ``(next_cursor, {field: value})``; 0 means done.
        ``match`` is a glob on field names."""
        return drive(self._router, _hscan(self, key, cursor, match, count, version))

    async def ahscan(self, key: Any, cursor: int = 0, match: str | None = None,
                     count: int | None = None, version: int | None = None
                     ) -> tuple[int, dict[str, Any]]:
        return await adrive(self._router, _hscan(self, key, cursor, match, count, version))

    def hscan_iter(self, key: Any, match: str | None = None, count: int | None = None,
                   version: int | None = None) -> Iterator[tuple[str, Any]]:
        """``(field, value)`` pairs, one HSCAN page at a time."""
        cursor = None
        while cursor != 0:
            cursor, page = drive(self._router,
                                 _hscan(self, key, cursor or 0, match, count, version))
            yield from page.items()

    async def ahscan_iter(self, key: Any, match: str | None = None, count: int | None = None,
                          version: int | None = None) -> AsyncIterator[tuple[str, Any]]:
        cursor = None
        while cursor != 0:
            cursor, page = await adrive(self._router,
                                        _hscan(self, key, cursor or 0, match, count, version))
            for item in page.items():
                yield item
