"""The Django cache facade: keys, timeouts and values here; routing and I/O below.

Every operation is written once as a flow (see ``flow.py``) and exposed twice: the sync
method drives it with blocking clients, the ``a``-method with the event loop's own clients.
No thread pools are involved in the async API.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT,
    MEMCACHE_MAX_KEY_LENGTH,
    BaseCache,
    default_key_func,
)

from ..drivers import Driver
from ..exceptions import CommandError, NotAnInteger, PartialFailure
from ..policy import FailedReplies
from ..redact import key_redactor
from ..routing import Batch, batch_commands, scatter
from ..stampede import facade as stampede_facade
from ..stampede import flows as stampede_flows
from ..stampede.options import UNSET, for_call
from .extended import ExtendedAPI
from .extended.keys import reverse_key_func
from .flow import Await, Call, Flow, Run, adrive, drive
from .raw import RawAccess
from .shared import alias_state
from .timeouts import GONE, check_delta, expiry_ms, set_args

_BAD_KEY_CHARS = re.compile(r"[\x00-\x20\x7f]").search


def _clean(text: str) -> bool:
    """No character Django's memcached check warns about (control characters, space, DEL):
    for ASCII text, two C-speed scans; otherwise the regex."""
    if text.isascii():
        return text.isprintable() and " " not in text
    return not _BAD_KEY_CHARS(text)

# INCRBY only if the key exists, atomically and in one round-trip (Django raises
# ValueError for a missing key; a plain INCRBY would create it).
INCR_SCRIPT = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then "
    "return redis.call('INCRBY', KEYS[1], ARGV[1]) end return false"
)
INCR_SHA = hashlib.sha1(INCR_SCRIPT.encode()).hexdigest()
# Past INCRBY's 64-bit range: write the Python sum back only if nobody changed the value
# since we read it (and keep its expiry).
BIG_INCR_SCRIPT = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end return 0"
)
BIG_INCR_ATTEMPTS = 100


def _no_script(exc: BaseException) -> bool:
    """The server does not have the script cached yet (NOSCRIPT): nothing ran, send it."""
    cause = exc.__cause__ or exc
    return type(cause).__name__ == "NoScriptError" or str(cause).startswith(
        ("NOSCRIPT", "No matching script"))


class CachexCache(RawAccess, ExtendedAPI, BaseCache):
    """Django cache backend over one topology; subclasses bind a driver."""

    driver_factory: ClassVar[Callable[[], Driver]]

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(params)
        state = alias_state(type(self).driver_factory, server, params)
        self.alias = state.alias
        self.settings = state.settings
        self._router = state.router
        self._topology = state.router.topology
        self._encode = state.codec.encode
        self._decode = state.codec.decode
        self._decode_many = state.codec.decode_many
        self._default_ms = expiry_ms(self.default_timeout)
        self._reverse_key = reverse_key_func(params)  # keys()/iter_keys() results
        self._stampede = state.stampede
        if state.stampede is not None:  # instance methods; the class's stay the fast path
            stampede_facade.install(self, state.stampede)
        # the batch key path applies only where make_key/validate_key are not customised
        self._plain_keys = (type(self).make_key is BaseCache.make_key
                            and type(self).validate_key is CachexCache.validate_key)
        if state.near is not None:  # OPTIONS["near_cache"]: the same class, hooks in front
            from ..near.facade import near_class

            self._near = state.near
            self.__class__ = near_class(type(self))

    # ---------------------------------------------------------------- helpers (pure)
    def validate_key(self, key: str) -> None:
        """Django's check, with a fast path for the common case of a plain short key
        (Django's own version goes through a lazily compiled regex on every call)."""
        if len(key) <= MEMCACHE_MAX_KEY_LENGTH and not _BAD_KEY_CHARS(key):
            return
        super().validate_key(key)

    def _ms(self, timeout: Any) -> int | None:
        return self._default_ms if timeout is DEFAULT_TIMEOUT else expiry_ms(timeout)

    def _make_keys(self, keys: Iterable[Any], version: int | None) -> list[str]:
        """Many keys at once: with Django's default key function, one prefix and one
        validity check for the whole batch; any doubt falls back to Django's per-key path
        (so its warnings are exactly Django's)."""
        if type(keys) is not list:
            keys = list(keys)
        made = self._plain_made_keys(keys, version)
        if made is not None:
            return made
        return [self.make_and_validate_key(k, version=version) for k in keys]

    def _plain_made_keys(self, keys: list[Any], version: int | None) -> list[str] | None:
        """The batch path of ``_make_keys``, or None where Django's per-key path must run
        (a custom key function or check, or a key Django would warn about)."""
        if self._plain_keys and self.key_func is default_key_func:
            prefix = f"{self.key_prefix}:{self.version if version is None else version}:"
            try:  # a comprehension's + on str beats map(prefix.__add__) (a method-wrapper call)
                made = [prefix + k for k in keys]
            except TypeError:  # not every key is a str
                made = [prefix + str(k) for k in keys]
            if not made or (max(map(len, made)) <= MEMCACHE_MAX_KEY_LENGTH
                            and _clean("".join(made))):
                return made
        return None

    def _plan(self, keys: list[str], write: bool) -> list[Batch[Any]]:
        return self._topology.plan(keys, write=write)

    # ---------------------------------------------------------------- flows (logic once)
    def _add(self, key: Any, value: Any, timeout: Any, version: int | None) -> Flow[bool]:
        k = self.make_and_validate_key(key, version=version)
        v = self._encode(value, k)
        ms = self._ms(timeout)
        if ms == GONE:  # Django: True if it would have been added, but nothing stays
            added = yield Call(k, ("SET", k, v, "NX"), idempotent=False, degradable=True)
            if added:
                yield Call(k, ("DEL", k), degradable=True)
            return bool(added)
        added = yield Call(k, (*set_args(k, v, ms), "NX"), idempotent=False, degradable=True)
        return bool(added)

    def _get_or_set(self, key: Any, default: Any, timeout: Any, version: int | None,
                    stampede: Any = UNSET) -> Flow[Any]:
        protect = for_call(stampede, self._stampede)
        if protect is not None:  # see cachex/stampede
            return (yield from stampede_flows.get_or_set(self, protect, key, default, timeout,
                                                         version))
        # Django's logic (get, else add, then read back whatever won), written once for
        # both twins: Django 6 routes aget_or_set through a thread when get_or_set is
        # overridden, which would defeat the native async path.
        k = self.make_and_validate_key(key, version=version)
        raw = yield Call(k, ("GET", k), write=False, degradable=True)
        if raw is not None:
            return self._decode(raw, k)
        if callable(default):
            default = default()
            if inspect.isawaitable(default):  # aget_or_set awaits an async default
                default = yield Await(default)
        yield from self._add(key, default, timeout, version)
        raw = yield Call(k, ("GET", k), write=False, degradable=True)
        return default if raw is None else self._decode(raw, k)

    def _touch(self, key: Any, timeout: Any, version: int | None) -> Flow[bool]:
        k = self.make_and_validate_key(key, version=version)
        ms = self._ms(timeout)
        if ms is None:  # PERSIST answers 0 for a key without expiry; we answer "exists"
            node = self._topology.locate(k)
            _, exists = (yield Run([(node, [("PERSIST", k), ("EXISTS", k)])], degradable=True))[0]
            return bool(exists)
        if ms == GONE:
            return bool((yield Call(k, ("DEL", k), degradable=True)))
        return bool((yield Call(k, ("PEXPIRE", k, ms), degradable=True)))

    def _delete(self, key: Any, version: int | None) -> Flow[bool]:
        k = self.make_and_validate_key(key, version=version)
        return bool((yield Call(k, ("DEL", k), degradable=True)))

    def _has_key(self, key: Any, version: int | None) -> Flow[bool]:
        k = self.make_and_validate_key(key, version=version)
        return bool((yield Call(k, ("EXISTS", k), write=False, degradable=True)))

    def _incr(self, key: Any, delta: int, version: int | None,
              ignore_key_check: bool = False) -> Flow[int]:
        k = self.make_and_validate_key(key, version=version)
        check_delta(delta)
        try:
            if ignore_key_check:  # django-redis: a missing key counts as 0
                return int((yield Call(k, ("INCRBY", k, delta), idempotent=False)))
            try:  # the script by its digest; sent in full only when the server lacks it
                value = yield Call(k, ("EVALSHA", INCR_SHA, 1, k, delta), idempotent=False)
            except CommandError as exc:
                if not _no_script(exc):
                    raise
                value = yield Call(k, ("EVAL", INCR_SCRIPT, 1, k, delta), idempotent=False)
        except NotAnInteger as exc:  # past 64 bits, or not an int at all
            return (yield from self._incr_big(key, k, delta, exc))
        if value is None:
            raise ValueError(f"Key {key_redactor(self.settings.log_keys)(k)} not found.")
        return int(value)

    def _incr_big(self, key: Any, k: str, delta: int, error: NotAnInteger) -> Flow[int]:
        """Like django-redis, go on past 2**63-1 in Python: read, add, write back (with a
        compare-and-set, so a concurrent write is never lost). Anything but an int stays
        the server's TypeError."""
        for _ in range(BIG_INCR_ATTEMPTS):
            raw = yield Call(k, ("GET", k))
            if raw is None:
                raise ValueError(f"Key {key_redactor(self.settings.log_keys)(k)} not found.")
            current = self._decode(raw, k)
            if type(current) is not int:
                raise error
            new = current + delta
            # not replayed: a replay after a lost "done" would fail its compare and add twice
            args = ("EVAL", BIG_INCR_SCRIPT, 1, k, raw, self._encode(new, k))
            if (yield Call(k, args, idempotent=False)):
                return new
        raise error

    def _get_many(self, keys: Iterable[Any], version: int | None) -> Flow[dict[Any, Any]]:
        keys = list(keys)
        made = self._make_keys(keys, version)
        if not made:
            return {}
        # A key asked for twice is fetched twice (MGET allows it); the dict keeps one.
        commands, positions = self._topology.commands("MGET", made)
        replies = yield Run(commands, degradable=True)
        values = replies[0][0] if positions is None else scatter(len(made), positions, replies)
        if None in values:
            found = [i for i, raw in enumerate(values) if raw is not None]
            made = [made[i] for i in found]
            keys = [keys[i] for i in found]
            values = [values[i] for i in found]
        return self._decode_many(values, made, keys)  # undecodable values: misses, logged

    def _set_many(self, data: Mapping[Any, Any], timeout: Any, version: int | None
                  ) -> Flow[list[Any]]:
        # Encode everything before any I/O: an unpicklable value means nothing is written.
        encode = self._encode
        made = self._make_keys(data, version)
        encoded = {k: encode(v, k) for k, v in zip(made, data.values())}
        if not encoded:
            return []
        ms = self._ms(timeout)
        batches = self._plan(list(encoded), write=True)
        try:
            if ms == GONE:
                replies = yield Run(batch_commands("DEL", batches)[0], degradable=True)
            else:
                replies = yield Run([(b.node, [set_args(k, encoded[k], ms) for k in b.keys])
                                     for b in batches], degradable=True)
        except PartialFailure as exc:
            raise exc.for_keys("set_many", [b.keys for b in batches],
                               dict(zip(made, data))) from exc.__cause__
        # Django's contract: return the keys that were not stored (a node failed open)
        dropped = {k for b, r in zip(batches, replies) if isinstance(r, FailedReplies)
                   for k in b.keys}
        return [key for key, k in zip(data, made) if k in dropped] if dropped else []

    def _delete_many(self, keys: Iterable[Any], version: int | None) -> Flow[int | None]:
        # How many keys were deleted (django-redis), but None for no keys at all: Django's
        # own tests assert that (test_delete_many_no_keys).
        keys = list(keys)
        made = self._make_keys(keys, version)
        if not made:
            return None
        commands, _ = self._topology.commands("DEL", made, write=True)
        try:
            replies = yield Run(commands, degradable=True)
        except PartialFailure as exc:
            raise exc.for_keys("delete_many", [[k for c in cmds for k in c[1:]]
                                               for _, cmds in commands],
                               dict(zip(made, keys))) from exc.__cause__
        return sum(int(n or 0) for per_node in replies for n in per_node)

    def _set_if(self, key: Any, value: Any, timeout: Any, version: int | None, nx: bool,
                xx: bool) -> Flow[bool]:
        """django-redis's ``set(nx=True)``/``set(xx=True)``: whether the value was set."""
        if nx and xx:
            raise ValueError("set() takes nx or xx, not both")
        if nx:  # add(): an existing key is left alone, even by a timeout <= 0
            return (yield from self._add(key, value, timeout, version))
        k = self.make_and_validate_key(key, version=version)
        v = self._encode(value, k)
        ms = self._ms(timeout)
        if ms == GONE:  # an existing key is "set" to expire at once: deleted
            return bool((yield Call(k, ("DEL", k), degradable=True)))
        return bool((yield Call(k, (*set_args(k, v, ms), "XX"), degradable=True)))

    def _clear(self) -> Flow[None]:
        # A PartialFailure here lists node labels as applied / not_applied.
        yield Run([(node, [("FLUSHDB",)]) for node in self._topology.primaries()])

    def _incr_version(self, key: Any, delta: int, version: int | None) -> Flow[int]:
        if version is None:
            version = self.version
        old = self.make_and_validate_key(key, version=version)
        new = self.make_and_validate_key(key, version=version + delta)
        if self._topology.colocated(old, new):
            try:  # RENAME keeps the value's bytes and its expiry
                yield Call(old, ("RENAME", old, new), idempotent=False)
            except CommandError as exc:
                if "no such key" in str(exc).lower():
                    raise ValueError(
                        f"Key {key_redactor(self.settings.log_keys)(old)} not found") from None
                raise
            return version + delta
        # The new key lives on another node: copy bytes and expiry, then drop the old key.
        pttl, payload = (yield Run([(self._topology.locate(old),
                                     [("PTTL", old), ("DUMP", old)])]))[0]
        if payload is None:
            raise ValueError(f"Key {key_redactor(self.settings.log_keys)(old)} not found")
        yield Call(new, ("RESTORE", new, max(int(pttl), 0), payload, "REPLACE"))
        yield Call(old, ("DEL", old))
        return version + delta

    # ---------------------------------------------------------------- Django API, sync
    # get/set (and their twins) are the hottest calls: they skip the flow machinery (a
    # generator and a drive loop per call) and call the router directly.
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        if self._topology.stale:
            self._topology.refresh()
        k = self.make_and_validate_key(key, version=version)
        raw = self._router.call(k, "GET", k, write=False, degradable=True)
        return default if raw is None else self._decode(raw, k)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: int | None = None, nx: bool = False, xx: bool = False) -> Any:
        if nx or xx:  # django-redis: returns whether it was set
            return drive(self._router, self._set_if(key, value, timeout, version, nx, xx))
        if self._topology.stale:
            self._topology.refresh()
        k = self.make_and_validate_key(key, version=version)
        v = self._encode(value, k)
        ms = self._default_ms if timeout is DEFAULT_TIMEOUT else expiry_ms(timeout)
        self._router.call(k, *(("DEL", k) if ms == GONE else set_args(k, v, ms)),
                          degradable=True)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: int | None = None) -> bool:
        return drive(self._router, self._add(key, value, timeout, version))

    def get_or_set(self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT,
                   version: int | None = None, *, stampede: Any = UNSET) -> Any:
        """Django's get_or_set; ``stampede`` overrides the alias's OPTIONS["stampede"] for
        this call ("herd", "early", "lock", a dict, or False for none): docs/stampede.md."""
        return drive(self._router, self._get_or_set(key, default, timeout, version, stampede))

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT,
              version: int | None = None) -> bool:
        return drive(self._router, self._touch(key, timeout, version))

    def delete(self, key: Any, version: int | None = None) -> bool:
        return drive(self._router, self._delete(key, version))

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return drive(self._router, self._has_key(key, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None,
             ignore_key_check: bool = False) -> int:
        return drive(self._router, self._incr(key, delta, version, ignore_key_check))

    def decr(self, key: Any, delta: int = 1, version: int | None = None,
             ignore_key_check: bool = False) -> int:
        return drive(self._router, self._incr(key, -delta, version, ignore_key_check))

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return drive(self._router, self._get_many(keys, version))

    def set_many(self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT,
                 version: int | None = None) -> list[Any]:
        return drive(self._router, self._set_many(data, timeout, version))

    def delete_many(  # type: ignore[override]  # the count, as django-redis answers
            self, keys: Iterable[Any], version: int | None = None) -> int | None:
        return drive(self._router, self._delete_many(keys, version))

    def clear(self) -> None:
        drive(self._router, self._clear())

    def incr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return drive(self._router, self._incr_version(key, delta, version))

    def close(self, **kwargs: Any) -> None:
        """Nothing to do per request: pools are process-wide and connections go back to
        them after every command (the same as Django's RedisCache)."""

    def policy_stats(self) -> dict[str, int]:
        """What this alias's retry/failover policy did so far (retries, give-ups, circuit
        opens/closes, short circuits, reroutes, fail-open events); shared by every
        instance of the alias. See docs/policies.md."""
        return self._router.stats.snapshot()

    def disconnect(self) -> None:
        """Close this alias's sync connections now (they reopen on next use)."""
        self._topology.disconnect()

    # ---------------------------------------------------------------- Django API, async
    async def aget(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        if self._topology.stale:
            await self._topology.arefresh()
        k = self.make_and_validate_key(key, version=version)
        raw = await self._router.acall(k, "GET", k, write=False, degradable=True)
        return default if raw is None else self._decode(raw, k)

    async def aset(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
                   version: int | None = None, nx: bool = False, xx: bool = False) -> Any:
        if nx or xx:
            return await adrive(self._router,
                                self._set_if(key, value, timeout, version, nx, xx))
        if self._topology.stale:
            await self._topology.arefresh()
        k = self.make_and_validate_key(key, version=version)
        v = self._encode(value, k)
        ms = self._default_ms if timeout is DEFAULT_TIMEOUT else expiry_ms(timeout)
        await self._router.acall(k, *(("DEL", k) if ms == GONE else set_args(k, v, ms)),
                                 degradable=True)

    async def aadd(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
                   version: int | None = None) -> bool:
        return await adrive(self._router, self._add(key, value, timeout, version))

    async def aget_or_set(self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT,
                          version: int | None = None, *, stampede: Any = UNSET) -> Any:
        """As ``get_or_set``; a callable default that returns an awaitable is awaited."""
        return await adrive(self._router,
                            self._get_or_set(key, default, timeout, version, stampede))

    async def atouch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT,
                     version: int | None = None) -> bool:
        return await adrive(self._router, self._touch(key, timeout, version))

    async def adelete(self, key: Any, version: int | None = None) -> bool:
        return await adrive(self._router, self._delete(key, version))

    async def ahas_key(self, key: Any, version: int | None = None) -> bool:
        return await adrive(self._router, self._has_key(key, version))

    async def aincr(self, key: Any, delta: int = 1, version: int | None = None,
                    ignore_key_check: bool = False) -> int:
        return await adrive(self._router, self._incr(key, delta, version, ignore_key_check))

    async def adecr(self, key: Any, delta: int = 1, version: int | None = None,
                    ignore_key_check: bool = False) -> int:
        return await adrive(self._router, self._incr(key, -delta, version, ignore_key_check))

    async def aget_many(self, keys: Iterable[Any], version: int | None = None
                        ) -> dict[Any, Any]:
        return await adrive(self._router, self._get_many(keys, version))

    async def aset_many(self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT,
                        version: int | None = None) -> list[Any]:
        return await adrive(self._router, self._set_many(data, timeout, version))

    async def adelete_many(  # type: ignore[override]  # the count, as django-redis
            self, keys: Iterable[Any], version: int | None = None) -> int | None:
        return await adrive(self._router, self._delete_many(keys, version))

    async def aclear(self) -> None:
        await adrive(self._router, self._clear())

    async def aincr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return await adrive(self._router, self._incr_version(key, delta, version))

    async def aclose(self, **kwargs: Any) -> None:
        """Like ``close``: connections stay pooled for this event loop and are closed when
        the loop shuts down (``asyncio.run`` does that), or by ``adisconnect``."""

    async def adisconnect(self) -> None:
        """Close this alias's connections on the running event loop now."""
        await self._topology.adisconnect()
