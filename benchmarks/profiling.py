"""``python -m benchmarks --profile``: where cachex spends time beyond the driver call.

Three views of get / set / get_many(100) on one server:

1. end to end, interleaved against raw redis-py + pickle: the overhead in µs per call;
2. the same cachex code with the I/O replaced by a stub that answers instantly, taken apart
   step by step (key making/validation, codec, flow generator + ``drive``, router, topology
   lookup, planning and merging) so each piece has a price in µs;
3. cProfile of the real calls, top functions by own time, for anything the split misses.

Uses cachex internals (``_get``, ``_router``...) read-only; a piece that no longer exists is
reported as n/a rather than failing the run.
"""

from __future__ import annotations

import cProfile
import gc
import io
import pickle
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

N_KEYS = 100
VALUE = b"x" * 100


def per_call_us(fn: Callable[[], Any], n: int, repeats: int = 15) -> float:
    """Best-of-``repeats`` CPU µs per call of this thread (no I/O here, so CPU time is the
    cost, and unlike wall time it ignores other programs taking the CPU away)."""
    best = float("inf")
    for _ in range(repeats):
        gc.disable()
        t0 = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, time.thread_time() - t0)
        gc.enable()
    return best / n * 1e6


def interleaved_us(fns: dict[str, Callable[[], Any]], n: int, rounds: int = 15
                   ) -> dict[str, tuple[float, float]]:
    """Median (wall µs, process CPU µs) per call of each fn, rounds interleaved (A B A B)."""
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm up
        for _ in range(200):
            fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            gc.disable()
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                fn()
            t1, c1 = time.perf_counter(), time.process_time()
            gc.enable()
            wall[name].append((t1 - t0) / n * 1e6)
            cpu[name].append((c1 - c0) / n * 1e6)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


