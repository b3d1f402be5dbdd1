"""The stampede modes as flows (see ``backends/flow.py``): written once, driven sync or async.

``cache`` is the ``CachexCache`` the flow runs for: its key functions, codec, topology plan
and ``_ms`` are used as they are, so keys, values and timeouts mean what they mean without
the option.
"""

from __future__ import annotations

import inspect
import math
import os
import random
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..backends.flow import Await, Call, Flow, Pause, Run
from ..backends.timeouts import GONE
from ..exceptions import CachexError, ConnectionFailed
from ..policy import FailedReplies
from . import envelope, scripts
from .options import StampedeOptions

if TYPE_CHECKING:
    from ..backends.base import CachexCache

LOCK_SUFFIX = ":stampede-lock"
# early mode, plain get then set: a miss remembered this long counts as "the caller's own
# recompute time" for the set that follows
MISS_MEMORY = 60.0
MISS_SLOTS = 256


# ------------------------------------------------------------------ pure helpers
def factor(opts: StampedeOptions) -> str:
    """XFetch's ``-ln(rand) * beta`` for one read (0 in herd mode)."""
    if opts.mode != "early":
        return "0"
    return f"{-math.log(random.random() or 1e-300) * opts.beta:.6g}"


def write_args(cache: CachexCache, opts: StampedeOptions | None, k: str, value: Any,
               ms: int | None, delta_ms: int | None = None) -> tuple[Any, ...]:
    """The command that stores ``value``: wrapped for herd/early when it expires and is not
    a plain int (those stay raw so INCR/DECR work on them)."""
    if ms == GONE:
        return ("DEL", k)
    data = cache._encode(value, k)
    if opts is None or opts.mode == "lock" or ms is None or isinstance(data, int):
        return ("SET", k, data) if ms is None else ("SET", k, data, "PX", ms)
    if opts.mode == "herd":
        return ("SET", k, envelope.wrap(envelope.HERD, opts.grace_ms, data),
                "PX", ms + opts.grace_ms)
    delta = opts.delta_ms if delta_ms is None else delta_ms
    return ("SET", k, envelope.wrap(envelope.EARLY, delta, data), "PX", ms)


def remember_miss(cache: CachexCache, k: str) -> None:
    misses: dict[str, float] = cache.__dict__.setdefault("_stampede_misses", {})
    if len(misses) >= MISS_SLOTS:
        misses.clear()
    misses[k] = time.monotonic()


def learned_delta(cache: CachexCache, opts: StampedeOptions, k: str) -> int | None:
    """Early mode: ms from this instance's miss on ``k`` to now (the caller's own recompute
    time), or None when there was no recent miss."""
    misses: dict[str, float] | None = cache.__dict__.get("_stampede_misses")
    seen = misses.pop(k, None) if misses else None
    if seen is None:
        return None
    took = time.monotonic() - seen
    return int(took * 1000) if took < MISS_MEMORY else None


def compute(default: Any) -> Flow[tuple[Any, int | None]]:
    """The default's value and how long it took in ms (None: not a callable)."""
    if not callable(default):
        return default, None
    start = time.monotonic()
    value = default()
    if inspect.isawaitable(value):
        value = yield Await(value)
    return value, int((time.monotonic() - start) * 1000)


# ------------------------------------------------------------------ herd / early
def read(cache: CachexCache, opts: StampedeOptions, k: str) -> Flow[Any]:
    """The stored bytes, or None for a miss (absent, or this caller recomputes)."""
    reply = yield from scripts.script(k, scripts.READ, opts.lease_ms, factor(opts),
                                      degradable=True)
    return None if reply is None or isinstance(reply, int) else reply


def get(cache: CachexCache, opts: StampedeOptions, key: Any, default: Any,
        version: int | None) -> Flow[Any]:
    k = cache.make_and_validate_key(key, version=version)
    raw = yield from read(cache, opts, k)
    if raw is None:
        if opts.mode == "early":
            remember_miss(cache, k)
        return default
    return cache._decode(raw, k)


def set_(cache: CachexCache, opts: StampedeOptions, key: Any, value: Any, timeout: Any,
         version: int | None, nx: bool = False, xx: bool = False) -> Flow[bool | None]:
    """``set``; with ``nx``/``xx`` (django-redis's), whether the value was set."""
    if nx and xx:
        raise ValueError("set() takes nx or xx, not both")
    if nx:
        return (yield from add(cache, opts, key, value, timeout, version))
    ms = cache._ms(timeout)
    if xx and ms == GONE:
        return (yield from cache._set_if(key, value, timeout, version, nx, xx))
    k = cache.make_and_validate_key(key, version=version)
    delta = learned_delta(cache, opts, k) if opts.mode == "early" else None
    args = write_args(cache, opts, k, value, ms, delta)
    if xx:
        return bool((yield Call(k, (*args, "XX"), degradable=True)))
    yield Call(k, args, degradable=True)
    return None


