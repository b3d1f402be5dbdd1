"""Sorted sets of codec-encoded members with float scores.

Names, argument order and return values are redis-py's (which django-redis 7 follows):
``zincrby(key, amount, member)``, ``zadd(key, mapping, nx=, xx=, ch=, incr=, gt=, lt=)``,
``zrange(key, start, end, desc=, withscores=, score_cast_func=)``... Scores given as
strings (``"-inf"``, ``"(5"``) pass through to the server unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from ..flow import Flow, adrive, drive
from ._common import Host, command, need, pairs, scan_page, together
from .scan import glob_matcher

Cast = Callable[[Any], Any]
# ZADD ... INCR through a script: its reply (a score, or nil) then reaches us as a plain
# string, whatever reply parsing the driver would apply to a ZADD.
ZADD_INCR = "return redis.call('ZADD', KEYS[1], unpack(ARGV))"


def _key(c: Host, key: Any, version: int | None) -> str:
    return c.make_and_validate_key(key, version=version)


def _read(c: Host, key: Any, version: int | None, name: str, *args: Any) -> Flow[Any]:
    k = _key(c, key, version)
    return (yield from command(key, k, "zset", (name, k, *args), write=False))


def _write(c: Host, key: Any, version: int | None, name: str, *args: Any,
           idempotent: bool = True) -> Flow[Any]:
    k = _key(c, key, version)
    return (yield from command(key, k, "zset", (name, k, *args), idempotent=idempotent))


def _members(c: Host, k: str, reply: Any, withscores: bool, cast: Cast) -> list[Any]:
    decode = c._decode
    if not withscores:
        return [decode(raw, k) for raw in reply]
    return [(decode(raw, k), cast(score)) for raw, score in pairs(reply)]


def _zadd(c: Host, key: Any, mapping: Mapping[Any, float], nx: bool, xx: bool, ch: bool,
          incr: bool, gt: bool, lt: bool, version: int | None) -> Flow[Any]:
    need("zadd", list(mapping))
    if nx and xx:
        raise ValueError("zadd() takes nx or xx, not both")
    if nx and (gt or lt):
        raise ValueError("zadd() takes nx or gt/lt, not both")
    if gt and lt:
        raise ValueError("zadd() takes gt or lt, not both")
    if incr and len(mapping) != 1:
        raise ValueError("zadd(incr=True) takes exactly one member/score pair")
    k = _key(c, key, version)
    flags = [name for name, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt),
                                   ("CH", ch), ("INCR", incr)) if on]
    args: list[Any] = []
    for member, score in mapping.items():
        args += (score, c._encode(member, k))
    if incr:  # adds to a score: not safe to replay after a possible send
        reply = yield from command(key, k, "zset", ("EVAL", ZADD_INCR, 1, k, *flags, *args),
                                   idempotent=False)
        return None if reply is None else float(reply)
    return int((yield from command(key, k, "zset", ("ZADD", k, *flags, *args))))


def _zrem(c: Host, key: Any, members: tuple[Any, ...], version: int | None) -> Flow[int]:
    need("zrem", members)
    k = _key(c, key, version)
    encoded = [c._encode(m, k) for m in members]
    return int((yield from command(key, k, "zset", ("ZREM", k, *encoded))))


def _zmember(c: Host, name: str, key: Any, member: Any, version: int | None,
             *extra: Any) -> Flow[Any]:
    k = _key(c, key, version)
    return (yield from command(key, k, "zset", (name, k, c._encode(member, k), *extra),
                               write=False))


def _zscore(c: Host, key: Any, member: Any, version: int | None) -> Flow[float | None]:
    raw = yield from _zmember(c, "ZSCORE", key, member, version)
    return None if raw is None else float(raw)


def _zmscore(c: Host, key: Any, members: Sequence[Any], version: int | None
             ) -> Flow[list[float | None]]:
    need("zmscore", list(members))
    k = _key(c, key, version)
    encoded = [c._encode(m, k) for m in members]
    reply = yield from command(key, k, "zset", ("ZMSCORE", k, *encoded), write=False)
    return [None if raw is None else float(raw) for raw in reply]


def _zrank(c: Host, name: str, key: Any, member: Any, withscore: bool,
           version: int | None) -> Flow[Any]:
    if withscore:  # Redis 7.2+: [rank, score]
        raw = yield from _zmember(c, name, key, member, version, "WITHSCORE")
        return None if raw is None else [int(raw[0]), float(raw[1])]
    raw = yield from _zmember(c, name, key, member, version)
    return None if raw is None else int(raw)


def _zrange(c: Host, key: Any, start: Any, end: Any, desc: bool, withscores: bool,
            cast: Cast, byscore: bool, bylex: bool, offset: int | None, num: int | None,
            version: int | None) -> Flow[list[Any]]:
    if byscore and bylex:
        raise ValueError("zrange() takes byscore or bylex, not both")
    if (offset is None) != (num is None):
        raise ValueError("zrange() needs offset and num together")
    if offset is not None and not (byscore or bylex):
        raise ValueError("zrange() takes offset/num only with byscore or bylex")
    if bylex and withscores:
        raise ValueError("zrange(bylex=True) cannot return scores")
    k = _key(c, key, version)
    args: list[Any] = ["ZRANGE", k, start, end]
    args += [flag for flag, on in (("BYSCORE", byscore), ("BYLEX", bylex), ("REV", desc)) if on]
    if offset is not None:
        args += ["LIMIT", offset, num]
    if withscores:
        args.append("WITHSCORES")
    reply = yield from command(key, k, "zset", tuple(args), write=False)
    return _members(c, k, reply, withscores, cast)


def _zrange_by(c: Host, name: str, key: Any, low: Any, high: Any, start: int | None,
               num: int | None, withscores: bool, cast: Cast, version: int | None
               ) -> Flow[list[Any]]:
    if (start is None) != (num is None):
        raise ValueError(f"{name.lower()}() needs start and num together")
    k = _key(c, key, version)
    args: list[Any] = [name, k, low, high]
    if withscores:
        args.append("WITHSCORES")
    if start is not None:
        args += ["LIMIT", start, num]
    reply = yield from command(key, k, "zset", tuple(args), write=False)
    return _members(c, k, reply, withscores, cast)


def _zrevrange(c: Host, key: Any, start: int, end: int, withscores: bool, cast: Cast,
               version: int | None) -> Flow[list[Any]]:
    k = _key(c, key, version)
    args: tuple[Any, ...] = ("ZREVRANGE", k, start, end)
    reply = yield from command(key, k, "zset", args + (("WITHSCORES",) if withscores else ()),
                               write=False)
    return _members(c, k, reply, withscores, cast)


def _zincrby(c: Host, key: Any, amount: float, member: Any, version: int | None
             ) -> Flow[float]:
    k = _key(c, key, version)
    args = ("ZINCRBY", k, amount, c._encode(member, k))
    return float((yield from command(key, k, "zset", args, idempotent=False)))


def _zpop(c: Host, name: str, key: Any, count: int | None, version: int | None) -> Flow[Any]:
    k = _key(c, key, version)
    args: tuple[Any, ...] = (name, k) if count is None else (name, k, count)
    reply = yield from command(key, k, "zset", args, idempotent=False)
    popped = _members(c, k, reply, True, float)
    if count is None:  # django-redis: one (member, score), or None when empty
        return popped[0] if popped else None
    return popped


def _zscan(c: Host, key: Any, cursor: int, match: str | None, count: int | None,
           cast: Cast, version: int | None) -> Flow[tuple[int, list[tuple[Any, Any]]]]:
    k = _key(c, key, version)
    cursor, items = yield from scan_page(key, k, "zset", "ZSCAN", cursor, None, count)
    keep = glob_matcher(match)
    return cursor, [pair for pair in _members(c, k, items, True, cast) if keep(pair[0])]


def _zstore(c: Host, name: str, dest: Any, keys: Sequence[Any] | Mapping[Any, float],
            aggregate: str | None, version: int | None) -> Flow[int]:
    sources = list(keys)
    need(name.lower(), sources)
    d = _key(c, dest, version)
    made = [_key(c, key, version) for key in sources]
    together(c, name.lower(), [d, *made])
    args: list[Any] = [name, d, len(made), *made]
    if isinstance(keys, Mapping):
        args += ["WEIGHTS", *keys.values()]
    if aggregate is not None:
        args += ["AGGREGATE", aggregate.upper()]
    return int((yield from command(dest, d, "zset", tuple(args))))


class ZSetMixin(Host):
    """Sorted-set commands and their ``a`` twins, in redis-py's argument order."""

    def zadd(self, key: Any, mapping: Mapping[Any, float], nx: bool = False,
             xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False,
             lt: bool = False, version: int | None = None) -> Any:
        """Add or re-score ``{member: score}``. How many members were new (with ``ch``: new
        or changed); with ``incr``, the member's new score (None if nx/xx/gt/lt stopped it)."""
        return drive(self._router, _zadd(self, key, mapping, nx, xx, ch, incr, gt, lt, version))

    async def azadd(self, key: Any, mapping: Mapping[Any, float], nx: bool = False,
                    xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False,
                    lt: bool = False, version: int | None = None) -> Any:
        return await adrive(self._router,
                            _zadd(self, key, mapping, nx, xx, ch, incr, gt, lt, version))

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

    def zmscore(self, key: Any, members: Sequence[Any], version: int | None = None
                ) -> list[float | None]:
        """Scores of ``members`` in order (None for each missing one)."""
        return drive(self._router, _zmscore(self, key, members, version))

    async def azmscore(self, key: Any, members: Sequence[Any], version: int | None = None
                       ) -> list[float | None]:
        return await adrive(self._router, _zmscore(self, key, members, version))

    def zrank(self, key: Any, member: Any, withscore: bool = False,
              version: int | None = None) -> Any:
        """0-based rank by ascending score, or None if missing (``withscore``, Redis 7.2+:
        ``[rank, score]``)."""
        return drive(self._router, _zrank(self, "ZRANK", key, member, withscore, version))

    async def azrank(self, key: Any, member: Any, withscore: bool = False,
                     version: int | None = None) -> Any:
        return await adrive(self._router,
                            _zrank(self, "ZRANK", key, member, withscore, version))

    def zrevrank(self, key: Any, member: Any, withscore: bool = False,
                 version: int | None = None) -> Any:
        """0-based rank by descending score, or None if missing."""
        return drive(self._router, _zrank(self, "ZREVRANK", key, member, withscore, version))

    async def azrevrank(self, key: Any, member: Any, withscore: bool = False,
                        version: int | None = None) -> Any:
        return await adrive(self._router,
                            _zrank(self, "ZREVRANK", key, member, withscore, version))

    def zrange(self, key: Any, start: Any = 0, end: Any = -1, desc: bool = False,
               withscores: bool = False, score_cast_func: Cast = float,
               version: int | None = None, *, byscore: bool = False, bylex: bool = False,
               offset: int | None = None, num: int | None = None) -> list[Any]:
        """Members from ``start`` to ``end`` inclusive: ranks, or scores with ``byscore``,
        or lex bounds (``"[a"``, ``"(b"``, ``"-"``, ``"+"``) with ``bylex``; ``desc``
        reverses (then give the high bound first); ``offset``/``num`` page a by-score or
        by-lex range. With ``withscores``, ``[(member, score_cast_func(score)), ...]``."""
        return drive(self._router, _zrange(self, key, start, end, desc, withscores,
                                           score_cast_func, byscore, bylex, offset, num,
                                           version))

    async def azrange(self, key: Any, start: Any = 0, end: Any = -1, desc: bool = False,
                      withscores: bool = False, score_cast_func: Cast = float,
                      version: int | None = None, *, byscore: bool = False,
                      bylex: bool = False, offset: int | None = None, num: int | None = None
                      ) -> list[Any]:
        return await adrive(self._router, _zrange(self, key, start, end, desc, withscores,
                                                  score_cast_func, byscore, bylex, offset,
                                                  num, version))

    def zrevrange(self, key: Any, start: int = 0, end: int = -1, withscores: bool = False,
                  score_cast_func: Cast = float, version: int | None = None) -> list[Any]:
        """Like ``zrange``, by descending score."""
        return drive(self._router, _zrevrange(self, key, start, end, withscores,
                                              score_cast_func, version))

    async def azrevrange(self, key: Any, start: int = 0, end: int = -1,
                         withscores: bool = False, score_cast_func: Cast = float,
                         version: int | None = None) -> list[Any]:
        return await adrive(self._router, _zrevrange(self, key, start, end, withscores,
                                                     score_cast_func, version))

    def zrangebyscore(self, key: Any, min: Any, max: Any, start: int | None = None,
                      num: int | None = None, withscores: bool = False,
                      score_cast_func: Cast = float, version: int | None = None
                      ) -> list[Any]:
        """Members with ``min <= score <= max`` (``"(x"`` excludes, ``"-inf"``/``"+inf"``),
        ascending; ``start``/``num`` page the result."""
        return drive(self._router, _zrange_by(self, "ZRANGEBYSCORE", key, min, max, start,
                                              num, withscores, score_cast_func, version))

    async def azrangebyscore(self, key: Any, min: Any, max: Any, start: int | None = None,
                             num: int | None = None, withscores: bool = False,
                             score_cast_func: Cast = float, version: int | None = None
                             ) -> list[Any]:
        return await adrive(self._router, _zrange_by(
            self, "ZRANGEBYSCORE", key, min, max, start, num, withscores, score_cast_func,
            version))

    def zrevrangebyscore(self, key: Any, max: Any, min: Any, start: int | None = None,
                         num: int | None = None, withscores: bool = False,
                         score_cast_func: Cast = float, version: int | None = None
                         ) -> list[Any]:
        """Like ``zrangebyscore``, descending; note ``max`` comes first (redis-py order)."""
        return drive(self._router, _zrange_by(self, "ZREVRANGEBYSCORE", key, max, min, start,
                                              num, withscores, score_cast_func, version))

    async def azrevrangebyscore(self, key: Any, max: Any, min: Any,
                                start: int | None = None, num: int | None = None,
                                withscores: bool = False, score_cast_func: Cast = float,
                                version: int | None = None) -> list[Any]:
        return await adrive(self._router, _zrange_by(
            self, "ZREVRANGEBYSCORE", key, max, min, start, num, withscores,
            score_cast_func, version))

    def zcount(self, key: Any, min: Any, max: Any, version: int | None = None) -> int:
        """How many members have ``min <= score <= max``."""
        return int(drive(self._router, _read(self, key, version, "ZCOUNT", min, max)))

    async def azcount(self, key: Any, min: Any, max: Any, version: int | None = None) -> int:
        return int(await adrive(self._router, _read(self, key, version, "ZCOUNT", min, max)))

    def zincrby(self, key: Any, amount: float, member: Any,
                version: int | None = None) -> float:
        """Add ``amount`` to the member's score (missing: 0); the new score. redis-py's
        order: amount, then member. Never replayed after a possible send."""
        return drive(self._router, _zincrby(self, key, amount, member, version))

    async def azincrby(self, key: Any, amount: float, member: Any,
                       version: int | None = None) -> float:
        return await adrive(self._router, _zincrby(self, key, amount, member, version))

    def zpopmin(self, key: Any, count: int | None = None, version: int | None = None
                ) -> Any:
        """Remove and return the lowest-scored member as ``(member, score)`` (None when
        empty); with ``count``, a list of up to ``count`` pairs."""
        return drive(self._router, _zpop(self, "ZPOPMIN", key, count, version))

    async def azpopmin(self, key: Any, count: int | None = None,
                       version: int | None = None) -> Any:
        return await adrive(self._router, _zpop(self, "ZPOPMIN", key, count, version))

    def zpopmax(self, key: Any, count: int | None = None, version: int | None = None
                ) -> Any:
        """Like ``zpopmin``, highest scores first."""
        return drive(self._router, _zpop(self, "ZPOPMAX", key, count, version))

    async def azpopmax(self, key: Any, count: int | None = None,
                       version: int | None = None) -> Any:
        return await adrive(self._router, _zpop(self, "ZPOPMAX", key, count, version))

    def zremrangebyscore(self, key: Any, min: Any, max: Any, version: int | None = None
                         ) -> int:
        """Remove members with ``min <= score <= max``; how many."""
        return int(drive(self._router, _write(self, key, version, "ZREMRANGEBYSCORE",
                                              min, max)))

    async def azremrangebyscore(self, key: Any, min: Any, max: Any,
                                version: int | None = None) -> int:
        return int(await adrive(self._router, _write(self, key, version, "ZREMRANGEBYSCORE",
                                                     min, max)))

    def zremrangebyrank(self, key: Any, min: int, max: int, version: int | None = None
                        ) -> int:
        """Remove members ranked ``min``..``max`` (inclusive, negatives from the end)."""
        return int(drive(self._router, _write(self, key, version, "ZREMRANGEBYRANK",
                                              min, max)))

    async def azremrangebyrank(self, key: Any, min: int, max: int,
                               version: int | None = None) -> int:
        return int(await adrive(self._router, _write(self, key, version, "ZREMRANGEBYRANK",
                                                     min, max)))

    def zcard(self, key: Any, version: int | None = None) -> int:
        """Number of members (0 for a missing key)."""
        return int(drive(self._router, _read(self, key, version, "ZCARD")))

    async def azcard(self, key: Any, version: int | None = None) -> int:
        return int(await adrive(self._router, _read(self, key, version, "ZCARD")))

    def zunionstore(self, dest: Any, keys: Sequence[Any] | Mapping[Any, float],
                    aggregate: str | None = None, version: int | None = None) -> int:
        """Store the union of the sorted sets ``keys`` (a list, or ``{key: weight}``) in
        ``dest``; its size. ``aggregate``: ``"SUM"`` (default), ``"MIN"`` or ``"MAX"``.
        All keys must live on one node (hash tags)."""
        return drive(self._router, _zstore(self, "ZUNIONSTORE", dest, keys, aggregate,
                                           version))

    async def azunionstore(self, dest: Any, keys: Sequence[Any] | Mapping[Any, float],
                           aggregate: str | None = None, version: int | None = None) -> int:
        return await adrive(self._router, _zstore(self, "ZUNIONSTORE", dest, keys, aggregate,
                                                  version))

    def zinterstore(self, dest: Any, keys: Sequence[Any] | Mapping[Any, float],
                    aggregate: str | None = None, version: int | None = None) -> int:
        """Like ``zunionstore``, for the intersection."""
        return drive(self._router, _zstore(self, "ZINTERSTORE", dest, keys, aggregate,
                                           version))

    async def azinterstore(self, dest: Any, keys: Sequence[Any] | Mapping[Any, float],
                           aggregate: str | None = None, version: int | None = None) -> int:
        return await adrive(self._router, _zstore(self, "ZINTERSTORE", dest, keys, aggregate,
                                                  version))

    def zscan(self, key: Any, cursor: int = 0, match: str | None = None,
              count: int | None = None, score_cast_func: Cast = float,
              version: int | None = None) -> tuple[int, list[tuple[Any, Any]]]:
        """One ZSCAN page (redis-py): ``(next_cursor, [(member, score), ...])``; 0 means
        done. ``match`` is a glob kept for decoded ``str`` members (as in ``sscan``)."""
        return drive(self._router, _zscan(self, key, cursor, match, count, score_cast_func,
                                          version))

    async def azscan(self, key: Any, cursor: int = 0, match: str | None = None,
                     count: int | None = None, score_cast_func: Cast = float,
                     version: int | None = None) -> tuple[int, list[tuple[Any, Any]]]:
        return await adrive(self._router, _zscan(self, key, cursor, match, count,
                                                 score_cast_func, version))

    def zscan_iter(self, key: Any, match: str | None = None, count: int | None = None,
                   score_cast_func: Cast = float, version: int | None = None
                   ) -> Iterator[tuple[Any, Any]]:
        """``(member, score)`` pairs, one ZSCAN page at a time."""
        cursor = None
        while cursor != 0:
            cursor, page = drive(self._router, _zscan(self, key, cursor or 0, match, count,
                                                      score_cast_func, version))
            yield from page

    async def azscan_iter(self, key: Any, match: str | None = None, count: int | None = None,
                          score_cast_func: Cast = float, version: int | None = None
                          ) -> AsyncIterator[tuple[Any, Any]]:
        cursor = None
        while cursor != 0:
            cursor, page = await adrive(self._router, _zscan(
                self, key, cursor or 0, match, count, score_cast_func, version))
            for pair in page:
                yield pair
