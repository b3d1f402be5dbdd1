"""The near cache's hooks on the Django facade, as a mixin put in front of the backend class
only for aliases that enable it (``near_class``): an alias without ``near_cache`` runs the
plain class, with no extra check on any call.

Reads (``get``, ``get_many``, ``has_key`` and their twins) answer from the store when they
can; a miss reads the value *and* its PTTL from the primary in one round-trip and stores it
under the fill rule (``core.NearCache.token``). A ``get_many`` whose keys are all here never
reaches the router: the front (``front.py``) or one store lookup answers it, and only values
kept encoded are decoded. Every write through this process drops the
local copies of the keys it touched once the server has answered (or failed), so a thread
reads its own writes; other processes' writes arrive as invalidations.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from time import monotonic
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT

from ..backends.flow import Call, Flow, Run, adrive, drive
from ..policy import FailedReplies
from .core import NearCache
from .store import Entry, _deadline, _decoded, _value

_classes: dict[type, type] = {}
_MISSING = object()


def near_class(cls: type) -> type:
    """``cls`` with the near cache's hooks in front (one class per backend class)."""
    try:
        return _classes[cls]
    except KeyError:
        made = _classes[cls] = type(f"Near{cls.__name__}", (NearMixin, cls), _writes(cls))
        return made


