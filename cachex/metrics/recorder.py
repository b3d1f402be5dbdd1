"""The instrumented router: times every operation and tells the configured sinks.

Only aliases with ``OPTIONS["metrics"]`` get it; the others keep the plain ``Router``. Labels
are the alias, its topology, the node (``host:port``, or the role for Sentinel), the command
(``GET``, ``MGET``, ...) and the outcome (``ok`` or the error class). Key names never appear,
unless ``key_names`` is set, and then only as a span attribute.
"""

from __future__ import annotations

import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from contextvars import ContextVar
from typing import Any

from ..exceptions import CachexError
from ..policy import Policy, RetryPolicy
from ..policy.failover import FailedReplies
from ..policy.reroute import Reroute, ReroutedReplies
from ..router import Command, NodeCommands, Router
from ..topology import Topology
from .options import MetricsOptions, parse_metrics

_perf = time.perf_counter
# Set by the debug toolbar panel for the duration of a request: calls are appended to it.
current_calls: ContextVar[list[dict[str, Any]] | None] = ContextVar("cachex_calls", default=None)
# Set by a failover decision inside a keyed call (``Router._served``, run in the caller's own
# task), so that the call is reported as served by the failover ("rerouted", "failed_open"),
# not as an ordinary success of its node. Batches need no such state: their replies carry the
# decision (``FailedReplies``, ``ReroutedReplies``), also out of an async batch's child tasks.
_served_by: ContextVar[str | None] = ContextVar("cachex_served_by", default=None)

_routers: weakref.WeakSet[InstrumentedRouter] = weakref.WeakSet()
_routers_lock = threading.Lock()


def routers() -> list[InstrumentedRouter]:
    with _routers_lock:
        return list(_routers)


# Latency buckets (seconds, upper bounds) of the duration histograms.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
           1.0, 2.5, 5.0)


class Local:
    """This process's totals for one alias, updated under one lock per operation; the
    Prometheus collector and ``cachex stats`` read them (nothing is pushed anywhere)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ops: dict[tuple[str, str, str], int] = {}                # (node, command, outcome)
        self.buckets: dict[str, list[int]] = {}                       # command -> counts
        self.sums: dict[str, float] = {}                              # command -> seconds
        self.errors: dict[tuple[str, str], int] = {}                  # (node, kind)
        self.failovers: dict[tuple[str, str], int] = {}               # (node, action)
        self.hits = 0
        self.misses = 0

    def op(self, node: str, command: str, outcome: str, seconds: float, hits: int,
           misses: int) -> None:
        slot = bisect_left(BUCKETS, seconds)
        key = (node, command, outcome)
        with self._lock:
            ops = self.ops
            ops[key] = ops.get(key, 0) + 1
            counts = self.buckets.get(command)
            if counts is None:
                counts = self.buckets[command] = [0] * (len(BUCKETS) + 1)
                self.sums[command] = 0.0
            counts[slot] += 1
            self.sums[command] += seconds
            if hits:
                self.hits += hits
            if misses:
                self.misses += misses

    def error(self, node: str, kind: str) -> None:
        with self._lock:
            self.errors[(node, kind)] = self.errors.get((node, kind), 0) + 1

    def failover(self, node: str, action: str) -> None:
        with self._lock:
            self.failovers[(node, action)] = self.failovers.get((node, action), 0) + 1

    def copy(self) -> dict[str, Any]:
        """A consistent copy of every total (for a scrape)."""
        with self._lock:
            return {"ops": dict(self.ops), "buckets": {c: list(b) for c, b in
                                                       self.buckets.items()},
                    "sums": dict(self.sums), "errors": dict(self.errors),
                    "failovers": dict(self.failovers), "hits": self.hits,
                    "misses": self.misses}

    def snapshot(self) -> dict[str, Any]:
        c = self.copy()
        return {
            "hits": c["hits"], "misses": c["misses"],
            "operations": {f"{n} {m} {o}": v for (n, m, o), v in sorted(c["ops"].items())},
            "errors": {f"{n} {k}": v for (n, k), v in sorted(c["errors"].items())},
            "failovers": {f"{n} {a}": v for (n, a), v in sorted(c["failovers"].items())},
        }


def snapshot(alias: str) -> dict[str, Any]:
    """This process's metrics totals for ``alias`` ({} when its metrics are off)."""
    for router in routers():
        if router.policy.alias == alias:
            return router.local.snapshot()
    return {}


