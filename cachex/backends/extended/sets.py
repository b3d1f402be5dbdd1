"""Sets of codec-encoded members. Membership is by stored bytes: two values are the same
member when they encode to the same bytes (plain ints are stored as their digits).

Names, argument order and return values follow django-redis 7 (and so redis-py): set
results come back as Python sets, ``spop``/``srandmember`` without ``count`` as one member.
Multi-key commands (``sdiff``, ``sinter``, ``sunion``, their ``*store`` variants and
``smove``) need every key on one node; see ``together``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..flow import Flow, adrive, drive
from ._common import Host, command, need, scan_page, together
from .scan import glob_matcher

DEFAULT_SSCAN_COUNT = 10


def _key(c: Host, key: Any, version: int | None) -> str:
    return c.make_and_validate_key(key, version=version)


def _write(c: Host, name: str, key: Any, members: tuple[Any, ...], version: int | None
           ) -> Flow[int]:
    need(name.lower(), members)
    k = _key(c, key, version)
    encoded = [c._encode(m, k) for m in members]
    return int((yield from command(key, k, "set", (name, k, *encoded))))


def _smembers(c: Host, key: Any, version: int | None) -> Flow[set[Any]]:
    k = _key(c, key, version)
    reply = yield from command(key, k, "set", ("SMEMBERS", k), write=False)
    return {c._decode(raw, k) for raw in reply}


def _sismember(c: Host, key: Any, member: Any, version: int | None) -> Flow[bool]:
    k = _key(c, key, version)
    args = ("SISMEMBER", k, c._encode(member, k))
    return bool((yield from command(key, k, "set", args, write=False)))


def _smismember(c: Host, key: Any, members: tuple[Any, ...], version: int | None
                ) -> Flow[list[bool]]:
    need("smismember", members)
    k = _key(c, key, version)
    args = ("SMISMEMBER", k, *(c._encode(m, k) for m in members))
    return [bool(x) for x in (yield from command(key, k, "set", args, write=False))]


def _scard(c: Host, key: Any, version: int | None) -> Flow[int]:
    k = _key(c, key, version)
    return int((yield from command(key, k, "set", ("SCARD", k), write=False)))


def _combine(c: Host, name: str, keys: tuple[Any, ...], version: int | None
             ) -> Flow[set[Any]]:
    need(name.lower(), keys)
    made = [_key(c, key, version) for key in keys]
    together(c, name.lower(), made)
    reply = yield from command(keys[0], made[0], "set", (name, *made), write=False)
    return {c._decode(raw, made[0]) for raw in reply}


def _store(c: Host, name: str, dest: Any, keys: tuple[Any, ...], version_dest: int | None,
           version_keys: int | None) -> Flow[int]:
    need(name.lower(), keys)
    d = _key(c, dest, version_dest)
    made = [_key(c, key, version_keys) for key in keys]
    together(c, name.lower(), [d, *made])
    return int((yield from command(dest, d, "set", (name, d, *made))))


def _smove(c: Host, source: Any, destination: Any, member: Any, version: int | None
           ) -> Flow[bool]:
    s = _key(c, source, version)
    d = _key(c, destination, version)
    together(c, "smove", [s, d])
    return bool((yield from command(source, s, "set", ("SMOVE", s, d, c._encode(member, s)))))


def _spop(c: Host, key: Any, count: int | None, version: int | None) -> Flow[Any]:
    k = _key(c, key, version)
    args: tuple[Any, ...] = ("SPOP", k) if count is None else ("SPOP", k, count)
    # a replay after a lost reply would pop other members: never replayed
    reply = yield from command(key, k, "set", args, idempotent=False)
    if count is None:
        return None if reply is None else c._decode(reply, k)
    return {c._decode(raw, k) for raw in reply or ()}


def _srandmember(c: Host, key: Any, count: int | None, version: int | None) -> Flow[Any]:
    k = _key(c, key, version)
    args: tuple[Any, ...] = ("SRANDMEMBER", k) if count is None else ("SRANDMEMBER", k, count)
    reply = yield from command(key, k, "set", args, write=False)
    if count is None:
        return None if reply is None else c._decode(reply, k)
    return [c._decode(raw, k) for raw in reply or ()]


def _sscan_page(c: Host, key: Any, k: str, cursor: int, count: int | None) -> Flow[Any]:
    cursor, raw = yield from scan_page(key, k, "set", "SSCAN", cursor, None, count)
    return cursor, [c._decode(item, k) for item in raw]


def _sscan(c: Host, key: Any, match: str | None, count: int | None, version: int | None
           ) -> Flow[set[Any]]:
    k = _key(c, key, version)
    keep = glob_matcher(match)
    found: set[Any] = set()
    cursor = None
    while cursor != 0:
        cursor, members = yield from _sscan_page(c, key, k, cursor or 0, count)
        found.update(m for m in members if keep(m))
    return found


class SetMixin(Host):
    """Set commands and their ``a`` twins, in django-redis 7's argument order."""

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

    def smismember(self, key: Any, *members: Any, version: int | None = None) -> list[bool]:
        """For each of ``members``, in order, whether it is in the set."""
        return drive(self._router, _smismember(self, key, members, version))

    async def asmismember(self, key: Any, *members: Any, version: int | None = None
                          ) -> list[bool]:
        return await adrive(self._router, _smismember(self, key, members, version))

    def scard(self, key: Any, version: int | None = None) -> int:
        """Number of members (0 for a missing key)."""
        return drive(self._router, _scard(self, key, version))

    async def ascard(self, key: Any, version: int | None = None) -> int:
        return await adrive(self._router, _scard(self, key, version))

    def sdiff(self, *keys: Any, version: int | None = None) -> set[Any]:
        """Members of the first set that are in none of the others."""
        return drive(self._router, _combine(self, "SDIFF", keys, version))

    async def asdiff(self, *keys: Any, version: int | None = None) -> set[Any]:
        return await adrive(self._router, _combine(self, "SDIFF", keys, version))

    def sinter(self, *keys: Any, version: int | None = None) -> set[Any]:
        """Members in every one of the sets."""
        return drive(self._router, _combine(self, "SINTER", keys, version))

    async def asinter(self, *keys: Any, version: int | None = None) -> set[Any]:
        return await adrive(self._router, _combine(self, "SINTER", keys, version))

    def sunion(self, *keys: Any, version: int | None = None) -> set[Any]:
        """Members in any of the sets."""
        return drive(self._router, _combine(self, "SUNION", keys, version))

    async def asunion(self, *keys: Any, version: int | None = None) -> set[Any]:
        return await adrive(self._router, _combine(self, "SUNION", keys, version))

    def sdiffstore(self, dest: Any, *keys: Any, version: int | None = None,
                   version_dest: int | None = None, version_keys: int | None = None) -> int:
        """Store ``sdiff(*keys)`` in ``dest`` (replacing it); its size. ``version_dest``/
        ``version_keys`` (django-redis) override ``version`` for one side."""
        return drive(self._router, _store(
            self, "SDIFFSTORE", dest, keys, version if version_dest is None else version_dest,
            version if version_keys is None else version_keys))

    async def asdiffstore(self, dest: Any, *keys: Any, version: int | None = None,
                          version_dest: int | None = None, version_keys: int | None = None
                          ) -> int:
        return await adrive(self._router, _store(
            self, "SDIFFSTORE", dest, keys, version if version_dest is None else version_dest,
            version if version_keys is None else version_keys))

    def sinterstore(self, dest: Any, *keys: Any, version: int | None = None,
                    version_dest: int | None = None, version_keys: int | None = None) -> int:
        """Store ``sinter(*keys)`` in ``dest``; its size."""
        return drive(self._router, _store(
            self, "SINTERSTORE", dest, keys,
            version if version_dest is None else version_dest,
            version if version_keys is None else version_keys))

    async def asinterstore(self, dest: Any, *keys: Any, version: int | None = None,
                           version_dest: int | None = None,
                           version_keys: int | None = None) -> int:
        return await adrive(self._router, _store(
            self, "SINTERSTORE", dest, keys,
            version if version_dest is None else version_dest,
            version if version_keys is None else version_keys))

    def sunionstore(self, dest: Any, *keys: Any, version: int | None = None,
                    version_dest: int | None = None, version_keys: int | None = None) -> int:
        """Store ``sunion(*keys)`` in ``dest``; its size."""
        return drive(self._router, _store(
            self, "SUNIONSTORE", dest, keys,
            version if version_dest is None else version_dest,
            version if version_keys is None else version_keys))

    async def asunionstore(self, dest: Any, *keys: Any, version: int | None = None,
                           version_dest: int | None = None,
                           version_keys: int | None = None) -> int:
        return await adrive(self._router, _store(
            self, "SUNIONSTORE", dest, keys,
            version if version_dest is None else version_dest,
            version if version_keys is None else version_keys))

    def smove(self, source: Any, destination: Any, member: Any,
              version: int | None = None) -> bool:
        """Move ``member`` from ``source`` to ``destination`` atomically; False if it was
        not in ``source``. ``version`` applies to both keys."""
        return drive(self._router, _smove(self, source, destination, member, version))

    async def asmove(self, source: Any, destination: Any, member: Any,
                     version: int | None = None) -> bool:
        return await adrive(self._router, _smove(self, source, destination, member, version))

    def spop(self, key: Any, count: int | None = None, version: int | None = None) -> Any:
        """Remove and return a random member (None if empty); with ``count``, a set of up
        to ``count`` members. Never replayed after a possible send."""
        return drive(self._router, _spop(self, key, count, version))

    async def aspop(self, key: Any, count: int | None = None, version: int | None = None
                    ) -> Any:
        return await adrive(self._router, _spop(self, key, count, version))

    def srandmember(self, key: Any, count: int | None = None, version: int | None = None
                    ) -> Any:
        """A random member (None if empty); with ``count``, a list (negative ``count``:
        repeats allowed)."""
        return drive(self._router, _srandmember(self, key, count, version))

    async def asrandmember(self, key: Any, count: int | None = None,
                           version: int | None = None) -> Any:
        return await adrive(self._router, _srandmember(self, key, count, version))

    def sscan(self, key: Any, match: str | None = None, count: int | None = DEFAULT_SSCAN_COUNT,
              version: int | None = None) -> set[Any]:
        """Every member, read with SSCAN page by page (``count`` a page-size hint), as a
        set. ``match``, a Redis glob, keeps the ``str`` members it matches (applied after
        decoding, so it works with every serializer and compressor)."""
        return drive(self._router, _sscan(self, key, match, count, version))

    async def asscan(self, key: Any, match: str | None = None,
                     count: int | None = DEFAULT_SSCAN_COUNT, version: int | None = None
                     ) -> set[Any]:
        return await adrive(self._router, _sscan(self, key, match, count, version))

    def sscan_iter(self, key: Any, match: str | None = None,
                   count: int | None = DEFAULT_SSCAN_COUNT, version: int | None = None
                   ) -> Iterator[Any]:
        """A generator over the members, one SSCAN page at a time (SCAN's guarantees: a
        member present throughout is seen; one added or removed meanwhile may not be)."""
        k = _key(self, key, version)
        keep = glob_matcher(match)
        cursor = None
        while cursor != 0:
            cursor, members = drive(self._router, _sscan_page(self, key, k, cursor or 0, count))
            yield from (m for m in members if keep(m))

    async def asscan_iter(self, key: Any, match: str | None = None,
                          count: int | None = DEFAULT_SSCAN_COUNT, version: int | None = None
                          ) -> AsyncIterator[Any]:
        k = _key(self, key, version)
        keep = glob_matcher(match)
        cursor = None
        while cursor != 0:
            cursor, members = await adrive(self._router,
                                           _sscan_page(self, key, k, cursor or 0, count))
            for member in members:
                if keep(member):
                    yield member