def add(cache: CachexCache, opts: StampedeOptions, key: Any, value: Any, timeout: Any,
        version: int | None) -> Flow[bool]:
    ms = cache._ms(timeout)
    if ms == GONE:
        return (yield from cache._add(key, value, timeout, version))
    k = cache.make_and_validate_key(key, version=version)
    added = yield Call(k, (*write_args(cache, opts, k, value, ms), "NX"), idempotent=False,
                       degradable=True)
    return bool(added)


def set_many(cache: CachexCache, opts: StampedeOptions, data: Mapping[Any, Any],
             timeout: Any, version: int | None) -> Flow[list[Any]]:
    ms = cache._ms(timeout)
    made = cache._make_keys(data, version)
    args = {k: write_args(cache, opts, k, v, ms) for k, v in zip(made, data.values())}
    if not args:
        return []
    batches = cache._plan(list(args), write=True)
    replies = yield Run([(b.node, [args[k] for k in b.keys]) for b in batches],
                        degradable=True)
    dropped = {k for b, r in zip(batches, replies) if isinstance(r, FailedReplies)
               for k in b.keys}
    return [key for key, k in zip(data, made) if k in dropped] if dropped else []


def touch(cache: CachexCache, opts: StampedeOptions, key: Any, timeout: Any,
          version: int | None) -> Flow[bool]:
    ms = cache._ms(timeout)
    if ms is None or ms == GONE:
        return (yield from cache._touch(key, timeout, version))
    k = cache.make_and_validate_key(key, version=version)
    return bool((yield from scripts.script(k, scripts.TOUCH, ms, degradable=True)))


# ------------------------------------------------------------------ get_or_set
def get_or_set(cache: CachexCache, opts: StampedeOptions, key: Any, default: Any,
               timeout: Any, version: int | None) -> Flow[Any]:
    if opts.mode == "lock":
        return (yield from _single_flight(cache, opts, key, default, timeout, version))
    k = cache.make_and_validate_key(key, version=version)
    raw = yield from read(cache, opts, k)
    if raw is not None:
        return cache._decode(raw, k)
    value, took = yield from compute(default)
    # SET, not Django's add: a herd/early refresh replaces the stale value still stored
    yield Call(k, write_args(cache, opts, k, value, cache._ms(timeout), took),
               degradable=True)
    return value


def _single_flight(cache: CachexCache, opts: StampedeOptions, key: Any, default: Any,
                   timeout: Any, version: int | None) -> Flow[Any]:
    k = cache.make_and_validate_key(key, version=version)
    raw = yield Call(k, ("GET", k), write=False, degradable=True)
    if raw is not None:
        return cache._decode(raw, k)
    lock = k + LOCK_SUFFIX
    token = os.urandom(8).hex()
    now = time.monotonic()
    deadline = now + opts.wait
    # a waiter looks at the value every poll, and at the lock (did its holder die or give
    # up?) only every tenth of the lease: half the commands while many wait
    retry_every = max(opts.poll, opts.lease_ms / 10_000)
    next_try = now
    while True:
        if time.monotonic() >= next_try:
            try:
                got = yield Call(lock, ("SET", lock, token, "NX", "PX", opts.lease_ms),
                                 idempotent=False)
            except ConnectionFailed:  # no coordination to be had: compute as without it
                break
            if got:
                return (yield from _as_holder(cache, k, lock, token, default, timeout))
            next_try = time.monotonic() + retry_every
        left = deadline - time.monotonic()
        if left <= 0:
            break  # waited long enough: compute without the lock
        yield Pause(min(left, opts.poll * random.uniform(0.5, 1.5)))
        raw = yield Call(k, ("GET", k), write=False, degradable=True)
        if raw is not None:
            return cache._decode(raw, k)
    value, _ = yield from compute(default)
    yield Call(k, write_args(cache, None, k, value, cache._ms(timeout)), degradable=True)
    return value


def _as_holder(cache: CachexCache, k: str, lock: str, token: str, default: Any,
               timeout: Any) -> Flow[Any]:
    """Holding the lock: look once more (the previous holder may just have finished),
    compute, store, release. On an error the lock is released before it propagates."""
    try:
        raw = yield Call(k, ("GET", k), write=False, degradable=True)
        if raw is not None:
            value = cache._decode(raw, k)
        else:
            value, _ = yield from compute(default)
            yield Call(k, write_args(cache, None, k, value, cache._ms(timeout)),
                       degradable=True)
    except GeneratorExit:  # abandoned (a cancelled task): the lock's lease frees it
        raise
    except BaseException:
        yield from _release(lock, token)
        raise
    yield from _release(lock, token)
    return value


def _release(lock: str, token: str) -> Flow[None]:
    try:
        yield from scripts.script(lock, scripts.RELEASE, token)
    except CachexError:  # the lease frees it anyway
        pass