class InstrumentedRouter(Router):
    """A ``Router`` that reports each operation (and each failed attempt) to its sinks."""

    def __init__(self, topology: Topology, policy: Policy | RetryPolicy,
                 options: MetricsOptions, **router_options: Any) -> None:
        super().__init__(topology, policy, **router_options)
        self.metrics = options
        self.alias = self.policy.alias
        self.local = Local()
        self.sinks: list[Any] = []
        if options.prometheus:
            from .prometheus import PrometheusSink
            self.sinks.append(PrometheusSink(self, options))
        if options.otel:
            from .otel import OtelSink
            self.sinks.append(OtelSink(self, options))
        self._tracer = next((s for s in self.sinks if getattr(s, "traces", False)), None)
        # sinks told of each operation as it happens (Prometheus reads ``local`` instead)
        self._push = [s for s in self.sinks if hasattr(s, "op")]
        self._sentinel = topology.name == "sentinel"
        with _routers_lock:
            _routers.add(self)

    # -- labels -------------------------------------------------------------------------
    def node_name(self, node: Hashable | None) -> str:
        return "?" if node is None else str(node)

    def _keyed_node(self, key: str, write: bool) -> str:
        if self._sentinel:
            return "primary" if write or not self.topology.settings.read_from_replicas \
                else "replica"
        node = self._node_of(key, write)
        if node is None:  # a read spread over replicas, or a node that cannot be located
            return "?" if write or self._reads_located else "replica"
        return str(node)

    # -- reporting ----------------------------------------------------------------------
    def _report(self, node: str, command: str, outcome: str, seconds: float, hits: int,
                misses: int) -> None:
        self.local.op(node, command, outcome, seconds, hits, misses)
        for sink in self._push:
            sink.op(node, command, outcome, seconds, hits, misses)
        calls = current_calls.get()
        if calls is not None:
            calls.append({"alias": self.alias, "topology": self.topology.name, "node": node,
                          "command": command, "outcome": outcome,
                          "ms": round(seconds * 1000, 3)})

    # -- the four entry points (traced twins only when spans are on) -------------------
    def call(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
             degradable: bool = False) -> Any:
        if self._tracer is not None:
            return self._traced_call(key, args, write, idempotent, degradable)
        started = _perf()
        try:
            reply = Router.call(self, key, *args, write=write, idempotent=idempotent,
                                degradable=degradable)
        except BaseException as exc:
            self._failed(None, self._keyed_node(key, write), args[0], exc, _perf() - started)
            raise
        self._done(None, self._keyed_node(key, write), args[0], _perf() - started, reply)
        return reply

    def _traced_call(self, key: str, args: Command, write: bool, idempotent: bool,
                     degradable: bool) -> Any:
        node, command = self._keyed_node(key, write), args[0]
        with self._tracer.span(command, node, key) as span:  # type: ignore[union-attr]
            started = _perf()
            try:
                reply = Router.call(self, key, *args, write=write, idempotent=idempotent,
                                    degradable=degradable)
            except BaseException as exc:
                self._failed(span, node, command, exc, _perf() - started)
                raise
            self._done(span, node, command, _perf() - started, reply)
        return reply

    async def acall(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
                    degradable: bool = False) -> Any:
        if self._tracer is not None:
            return await self._atraced_call(key, args, write, idempotent, degradable)
        started = _perf()
        try:
            reply = await Router.acall(self, key, *args, write=write, idempotent=idempotent,
                                       degradable=degradable)
        except BaseException as exc:
            self._failed(None, self._keyed_node(key, write), args[0], exc, _perf() - started)
            raise
        self._done(None, self._keyed_node(key, write), args[0], _perf() - started, reply)
        return reply

    async def _atraced_call(self, key: str, args: Command, write: bool, idempotent: bool,
                            degradable: bool) -> Any:
        node, command = self._keyed_node(key, write), args[0]
        with self._tracer.span(command, node, key) as span:  # type: ignore[union-attr]
            started = _perf()
            try:
                reply = await Router.acall(self, key, *args, write=write,
                                           idempotent=idempotent, degradable=degradable)
            except BaseException as exc:
                self._failed(span, node, command, exc, _perf() - started)
                raise
            self._done(span, node, command, _perf() - started, reply)
        return reply

    def run(self, batches: Sequence[NodeCommands], *, idempotent: bool = True,
            degradable: bool = False) -> list[list[Any]]:
        with _BatchScope(self, batches) as scope:
            scope.replies = Router.run(self, batches, idempotent=idempotent,
                                       degradable=degradable)
        return scope.replies

    async def arun(self, batches: Sequence[NodeCommands], *, idempotent: bool = True,
                   degradable: bool = False) -> list[list[Any]]:
        with _BatchScope(self, batches) as scope:
            scope.replies = await Router.arun(self, batches, idempotent=idempotent,
                                              degradable=degradable)
        return scope.replies

    # -- outcomes ------------------------------------------------------------------------
    def _done(self, span: Any, node: str, command: str, seconds: float, reply: Any) -> None:
        hits = misses = 0
        if command == "GET":
            hits, misses = (0, 1) if reply is None else (1, 0)
        outcome = "ok"
        served = _served_by.get()
        if served is not None:  # a failover decided how this call was served
            outcome = served
            _served_by.set(None)
        self._report(node, command, outcome, seconds, hits, misses)
        if span is not None:
            self._tracer.finish(span, outcome)  # type: ignore[union-attr]

    def _batch_done(self, span: Any, batches: Sequence[NodeCommands],
                    replies: list[list[Any]], command: str, seconds: float) -> None:
        per_node = seconds / max(1, len(batches))
        for (node, cmds), node_replies in zip(batches, replies):
            hits = misses = 0
            name = self.node_name(node)
            outcome = ("ok" if type(node_replies) is list
                       else "failed_open" if isinstance(node_replies, FailedReplies)
                       else "rerouted" if isinstance(node_replies, ReroutedReplies)
                       else "ok")
            # every outcome counts its keys: a rerouted batch's replies are the stand-in
            # node's answers, a failed-open one's are the misses its caller sees (as for a
            # single-key GET); the outcome label tells them apart
            for cmd, reply in zip(cmds, node_replies):
                if cmd[0] == "MGET" and isinstance(reply, list):
                    n_miss = reply.count(None)
                    misses += n_miss
                    hits += len(reply) - n_miss
                elif cmd[0] == "GET":
                    if reply is None:
                        misses += 1
                    else:
                        hits += 1
            self._report(name, str(cmds[0][0]) if cmds else command,
                         outcome, per_node, hits, misses)
        if span is not None:
            self._tracer.finish(span, "ok")  # type: ignore[union-attr]

    def _failed(self, span: Any, node: str, command: str, exc: BaseException,
                seconds: float) -> None:
        if _served_by.get() is not None:
            _served_by.set(None)
        outcome = type(exc).__name__
        self._report(node, command, outcome, seconds, 0, 0)
        if span is not None:
            self._tracer.finish(span, outcome, exc)  # type: ignore[union-attr]

    # -- the policy's own events (failure paths only) ----------------------------------
    def _record(self, node: Hashable | None, err: CachexError) -> None:
        name = self._error_node(node, err)
        kind = type(err).__name__
        self.local.error(name, kind)
        for sink in self._push:
            sink.error(name, kind)
        super()._record(node, err)

    def _error_node(self, node: Hashable | None, err: CachexError) -> str:
        if node is not None:
            return str(node)
        where = getattr(err, "node", None)
        return str(where) if where else "?"

    def _fail_over(self, err: CachexError, node: Hashable | None, cmds: list[Command],
                   idempotent: bool, degradable: bool) -> FailedReplies | Reroute:
        try:
            outcome = super()._fail_over(err, node, cmds, idempotent, degradable)
        except BaseException:
            self._failover_event(node, "raise")
            raise
        failed_open = isinstance(outcome, FailedReplies)
        self._failover_event(node, "fail_open" if failed_open else "reroute")
        return outcome

    def _served(self, outcome: FailedReplies | Reroute) -> None:
        _served_by.set("failed_open" if isinstance(outcome, FailedReplies) else "rerouted")

    def _failover_event(self, node: Hashable | None, action: str) -> None:
        name = self.node_name(node)
        self.local.failover(name, action)
        for sink in self._push:
            sink.failover(name, action)


