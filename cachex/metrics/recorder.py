"""The instrumented router: times every operation and tells the configured sinks.

Only aliases with ``OPTIONS["metrics"]`` get it; the others keep the plain ``Router``. Labels
are the alias, its topology, the node (``host:port``, or the role for Sentinel), the command
(``GET``, ``MGET``, ...) and the outcome (``ok`` or the error class). Key names never appear,
unless ``key_names`` is set, and then only as a span attribute.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from ..exceptions import CachexError
from ..policy import Policy, RetryPolicy
from ..policy.failover import FailedReplies
from ..policy.reroute import Reroute
from ..router import Command, NodeCommands, Router
from ..topology import Topology
from .options import MetricsOptions, parse_metrics

_perf = time.perf_counter
# Set by the debug toolbar panel for the duration of a request: calls are appended to it.
current_calls: ContextVar[list[dict[str, Any]] | None] = ContextVar("cachex_calls", default=None)

_routers: weakref.WeakSet[InstrumentedRouter] = weakref.WeakSet()
_routers_lock = threading.Lock()


def routers() -> list[InstrumentedRouter]:
    with _routers_lock:
        return list(_routers)


class Local:
    """Totals kept in this process for ``cachex stats`` (and tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ops: Counter[tuple[str, str, str]] = Counter()      # (node, command, outcome)
        self.errors: Counter[tuple[str, str]] = Counter()        # (node, kind)
        self.failovers: Counter[tuple[str, str]] = Counter()     # (node, action)
        self.hits = 0
        self.misses = 0

    def op(self, node: str, command: str, outcome: str, hits: int, misses: int) -> None:
        with self._lock:
            self.ops[(node, command, outcome)] += 1
            self.hits += hits
            self.misses += misses

    def error(self, node: str, kind: str) -> None:
        with self._lock:
            self.errors[(node, kind)] += 1

    def failover(self, node: str, action: str) -> None:
        with self._lock:
            self.failovers[(node, action)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "hits": self.hits, "misses": self.misses,
                "operations": {f"{n} {c} {o}": v for (n, c, o), v in sorted(self.ops.items())},
                "errors": {f"{n} {k}": v for (n, k), v in sorted(self.errors.items())},
                "failovers": {f"{n} {a}": v for (n, a), v in sorted(self.failovers.items())},
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
                 options: MetricsOptions) -> None:
        super().__init__(topology, policy)
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
        if node is None:  # a read spread over replicas
            return "replica"
        return str(node)

    # -- reporting ----------------------------------------------------------------------
    def _report(self, node: str, command: str, outcome: str, seconds: float, hits: int,
                misses: int) -> None:
        self.local.op(node, command, outcome, hits, misses)
        for sink in self.sinks:
            sink.op(node, command, outcome, seconds, hits, misses)
        calls = current_calls.get()
        if calls is not None:
            calls.append({"alias": self.alias, "topology": self.topology.name, "node": node,
                          "command": command, "outcome": outcome,
                          "ms": round(seconds * 1000, 3)})

    @contextlib.contextmanager
    def _span(self, command: str, node: str, key: str | None) -> Iterator[Any]:
        if self._tracer is None:
            yield None
            return
        with self._tracer.span(command, node, key) as span:
            yield span

    # -- the four entry points ----------------------------------------------------------
    def call(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
             degradable: bool = False) -> Any:
        command = str(args[0]).upper()
        node = self._keyed_node(key, write)
        with self._span(command, node, key) as span:
            started = _perf()
            try:
                reply = super().call(key, *args, write=write, idempotent=idempotent,
                                     degradable=degradable)
            except BaseException as exc:
                self._failed(span, node, command, exc, _perf() - started)
                raise
            self._done(span, node, command, _perf() - started, reply)
        return reply

    async def acall(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
                    degradable: bool = False) -> Any:
        command = str(args[0]).upper()
        node = self._keyed_node(key, write)
        with self._span(command, node, key) as span:
            started = _perf()
            try:
                reply = await super().acall(key, *args, write=write, idempotent=idempotent,
                                            degradable=degradable)
            except BaseException as exc:
                self._failed(span, node, command, exc, _perf() - started)
                raise
            self._done(span, node, command, _perf() - started, reply)
        return reply

    def run(self, batches: Sequence[NodeCommands], *, idempotent: bool = True,
            degradable: bool = False) -> list[list[Any]]:
        command = _batch_command(batches)
        node = _batch_node(self, batches)
        with self._span(command, node, None) as span:
            started = _perf()
            try:
                replies = super().run(batches, idempotent=idempotent, degradable=degradable)
            except BaseException as exc:
                self._failed(span, node, command, exc, _perf() - started)
                raise
            self._batch_done(span, batches, replies, command, _perf() - started)
        return replies

    async def arun(self, batches: Sequence[NodeCommands], *, idempotent: bool = True,
                   degradable: bool = False) -> list[list[Any]]:
        command = _batch_command(batches)
        node = _batch_node(self, batches)
        with self._span(command, node, None) as span:
            started = _perf()
            try:
                replies = await super().arun(batches, idempotent=idempotent,
                                             degradable=degradable)
            except BaseException as exc:
                self._failed(span, node, command, exc, _perf() - started)
                raise
            self._batch_done(span, batches, replies, command, _perf() - started)
        return replies

    # -- outcomes ------------------------------------------------------------------------
    def _done(self, span: Any, node: str, command: str, seconds: float, reply: Any) -> None:
        hits = misses = 0
        if command == "GET":
            hits, misses = (0, 1) if reply is None else (1, 0)
        self._report(node, command, "ok", seconds, hits, misses)
        if span is not None:
            self._tracer.finish(span, "ok")  # type: ignore[union-attr]

    def _batch_done(self, span: Any, batches: Sequence[NodeCommands],
                    replies: list[list[Any]], command: str, seconds: float) -> None:
        per_node = seconds / max(1, len(batches))
        for (node, cmds), node_replies in zip(batches, replies):
            hits = misses = 0
            outcome = "failed_open" if isinstance(node_replies, FailedReplies) else "ok"
            if outcome == "ok":
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
            self._report(self.node_name(node), str(cmds[0][0]).upper() if cmds else command,
                         outcome, per_node, hits, misses)
        if span is not None:
            self._tracer.finish(span, "ok")  # type: ignore[union-attr]

    def _failed(self, span: Any, node: str, command: str, exc: BaseException,
                seconds: float) -> None:
        outcome = type(exc).__name__
        self._report(node, command, outcome, seconds, 0, 0)
        if span is not None:
            self._tracer.finish(span, outcome, exc)  # type: ignore[union-attr]

    # -- the policy's own events (failure paths only) ----------------------------------
    def _record(self, node: Hashable | None, err: CachexError) -> None:
        name = self._error_node(node, err)
        kind = type(err).__name__
        self.local.error(name, kind)
        for sink in self.sinks:
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
        self._failover_event(node, "fail_open" if isinstance(outcome, FailedReplies)
                             else "reroute")
        return outcome

    def _failover_event(self, node: Hashable | None, action: str) -> None:
        name = self.node_name(node)
        self.local.failover(name, action)
        for sink in self.sinks:
            sink.failover(name, action)


def _batch_command(batches: Sequence[NodeCommands]) -> str:
    for _, cmds in batches:
        if cmds:
            return str(cmds[0][0]).upper()
    return "?"


def _batch_node(router: InstrumentedRouter, batches: Sequence[NodeCommands]) -> str:
    return router.node_name(batches[0][0]) if len(batches) == 1 else "*"


def instrument(router: Router, raw: Any) -> Router:
    """``router`` itself when metrics are off; else an instrumented router over the same
    topology and policy (the plain one is dropped before it served anything)."""
    options = parse_metrics(raw, check_imports=True)
    if not options.enabled:
        return router
    return InstrumentedRouter(router.topology, router.policy, options)