class NearMixin:
    _near: NearCache

    # -- reads: keys and hits (no I/O) -------------------------------------------------
    def _near_key(self, key: Any, version: int | None) -> str:
        """``make_and_validate_key``, answered from the remembered keys when it can."""
        v = self.version if version is None else version  # type: ignore[attr-defined]
        made = self._near.made
        k = made.one(key, v)
        if k is None:
            plain = self._plain_made_keys([key], version)  # type: ignore[attr-defined]
            if plain is None:
                return self.make_and_validate_key(key, version=version)  # type: ignore[attr-defined,no-any-return]
            k = plain[0]
            made.learn((key,), plain, v)
        return k

    def _near_keys(self, keys: list[Any], version: int | None, v: Any
                   ) -> tuple[list[str], bool]:
        """``_make_keys`` (answered from the remembered keys when every one is there), and
        whether the batch key path made them (so no key needs Django's warnings)."""
        memo = self._near.made
        made = memo.many(keys, v)
        if made is not None:
            return made, True
        made = self._plain_made_keys(keys, version)  # type: ignore[attr-defined]
        if made is None:
            return [self.make_and_validate_key(k, version=version)  # type: ignore[attr-defined]
                    for k in keys], False
        memo.learn(keys, made, v)
        return made, True

    def _near_lookup(self, keys: list[Any], version: int | None
                     ) -> tuple[dict[Any, Any] | None, list[str], list[Entry | None]]:
        """The whole answer when every key is here (no I/O), else the stored keys and the
        entries found (None: a miss) for ``_near_fetch``. One lock per batch: the front's
        hits, or the store's lookup."""
        near = self._near
        v = self.version if version is None else version  # type: ignore[attr-defined]
        found = near.front.get(keys, v)
        if found is not None:
            return found, [], []
        store = near.store
        seq, gen = store.seq, store.gen  # before the lookup: a change after it voids the front
        made, plain = self._near_keys(keys, v=v, version=version)
        got = store.get_many(made)
        if None in got:
            return None, made, got
        if plain and all(map(_decoded, got)):  # type: ignore[arg-type]
            values = list(map(_value, got))  # type: ignore[arg-type]
            near.front.add(seq, gen, v, keys, values, min(map(_deadline, got)))  # type: ignore[arg-type]
            return dict(zip(keys, values)), made, got
        return self._near_found(keys, made, got), made, got  # type: ignore[arg-type]

    def _near_found(self, keys: list[Any], made: list[str], got: list[Entry]) -> dict[Any, Any]:
        """The values of hits, decoding only those kept encoded."""
        if all(map(_decoded, got)):
            return dict(zip(keys, map(_value, got)))
        out: dict[Any, Any] = {}
        raws: list[bytes] = []
        raw_made: list[str] = []
        raw_keys: list[Any] = []
        for key, k, entry in zip(keys, made, got):
            if entry[3]:
                out[key] = entry[0]
            else:
                raws.append(entry[0])
                raw_made.append(k)
                raw_keys.append(key)
        out.update(self._decode_many(raws, raw_made, raw_keys))  # type: ignore[attr-defined]
        return out

    # -- reads: flows written once -----------------------------------------------------
    def _near_fill(self, k: str, default: Any) -> Flow[Any]:
        near = self._near
        token = near.token(k)
        if token is None:  # not to be kept (a channel down, a key outside the prefixes)
            raw = yield Call(k, ("GET", k), write=False, degradable=True)
            return default if raw is None else self._decode(raw, k)  # type: ignore[attr-defined]
        node = self._topology.locate(k)  # type: ignore[attr-defined]
        sent = monotonic()
        reply = (yield Run([(node, [("GET", k), ("PTTL", k)])], degradable=True))[0]
        if isinstance(reply, FailedReplies):
            return default
        raw, pttl = reply
        if raw is None:
            return default
        value = self._decode(raw, k)  # type: ignore[attr-defined]
        near.keep(k, raw, value, pttl, sent, token)
        return value

    def _near_fetch(self, keys: list[Any], made: list[str], got: list[Entry | None]
                    ) -> Flow[dict[Any, Any]]:
        """``get_many`` past the hits in ``got``: the misses from their primaries (value and
        PTTL in one round-trip per node), kept under the fill rule."""
        near = self._near
        hit = [i for i, entry in enumerate(got) if entry is not None]
        out = self._near_found([keys[i] for i in hit], [made[i] for i in hit],
                               [got[i] for i in hit]) if hit else {}  # type: ignore[misc]
        missing = list(dict.fromkeys(k for k, entry in zip(made, got) if entry is None))
        tokens = {k: near.token(k) for k in missing}
        batches = self._plan(missing, write=True)  # type: ignore[attr-defined]
        commands = []
        for b in batches:
            ordered = [k for g in b.groups for k in g.keys]
            commands.append((b.node, [*(("MGET", *g.keys) for g in b.groups),
                                      *(("PTTL", k) for k in ordered)]))
        sent = monotonic()
        replies = yield Run(commands, degradable=True)
        decode = self._decode  # type: ignore[attr-defined]
        fetched: dict[str, Any] = {}  # by stored key: two keys may make the same one
        raws: list[bytes] = []
        raw_made: list[str] = []
        for b, reply in zip(batches, replies):
            if isinstance(reply, FailedReplies):
                continue
            n = len(b.groups)
            pttls = iter(reply[n:])
            for g, values in zip(b.groups, reply[:n]):
                for k, raw in zip(g.keys, values):
                    pttl = next(pttls)
                    if raw is None:
                        continue
                    token = tokens[k]
                    if token is not None:
                        try:
                            value = decode(raw, k)
                        except Exception:  # the batch decoder below names and skips it
                            pass
                        else:
                            near.keep(k, raw, value, pttl, sent, token)
                            fetched[k] = value
                            continue
                    raws.append(raw)
                    raw_made.append(k)
        if raws:
            fetched.update(self._decode_many(raws, raw_made, raw_made))  # type: ignore[attr-defined]
        for key, k, entry in zip(keys, made, got):
            if entry is None and k in fetched:
                out[key] = fetched[k]
        return out

    # -- reads: the API ----------------------------------------------------------------
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        k = self._near_key(key, version)
        entry = self._near.store.get(k)
        if entry is not None:
            return entry[0] if entry[3] else self._decode(entry[0], k)  # type: ignore[attr-defined]
        return drive(self._router, self._near_fill(k, default))  # type: ignore[attr-defined]

    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        k = self._near_key(key, version)
        entry = self._near.store.get(k)
        if entry is not None:
            return entry[0] if entry[3] else self._decode(entry[0], k)  # type: ignore[attr-defined]
        return await adrive(self._router, self._near_fill(k, default))  # type: ignore[attr-defined]

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        if not keys:
            return {}
        found, made, got = self._near_lookup(keys, version)
        if found is not None:  # every key here: no router, no plan
            return found
        return drive(self._router, self._near_fetch(keys, made, got))  # type: ignore[attr-defined]

    async def aget_many(self, keys: Iterable[Any], version: int | None = None
                        ) -> dict[Any, Any]:
        keys = list(keys)
        if not keys:
            return {}
        found, made, got = self._near_lookup(keys, version)
        if found is not None:
            return found
        return await adrive(self._router, self._near_fetch(keys, made, got))  # type: ignore[attr-defined]

    def get_or_set(self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT,
                   version: int | None = None, **kwargs: Any) -> Any:
        """A near ``get`` first (a hit, or a fill from the server); only a real miss runs
        Django's get-or-add, which writes, so the local copy is dropped after it."""
        value = self.get(key, _MISSING, version)
        if value is not _MISSING:
            return value
        try:
            return super().get_or_set(key, default, timeout, version, **kwargs)  # type: ignore[misc]
        finally:
            self._drop((key,), version)

    async def aget_or_set(self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT,
                          version: int | None = None, **kwargs: Any) -> Any:
        value = await self.aget(key, _MISSING, version)
        if value is not _MISSING:
            return value
        try:
            return await super().aget_or_set(key, default, timeout, version, **kwargs)  # type: ignore[misc]
        finally:
            self._drop((key,), version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        if self._near.store.has(self.make_key(key, version=version)):  # type: ignore[attr-defined]
            return True
        return super().has_key(key, version)  # type: ignore[misc, no-any-return]

    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        if self._near.store.has(self.make_key(key, version=version)):  # type: ignore[attr-defined]
            return True
        return await super().ahas_key(key, version)  # type: ignore[misc, no-any-return]

    # -- writes: drop the local copies once the server has answered ---------------------
    def _drop(self, keys: Iterable[Any], version: int | None) -> None:
        make = self.make_key  # type: ignore[attr-defined]
        self._near.drop([make(key, version=version) for key in keys])

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: int | None = None, nx: bool = False, xx: bool = False) -> Any:
        try:
            return super().set(key, value, timeout, version, nx, xx)  # type: ignore[misc]
        finally:
            self._drop((key,), version)

    async def aset(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
                   version: int | None = None, nx: bool = False, xx: bool = False) -> Any:
        try:
            return await super().aset(key, value, timeout, version, nx, xx)  # type: ignore[misc]
        finally:
            self._drop((key,), version)

    def set_many(self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT,
                 version: int | None = None) -> list[Any]:
        try:
            return super().set_many(data, timeout, version)  # type: ignore[misc, no-any-return]
        finally:
            self._drop(data, version)

    async def aset_many(self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT,
                        version: int | None = None) -> list[Any]:
        try:
            return await super().aset_many(data, timeout, version)  # type: ignore[misc, no-any-return]
        finally:
            self._drop(data, version)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> int | None:
        keys = list(keys)
        try:
            return super().delete_many(keys, version)  # type: ignore[misc, no-any-return]
        finally:
            self._drop(keys, version)

    async def adelete_many(self, keys: Iterable[Any], version: int | None = None
                           ) -> int | None:
        keys = list(keys)
        try:
            return await super().adelete_many(keys, version)  # type: ignore[misc, no-any-return]
        finally:
            self._drop(keys, version)

    def mset(self, data: Mapping[Any, Any], timeout: Any = None,
             version: int | None = None) -> None:
        try:
            super().mset(data, timeout, version)  # type: ignore[misc]
        finally:
            self._drop(data, version)

    async def amset(self, data: Mapping[Any, Any], timeout: Any = None,
                    version: int | None = None) -> None:
        try:
            await super().amset(data, timeout, version)  # type: ignore[misc]
        finally:
            self._drop(data, version)

    def incr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return super().incr_version(key, delta, version)  # type: ignore[misc, no-any-return]
        finally:
            self._flush()

    async def aincr_version(self, key: Any, delta: int = 1, version: int | None = None
                            ) -> int:
        try:
            return await super().aincr_version(key, delta, version)  # type: ignore[misc, no-any-return]
        finally:
            self._flush()

    def _flush(self) -> None:
        self._near.flush()

    def clear(self) -> None:
        try:
            super().clear()  # type: ignore[misc]
        finally:
            self._flush()

    async def aclear(self) -> None:
        try:
            await super().aclear()  # type: ignore[misc]
        finally:
            self._flush()

    def disconnect(self) -> None:
        """Also stop the near cache's channels and drop its values (both come back on use)."""
        super().disconnect()  # type: ignore[misc]
        self._near.disconnect()

    def near_stats(self) -> dict[str, int]:
        """The near cache's counters: hits, misses, fills, invalidations, evictions,
        expired, flushes, drops; and entries, bytes, channels_up now. See
        docs/near-cache.md."""
        return self._near.stats()