class _StubClient:
    """Answers every command at once: what is left is cachex's own work."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply

    def execute_command(self, *args: Any) -> Any:
        return self.reply

    def pipeline(self, transaction: bool = False) -> Any:
        return _StubPipe(self.reply)


class _StubPipe:
    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self.n = 0

    def execute_command(self, *args: Any) -> Any:
        self.n += 1
        return self

    def execute(self) -> list[Any]:
        return [self.reply] * self.n


class _StubRouter:
    """A router that does no I/O: isolates facade + flow cost from routing and the driver."""

    def __init__(self, reply: Any, many: Any, topology: Any) -> None:
        self.reply = reply
        self.many = many
        self.topology = topology  # drive() may ask it whether a slot map is stale

    def call(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
             degradable: bool = False) -> Any:
        return self.reply

    def run(self, batches: Any, *, idempotent: bool = True, degradable: bool = False) -> Any:
        return [[self.many] for _ in batches]


def _try(fn: Callable[[], float]) -> float | None:
    try:
        return fn()
    except Exception:
        return None


def _fmt(x: float | None) -> str:
    return "   n/a" if x is None else f"{x:6.2f}"


def main(out: Path) -> int:
    import django
    import redis
    from django.conf import settings

    from cachex.testing import server

    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    with server() as node:
        settings.configure(
            CACHES={"default": {"BACKEND": "cachex.backends.redis.RedisCache",
                                "LOCATION": node.url, "KEY_PREFIX": "b01"}},
            INSTALLED_APPS=[], LOGGING_CONFIG=None)
        django.setup()
        from django.core.cache import caches

        cache = caches["default"]
        raw: Any = redis.Redis.from_url(node.url)
        keys = [f"key:{i:06d}" for i in range(N_KEYS)]
        raw_keys = [f"b01:1:{k}" for k in keys]
        cache.set_many(dict.fromkeys(keys, VALUE))
        dumps, loads, proto = pickle.dumps, pickle.loads, pickle.HIGHEST_PROTOCOL

        def raw_get() -> Any:
            v = raw.get(raw_keys[0])
            return None if v is None else loads(v)

        def raw_set() -> None:
            raw.set(raw_keys[0], dumps(VALUE, proto), px=300_000)

        def raw_get_many() -> Any:
            values = raw.mget(raw_keys)
            return {k: loads(v) for k, v in zip(raw_keys, values, strict=False) if v is not None}

        say("cachex hot paths on one server (redis-py driver), "
            f"{django.get_version()} / redis-py {redis.__version__}")
        say("")
        say("1. End to end, interleaved, median µs per call: wall clock, and client CPU "
            "(user+system, this process)")
        e2e: dict[str, dict[str, tuple[float, float]]] = {}
        for label, n, pair in [
            ("get", 3000, {"raw": raw_get, "cachex": lambda: cache.get(keys[0])}),
            ("set", 3000, {"raw": raw_set, "cachex": lambda: cache.set(keys[0], VALUE)}),
            ("get_many(100)", 600, {"raw": raw_get_many,
                                     "cachex": lambda: cache.get_many(keys)}),
        ]:
            e2e[label] = r = interleaved_us(pair, n)
            (rw, rc), (cw, cc) = r["raw"], r["cachex"]
            say(f"   {label:<14} wall: raw {rw:7.1f}  cachex {cw:7.1f}  {cw - rw:+6.1f} µs "
                f"({rw / cw:.3f}x)   cpu: raw {rc:6.1f}  cachex {cc:6.1f}  {cc - rc:+6.1f} µs "
                f"({rc / cc:.3f}x)")

        # cachex's pools set socket_timeout (and keepalive); a socket with a timeout makes
        # CPython poll() before every recv/send. Price that apart from cachex's own code.
        timed_raw: Any = redis.Redis.from_url(node.url, socket_timeout=2.0,
                                              socket_connect_timeout=2.0, socket_keepalive=True)

        def raw_get_timeout() -> Any:
            v = timed_raw.get(raw_keys[0])
            return None if v is None else loads(v)

        r = interleaved_us({"raw": raw_get, "raw_timeout": raw_get_timeout,
                            "cachex": lambda: cache.get(keys[0])}, 3000)
        (rw, rc), (tw, tc), (cw, cc) = r["raw"], r["raw_timeout"], r["cachex"]
        say(f"   get, raw redis-py with socket_timeout=2 (cachex's pool default): wall "
            f"{tw:7.1f} ({tw - rw:+5.1f} µs vs raw), cpu {tc:6.1f} ({tc - rc:+5.1f} µs vs raw);"
            f" cachex in the same rounds: cpu {cc:6.1f} ({cc - tc:+5.1f} µs vs that)")

        say("")
        say("2. cachex's own work, I/O stubbed out: best-of-15 CPU µs per call")
        parts = _split(cache, keys, VALUE)
        for label, value in parts:
            say(f"   {label:<62} {_fmt(value)}")

        say("")
        say("2b. What-ifs: the same work written the suggested ways, same stubs, CPU µs per call")
        for label, value in _what_ifs(cache, keys, VALUE):
            say(f"   {label:<62} {_fmt(value)}")

        say("")
        say("3. cProfile of real calls (top 22 by own time; profiler overhead inflates "
            "Python frames)")
        for label, stmt, n in [("get", lambda: cache.get(keys[0]), 5000),
                               ("set", lambda: cache.set(keys[0], VALUE), 5000),
                               ("get_many(100)", lambda: cache.get_many(keys), 1000)]:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(n):
                stmt()
            prof.disable()
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf).strip_dirs()  # no machine paths
            stats.sort_stats("tottime").print_stats(22)
            say(f"--- {label} x{n}")
            text = buf.getvalue()
            start = text.find("   ncalls")
            say(text[start:].rstrip() if start >= 0 else text.rstrip())
            say("")

    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'profile.txt'}")
    return 0


def _split(cache: Any, keys: list[str], value: bytes) -> list[tuple[str, float | None]]:
    """Price each step of get/set/get_many with the I/O replaced by instant stubs."""
    from django.core.cache.backends.base import BaseCache

    out: list[tuple[str, float | None]] = []
    k0 = keys[0]
    made = cache.make_key(k0)
    encoded = cache._encode(value, made)
    N = 20000

    # -- pieces shared by every operation
    out.append(("make_key (Django key_func: prefix:version:key)",
                _try(lambda: per_call_us(lambda: cache.make_key(k0), N))))
    out.append(("validate_key (Django: memcached-portability warnings)",
                _try(lambda: per_call_us(lambda: cache.validate_key(made), N))))
    out.append(("make_and_validate_key", _try(lambda: per_call_us(
        lambda: cache.make_and_validate_key(k0), N))))
    out.append(("codec encode 100 B (pickle.dumps)",
                _try(lambda: per_call_us(lambda: cache._encode(value, made), N))))
    out.append(("codec decode 100 B (pickle.loads)",
                _try(lambda: per_call_us(lambda: cache._decode(encoded, made), N))))
    out.append(("   for reference: bare pickle.dumps / pickle.loads", _try(lambda: per_call_us(
        lambda: pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL)), N))))

    # -- a flow-driven call (has_key; get/set skip the flow), then the router with a stub
    try:
        from cachex.backends.flow import Call, drive

        stub = _StubRouter(encoded, [encoded] * len(keys), cache._router.topology)
        out.append(("has_key: facade + flow + drive (router stubbed)", _try(
            lambda: per_call_us(lambda: drive(cast(Any, stub), cache._has_key(k0, None)), N))))
        out.append(("   of which Call(...) dataclass construction", _try(
            lambda: per_call_us(lambda: Call(made, ("GET", made), write=False), N))))

        def gen_only() -> Any:
            g = cache._has_key(k0, None)
            step = g.send(None)
            try:
                g.send(encoded)
            except StopIteration as stop:
                return step, stop.value
            return step, None

        out.append(("   of which generator send/StopIteration, no drive loop",
                    _try(lambda: per_call_us(gen_only, N))))
    except Exception:
        out.append(("get: facade + flow (cachex.backends.flow not found)", None))

    router = cache._router
    topo = router.topology
    real_client = topo.client(made, False)
    stub_client = _StubClient(encoded)

    def with_stub(fn: Callable[[], Any]) -> float | None:
        topo._sync[topo.endpoint.identity] = stub_client
        try:
            return _try(lambda: per_call_us(fn, N))
        finally:
            topo._sync[topo.endpoint.identity] = real_client

    out.append(("router.call (topology.client + execute_command on a stub)",
                with_stub(lambda: router.call(made, "GET", made, write=False))))
    out.append(("   of which topology.client(key) lookup",
                _try(lambda: per_call_us(lambda: topo.client(made, False), N))))
    out.append(("get: whole cachex path, driver stubbed", with_stub(lambda: cache.get(k0))))
    out.append(("set: whole cachex path, driver stubbed",
                with_stub(lambda: cache.set(k0, value))))
    out.append(("   of which timeout -> ms (_ms) + set_args", _try(lambda: per_call_us(
        lambda: __import__("cachex.backends.timeouts", fromlist=["x"]).set_args(
            made, encoded, cache._ms(300)), N))))

    # -- get_many(100)
    made_keys = [cache.make_key(k) for k in keys]
    many_stub = _StubClient([encoded] * len(keys))
    n_many = 2000

    def with_many_stub(fn: Callable[[], Any]) -> float | None:
        topo._sync[topo.endpoint.identity] = many_stub
        topo.wire = False  # the batch goes to the stub client, not on a socket
        try:
            return _try(lambda: per_call_us(fn, n_many))
        finally:
            topo._sync[topo.endpoint.identity] = real_client
            del topo.wire

    out.append(("get_many(100): whole cachex path, driver stubbed",
                with_many_stub(lambda: cache.get_many(keys))))
    out.append(("   100 x make_and_validate_key (Django's per-key path)", _try(lambda: per_call_us(
        lambda: {cache.make_and_validate_key(k): k for k in keys}, n_many))))
    out.append(("   100 x make_key only (what django-redis does)", _try(lambda: per_call_us(
        lambda: {cache.make_key(k): k for k in keys}, n_many))))
    out.append(("   100 x decode", _try(lambda: per_call_us(
        lambda: [cache._decode(encoded, k) for k in made_keys], n_many))))
    out.append(("   100 x bare pickle.loads", _try(lambda: per_call_us(
        lambda: [pickle.loads(encoded) for _ in made_keys], n_many))))
    try:
        from cachex.routing import scatter

        positions = [list(range(len(keys)))]
        replies = [[[encoded] * len(keys)]]
        out.append(("   commands (one MGET on one node)", _try(lambda: per_call_us(
            lambda: cache._topology.commands("MGET", made_keys), n_many))))
        out.append(("   scatter (replies back to caller order)", _try(lambda: per_call_us(
            lambda: scatter(len(made_keys), positions, replies), n_many))))
    except Exception:
        out.append(("   plan/scatter (cachex.routing changed)", None))
    values = [encoded] * len(keys)
    out.append(("   for reference: raw dict(zip(keys, map(loads, values)))", _try(
        lambda: per_call_us(lambda: {k: pickle.loads(v) for k, v in
                                     zip(made_keys, values, strict=False) if v is not None},
                            n_many))))
    out.append(("   for reference: BaseCache.make_and_validate_key unbound call", _try(
        lambda: per_call_us(lambda: BaseCache.make_and_validate_key(cache, k0), N))))
    return out


class _SlotCall:
    """What ``Call`` costs as a plain class with __slots__ instead of a frozen dataclass."""

    __slots__ = ("args", "idempotent", "key", "write")

    def __init__(self, key: str, args: tuple[Any, ...], write: bool = True,
                 idempotent: bool = True) -> None:
        self.key = key
        self.args = args
        self.write = write
        self.idempotent = idempotent


def _what_ifs(cache: Any, keys: list[str], value: bytes) -> list[tuple[str, float | None]]:
    """Price the suggested changes, so the report can say what each would save."""
    import re

    from django.core.cache.backends.base import DEFAULT_TIMEOUT, default_key_func

    out: list[tuple[str, float | None]] = []
    k0 = keys[0]
    made = cache.make_key(k0)
    encoded = cache._encode(value, made)
    router = cache._router
    topo = router.topology
    real_client = topo.client(made, False)
    mk, dec, enc = cache.make_and_validate_key, cache._decode, cache._encode
    bad = re.compile(r"[\x00-\x20\x7f]").search
    N = 20000

    def fast_key(key: Any, version: int | None = None) -> str:
        k = str(cache.key_func(key, cache.key_prefix,
                               cache.version if version is None else version))
        if len(k) > 250 or bad(k):
            cache.validate_key(k)  # the rare case: Django's own warning, unchanged
        return k

    out.append(("key: key_func + inline regex/len check (warns via validate_key)",
                _try(lambda: per_call_us(lambda: fast_key(k0), N))))
    out.append(("Call(...) as a __slots__ class instead of a frozen dataclass",
                _try(lambda: per_call_us(lambda: _SlotCall(made, ("GET", made), False), N))))
    default_ms = cache._ms(DEFAULT_TIMEOUT)
    out.append(("timeout -> ms with the default precomputed", _try(lambda: per_call_us(
        lambda: default_ms if DEFAULT_TIMEOUT is DEFAULT_TIMEOUT else None, N))))

    def fast_get(key: Any, default: Any = None, version: int | None = None) -> Any:
        k = fast_key(key, version)
        raw = router.call(k, "GET", k, write=False)
        return default if raw is None else dec(raw, k)

    def fast_set(key: Any, val: Any, version: int | None = None) -> None:
        k = fast_key(key, version)
        router.call(k, "SET", k, enc(val, k), "PX", default_ms)

    stub = _StubClient(encoded)

    def with_stub(fn: Callable[[], Any], n: int, client: Any) -> float | None:
        topo._sync[topo.endpoint.identity] = client
        topo.wire = False  # batches go to the stub client, not on a socket
        try:
            return _try(lambda: per_call_us(fn, n))
        finally:
            topo._sync[topo.endpoint.identity] = real_client
            del topo.wire

    out.append(("get without the flow: fast key + router.call + decode",
                with_stub(lambda: fast_get(k0), N, stub)))
    out.append(("set without the flow: fast key + encode + router.call",
                with_stub(lambda: fast_set(k0, value), N, stub)))

    n_many = 2000
    many_stub = _StubClient([encoded] * len(keys))
    is_default = cache.key_func is default_key_func

    def batch_keys(ks: list[Any], version: int | None = None) -> list[str]:
        if not is_default:
            return [fast_key(k, version) for k in ks]
        prefix = f"{cache.key_prefix}:{cache.version if version is None else version}:"
        out_keys = [prefix + k if type(k) is str else f"{prefix}{k}" for k in ks]
        if bad("".join(out_keys)) or max(map(len, out_keys)) > 250:
            for k in out_keys:
                cache.validate_key(k)
        return out_keys

    out.append(("100 keys: one prefix + one regex over the joined keys",
                _try(lambda: per_call_us(lambda: batch_keys(keys), n_many))))
    node = topo.locate(made)

    def fast_get_many(ks: list[Any]) -> dict[Any, Any]:
        mk_keys = batch_keys(ks)
        values = router.run([(node, [("MGET", *mk_keys)])])[0][0]
        return {k: dec(v, m) for k, m, v in zip(ks, mk_keys, values, strict=False)
                if v is not None}

    out.append(("get_many(100): batch keys + one MGET + decode, no plan/scatter/flow",
                with_stub(lambda: fast_get_many(keys), n_many, many_stub)))
    del mk
    return out
