"""Sorted sets of codec-encoded members with float scores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..flow import Flow, adrive, drive
from ._common import Host, command, need, pairs


def _zadd(c: Host, key: Any, mapping: Mapping[Any, float], version: int | None) -> Flow[int]:
    need("zadd", list(mapping))
    k = c.make_and_validate_key(key, version=version)
    args: list[Any] = []
    for member, score in mapping.items():
        args += (float(score), c._encode(member, k))
    return int((yield from command(key, k, "zset", ("ZADD", k, *args))))


def _zrem(c: Host, key: Any, members: tuple[Any, ...], version: int | None) -> Flow[int]:
    need("zrem", members)
    k = c.make_and_validate_key(key, version=version)
    encoded = [c._encode(m, k) for m in members]
    return int((yield from command(key, k, "zset", ("ZREM", k, *encoded))))


def _zmember(c: Host, name: str, key: Any, member: Any, version: int | None) -> Flow[Any]:
    k = c.make_and_validate_key(key, version=version)
    return (yield from command(key, k, "zset", (name, k, c._encode(member, k)), write=False))


def _zscore(c: Host, key: Any, member: Any, version: int | None) -> Flow[float | None]:
    raw = yield from _zmember(c, "ZSCORE", key, member, version)
    return None if raw is None else float(raw)


def _zrank(c: Host, key: Any, member: Any, version: int | None) -> Flow[int | None]:
    raw = yield from _zmember(c, "ZRANK", key, member, version)
    return None if raw is None else int(raw)


def _zrange(c: Host, name: str, key: Any, start: int, end: int, withscores: bool,
            version: int | None) -> Flow[list[Any]]:
    k = c.make_and_validate_key(key, version=version)
    decode = c._decode
    if not withscores:
        reply = yield from command(key, k, "zset", (name, k, start, end), write=False)
        return [decode(raw, k) for raw in reply]
    reply = yield from command(key, k, "zset", (name, k, start, end, "WITHSCORES"),
                               write=False)
    return [(decode(raw, k), float(score)) for raw, score in pairs(reply)]


def _zincrby(c: Host, key: Any, member: Any, amount: float, version: int | None
             ) -> Flow[float]:
    k = c.make_and_validate_key(key, version=version)
    args = ("ZINCRBY", k, float(amount), c._encode(member, k))
    return float((yield from command(key, k, "zset", args, idempotent=False)))


def _zcard(c: Host, key: Any, version: int | None) -> Flow[int]:
    k = c.make_and_validate_key(key, version=version)
    return int((yield from command(key, k, "zset", ("ZCARD", k), write=False)))


class ZSetMixin(Host):
    """``zadd zrem zscore zrank zrange zrevrange zincrby zcard`` and their ``a`` twins."""

    def zadd(self, key: Any, mapping: Mapping[Any, float], version: int | None = None) -> int:
        """Add or re-score ``{member: score}``; how many members were new."""
        return drive(self._router, _zadd(self, key, mapping, version))

    async def azadd(self, key: Any, mapping: Mapping[Any, float],
                    version: int | None = None) -> int:
        return await adrive(self._router, _zadd(self, key, mapping, version))

    def zrem(self, key: Any, *members: Any, version: int | None = None) -> int:
        """Remove members; how many were there."""
        return drive(self._router, _zrem(self, key, members, version))

    async def azrem(self, key: Any, *members: Any, version: int | None = None) -> int:
        return await adrive(self._router, _zrem(self, key, members, version))

    def zscore(self, key: Any, member: Any, version: int | None = None) -> float | None:
        """The member's score, or None if it (or the key) is missing."""
        return drive(self._router, _zscore(self, key, member, version))

    async def azscore(self, key: Any, member: Any, version: int | None = None
                      ) -> float | None:
        return await adrive(self._router, _zscore(self, key, member, version))

    def zrank(self, key: Any, member: Any, version: int | None = None) -> int | None:
        """0-based rank by ascending score, or None if missing."""
        return drive(self._router, _zrank(self, key, member, version))

    async def azrank(self, key: Any, member: Any, version: int | None = None) -> int | None:
        return await adrive(self._router, _zrank(self, key, member, version))

    def zrange(self, key: Any, start: int = 0, end: int = -1, withscores: bool = False,
               version: int | None = None) -> list[Any]:
        """Members by ascending score, ranks ``start``..``end`` inclusive; with
        ``withscores`` a list of ``(member, score)``."""
        return drive(self._router,
                     _zrange(self, "ZRANGE", key, start, end, withscores, version))

    async def azrange(self, key: Any, start: int = 0, end: int = -1,
                      withscores: bool = False, version: int | None = None) -> list[Any]:
        return await adrive(self._router,
                            _zrange(self, "ZRANGE", key, start, end, withscores, version))

    def zrevrange(self, key: Any, start: int = 0, end: int = -1, withscores: bool = False,
                  version: int | None = None) -> list[Any]:
        """Like ``zrange``, by descending score."""
        return drive(self._router,
                     _zrange(self, "ZREVRANGE", key, start, end, withscores, version))

    async def azrevrange(self, key: Any, start: int = 0, end: int = -1,
                         withscores: bool = False, version: int | None = None) -> list[Any]:
        return await adrive(self._router,
                            _zrange(self, "ZREVRANGE", key, start, end, withscores, version))

    def zincrby(self, key: Any, member: Any, amount: float = 1.0,
                version: int | None = None) -> float:
        """Add ``amount`` to the member's score (missing: 0); the new score. Never replayed
        after a possible send."""
        return drive(self._router, _zincrby(self, key, member, amount, version))

    async def azincrby(self, key: Any, member: Any, amount: float = 1.0,
                       version: int | None = None) -> float:
        return await adrive(self._router, _zincrby(self, key, member, amount, version))

    def zcard(self, key: Any, version: int | None = None) -> int:
        """Number of members (0 for a missing key)."""
        return drive(self._router, _zcard(self, key, version))

    async def azcard(self, key: Any, version: int | None = None) -> int:
        return await adrive(self._router, _zcard(self, key, version))