def _version_at(cls: type, name: str) -> int | None:
    """Where ``version`` sits among the positional arguments after ``key`` (None: nowhere)."""
    params = list(inspect.signature(getattr(cls, name)).parameters)[2:]  # self, key
    return params.index("version") if "version" in params else None


def _dropping(name: str, asynchronous: bool, at: int | None, everything: bool) -> Any:
    """A write method that drops its key's local copy (or everything) after the call."""
    def after(self: Any, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if everything:
            self._flush()
            return
        version = kwargs.get("version")
        if at is not None and len(args) > at:
            version = args[at]
        self._drop((key,), version)

    if asynchronous:
        async def awrite(self: Any, key: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await getattr(super(NearMixin, self), name)(key, *args, **kwargs)
            finally:
                after(self, key, args, kwargs)
        awrite.__name__ = name
        return awrite

    def write(self: Any, key: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(super(NearMixin, self), name)(key, *args, **kwargs)
        finally:
            after(self, key, args, kwargs)
    write.__name__ = name
    return write


# Single-key writes (key first), and writes whose keys are simplest forgotten all at once.
KEYED = ("add", "touch", "delete", "incr", "decr", "expire", "pexpire",
         "expire_at", "pexpire_at", "persist")
WHOLESALE = ("rename", "delete_pattern")


def _writes(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for names, everything in ((KEYED, False), (WHOLESALE, True)):
        for base in names:
            for name, asynchronous in ((base, False), (f"a{base}", True)):
                if hasattr(cls, name):
                    out[name] = _dropping(name, asynchronous, _version_at(cls, name),
                                          everything)
    return out
