"""Distributed locks: one key holding a random token, set and checked by Lua scripts.

A lock is a single key, so it is routed like any key (one node; one slot in a Cluster).
Only the holder's token can release or extend it. Acquiring is replay-safe (the script
answers "yours" when the key already holds our token), so a retried acquire after a lost
reply does not lock us out. The waiting loop is the only sync/async twin.

The object follows redis-py's ``Lock`` (which django-redis returns): ``acquire(blocking=,
blocking_timeout=, token=)``, ``release()``, ``extend(additional_time, replace_ttl=False)``,
``reacquire()``, ``locked()``, ``owned()``, and ``thread_local`` (default True: the token
is visible only to the thread that acquired; False lets another thread release).

Not a consensus lock: after a failover that lost the key (asynchronous replication), a
second holder is possible. Give locks a ``timeout`` so a crashed holder cannot keep one.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from types import TracebackType
from typing import Any

from ...exceptions import LockError, LockNotOwned
from ...redact import key_redactor
from ..flow import Flow, adrive, drive
from ._common import Host, command

ACQUIRE = (
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then return 1 end "
    "if v then return 0 end "
    "if ARGV[2] == '0' then redis.call('SET', KEYS[1], ARGV[1]) "
    "else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end "
    "return 1"
)
RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0"
)
# ARGV: token, ms (0: no expiry), replace (1) or add (0). Answers 0: not ours;
# 2: nothing to add to (no expiry); 1: done.
EXTEND = (
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "if ARGV[2] == '0' then redis.call('PERSIST', KEYS[1]) return 1 end "
    "if ARGV[3] == '1' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end "
    "local left = redis.call('PTTL', KEYS[1]) "
    "if left < 0 then return 2 end "
    "redis.call('PEXPIRE', KEYS[1], left + tonumber(ARGV[2])) "
    "return 1"
)


def lock_ms(timeout: float | None) -> int:
    """Lock lifetime in ms for the scripts; ``0`` means no expiry."""
    if timeout is None:
        return 0
    if timeout <= 0:
        raise ValueError(f"a lock timeout must be positive seconds or None, not {timeout!r}")
    return max(int(timeout * 1000), 1)


class _Shared:
    """Token storage shared by every thread (``thread_local=False``)."""

    token: bytes | None = None


class _LockState:
    """Key, token and settings of one lock, with its three steps written as flows."""

    def __init__(self, cache: Host, key: Any, timeout: float | None, sleep: float,
                 blocking: bool, blocking_timeout: float | None, version: int | None,
                 thread_local: bool = True) -> None:
        self.name = key
        self.key = cache.make_and_validate_key(key, version=version)
        self.timeout = timeout
        self.ms = lock_ms(timeout)
        self.sleep = sleep
        self.blocking = blocking
        self.blocking_timeout = blocking_timeout
        self.thread_local = thread_local
        # redis-py keeps the token in ``local``: per thread unless thread_local=False
        self.local: Any = threading.local() if thread_local else _Shared()
        self.local.token = None
        self._router = cache._router
        self._log_keys = getattr(getattr(cache, "settings", None), "log_keys", "hash")

    @property
    def shown(self) -> str:
        """What messages show of the lock: never its key (cachex.redact)."""
        return key_redactor(self._log_keys)(self.key)

    @property
    def token(self) -> bytes | None:
        """The random token stored in the key while this object holds the lock."""
        return getattr(self.local, "token", None)

    @token.setter
    def token(self, value: bytes | None) -> None:
        self.local.token = value

    def _eval(self, script: str, *args: Any, idempotent: bool = True) -> Flow[Any]:
        return command(self.name, self.key, "string lock",
                       ("EVAL", script, 1, self.key, *args), idempotent=idempotent)

    def _try(self, token: bytes) -> Flow[bool]:
        return bool((yield from self._eval(ACQUIRE, token, self.ms)))

    def _release(self) -> Flow[None]:
        token = self._held("release")
        released = yield from self._eval(RELEASE, token)
        self.token = None
        if not released:
            raise LockNotOwned(f"lock {self.shown} was released by its holder "
                               "but had already expired or been taken by another holder")

    def _extend(self, seconds: float | None, replace: bool) -> Flow[bool]:
        token = self._held("extend")
        ms = lock_ms(seconds)
        # adding time is not safe to replay after a possible send; setting it is
        done = yield from self._eval(EXTEND, token, ms, int(replace),
                                     idempotent=replace or ms == 0)
        if not done:
            raise LockNotOwned(f"cannot extend lock {self.shown}: it "
                               "expired or was taken by another holder")
        if int(done) == 2:
            raise LockError(f"cannot add time to lock {self.shown}: it has no expiry; "
                            "pass replace_ttl=True to set one")
        return True

    def _reacquire(self) -> Flow[bool]:
        if self.timeout is None:
            raise LockError(f"cannot reacquire lock {self.shown}: it has no timeout")
        return (yield from self._extend(self.timeout, True))

    def _owned(self) -> Flow[bool]:
        if self.token is None:
            return False
        held = yield from command(self.name, self.key, "string lock", ("GET", self.key),
                                  write=False)
        return bool(held == self.token)

    def _locked(self) -> Flow[bool]:
        return bool((yield from command(self.name, self.key, "string lock",
                                        ("EXISTS", self.key), write=False)))

    def _held(self, action: str) -> bytes:
        if self.token is None:
            raise LockError(f"cannot {action} lock {self.shown}: it is not held")
        return self.token

    def _plan(self, blocking: bool | None, blocking_timeout: float | None,
              token: bytes | str | None) -> tuple[bytes, bool, float | None]:
        if self.token is not None:
            raise LockError(f"lock {self.shown} is already held by this object; release it "
                            "first or use another lock object")
        blocking = self.blocking if blocking is None else blocking
        wait = self.blocking_timeout if blocking_timeout is None else blocking_timeout
        deadline = None if wait is None else time.monotonic() + wait
        if token is None:
            token = os.urandom(16).hex().encode()
        elif isinstance(token, str):
            token = token.encode()
        return token, blocking, deadline

    def _pause(self, deadline: float | None) -> float | None:
        """Seconds to sleep before the next attempt, or None to give up."""
        if deadline is None:
            return self.sleep
        left = deadline - time.monotonic()
        return None if left <= 0 else min(self.sleep, left)

    def _timeout_error(self) -> LockError:
        how = (f"within {self.blocking_timeout} s" if self.blocking else "without blocking")
        return LockError(f"could not acquire lock {self.shown} {how}: "
                         "another holder has it")


class Lock(_LockState):
    """A blocking lock; ``with cache.lock("k", timeout=10):`` acquires and releases."""

    def acquire(self, blocking: bool | None = None, blocking_timeout: float | None = None,
                token: bytes | str | None = None) -> bool:
        """True once held; False if non-blocking and taken, or ``blocking_timeout`` ran out.
        ``token``: the value to store (default: 16 random bytes as hex)."""
        token, blocking, deadline = self._plan(blocking, blocking_timeout, token)
        while True:
            if drive(self._router, self._try(token)):
                self.token = token
                return True
            pause = self._pause(deadline) if blocking else None
            if pause is None:
                return False
            time.sleep(pause)

    def release(self) -> None:
        """Release; ``LockNotOwned`` if it expired or another holder has it now."""
        drive(self._router, self._release())

    def extend(self, additional_time: float | None, replace_ttl: bool = False) -> bool:
        """Add ``additional_time`` seconds to the time left (redis-py); with
        ``replace_ttl``, set the time left to it. ``None``: no expiry. Must be held."""
        return drive(self._router, self._extend(additional_time, replace_ttl))

    def reacquire(self) -> bool:
        """Reset the time left to the lock's ``timeout``; must be held."""
        return drive(self._router, self._reacquire())

    def owned(self) -> bool:
        """True if this object holds the lock right now."""
        return drive(self._router, self._owned())

    def locked(self) -> bool:
        """True if anyone holds the lock."""
        return drive(self._router, self._locked())

    def __enter__(self) -> Lock:
        if not self.acquire():
            raise self._timeout_error()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class AsyncLock(_LockState):
    """The asyncio lock; ``async with cache.alock("k", timeout=10):``. Waiting sleeps with
    ``asyncio.sleep``, so other tasks run meanwhile."""

    async def acquire(self, blocking: bool | None = None,
                      blocking_timeout: float | None = None,
                      token: bytes | str | None = None) -> bool:
        token, blocking, deadline = self._plan(blocking, blocking_timeout, token)
        while True:
            if await adrive(self._router, self._try(token)):
                self.token = token
                return True
            pause = self._pause(deadline) if blocking else None
            if pause is None:
                return False
            await asyncio.sleep(pause)

    async def release(self) -> None:
        await adrive(self._router, self._release())

    async def extend(self, additional_time: float | None, replace_ttl: bool = False) -> bool:
        return await adrive(self._router, self._extend(additional_time, replace_ttl))

    async def reacquire(self) -> bool:
        return await adrive(self._router, self._reacquire())

    async def owned(self) -> bool:
        return await adrive(self._router, self._owned())

    async def locked(self) -> bool:
        return await adrive(self._router, self._locked())

    async def __aenter__(self) -> AsyncLock:
        if not await self.acquire():
            raise self._timeout_error()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.release()


class LockMixin(Host):
    """``lock`` and ``alock``."""

    def lock(self, key: Any, version: int | None = None, timeout: float | None = None,
             sleep: float = 0.1, blocking: bool = True, blocking_timeout: float | None = None,
             thread_local: bool = True) -> Lock:
        """A lock on ``key`` (through the alias's prefix and version), with django-redis 7's
        arguments in its order. ``timeout``: seconds until it expires on its own (None:
        never); ``blocking_timeout``: how long acquire waits (None: forever); ``sleep``:
        seconds between attempts; ``thread_local=False`` lets another thread release."""
        return Lock(self, key, timeout, sleep, blocking, blocking_timeout, version,
                    thread_local)

    def alock(self, key: Any, version: int | None = None, timeout: float | None = None,
              sleep: float = 0.1, blocking: bool = True, blocking_timeout: float | None = None,
              thread_local: bool = True) -> AsyncLock:
        """The asyncio twin of ``lock`` (an async context manager)."""
        return AsyncLock(self, key, timeout, sleep, blocking, blocking_timeout, version,
                         thread_local)

    get_lock = lock  # django-valkey's name
    aget_lock = alock