class _BatchScope:
    """One multi-node request being timed, for ``run`` and ``arun`` alike: the span (when
    spans are on) opens on entry; on exit the batch is reported as done, per node, or as
    failed, then the span closes with the error, if any."""

    __slots__ = ("batches", "command", "node", "replies", "router", "span", "span_cm",
                 "started")

    def __init__(self, router: InstrumentedRouter, batches: Sequence[NodeCommands]) -> None:
        self.router, self.batches = router, batches
        self.command, self.node = _batch_command(batches), _batch_node(router, batches)
        tracer = router._tracer
        self.span_cm = tracer.span(self.command, self.node, None) if tracer is not None \
            else _NO_SPAN
        self.replies: list[list[Any]] = []

    def __enter__(self) -> _BatchScope:
        self.span = self.span_cm.__enter__()
        self.started = _perf()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: Any) -> bool | None:
        seconds = _perf() - self.started
        try:
            if exc is not None:
                self.router._failed(self.span, self.node, self.command, exc, seconds)
            else:
                self.router._batch_done(self.span, self.batches, self.replies, self.command,
                                        seconds)
        except BaseException as err:  # the span still closes, with that error
            self.span_cm.__exit__(type(err), err, err.__traceback__)
            raise
        return self.span_cm.__exit__(kind, exc, tb)


class _NoSpan:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


_NO_SPAN = _NoSpan()


def _batch_command(batches: Sequence[NodeCommands]) -> str:
    for _, cmds in batches:
        if cmds:
            return str(cmds[0][0])
    return "?"


def _batch_node(router: InstrumentedRouter, batches: Sequence[NodeCommands]) -> str:
    return router.node_name(batches[0][0]) if len(batches) == 1 else "*"


def instrument(router: Router, raw: Any, **router_options: Any) -> Router:
    """``router`` itself when metrics are off; else an instrumented router over the same
    topology and policy, built with the same ``router_options`` (the plain one is dropped
    before it served anything)."""
    options = parse_metrics(raw, check_imports=True)
    if not options.enabled:
        return router
    return InstrumentedRouter(router.topology, router.policy, options, **router_options)
