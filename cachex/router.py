"""The executor: runs planned commands on topology clients under the alias's policy.

Written once: the guarded path (a node under suspicion), retries, failover and the recovery
of failed batches are generators of I/O-free steps (``cachex.steps``), performed by
``perform`` or ``aperform``. The hot path for one node (``_arun_node``, ``arun``) and the
one-line I/O adapters are written async, their sync twins generated (``scripts/unasync.py``);
the keyed hot path (``call``/``acall``) is hand-written. Every decision lives in shared
helpers or in ``cachex.policy``. Plans come from the topology (pure
routing), commands from the facade.

Hot path: while no node has failed recently (the breaker's ``suspects`` dict is empty), a call
is the bare driver call inside a ``try``. Only a failure, or a node under suspicion, takes the
guarded path: circuit check, retries (tenacity), then the failover mode (raise, fail_open,
reroute).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from _thread import get_ident
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from .exceptions import (
    CachexError,
    ClusterDown,
    ConnectionFailed,
    NodeUnavailable,
    PartialFailure,
    partial_failure_class,
)
from .policy import FailoverOptions, Policy, RetryPolicy
from .policy.failover import FAIL_OPEN, REROUTE, FailedReplies, NoNeutralReply, neutral_replies
from .policy.options import default_threshold
from .policy.oversize import LIMIT_QUERY, may_be_oversize, parse_limit, too_large
from .policy.reroute import NotReroutable, Reroute, reroute
from .redact import key_redactor
from .steps import Each, Io, Retry, Steps, aperform, perform
from .topology import Topology
from .topology.autopipe import AutoPipeliner
from .topology.wire import Clean
from .translate import broke_once_up, translate, unreachable

Command = tuple[Any, ...]
NodeCommands = tuple[Any, list[Command]]
log = logging.getLogger("cachex.policy")


class Router:
    """Sends commands for one alias; shared by every backend instance of that alias."""

    def __init__(self, topology: Topology, policy: Policy | RetryPolicy, *,
                 log_keys: str = "hash", pipelining: bool = False) -> None:
        if isinstance(policy, RetryPolicy):  # a bare retry policy: default failover options
            policy = Policy.from_retry(
                policy, FailoverOptions(threshold=default_threshold(topology.name)))
        self.topology = topology
        self.policy = policy
        self.retry = policy.retry
        self.stats = policy.stats
        self.breaker = policy.breaker
        # Non-empty only while some node has recent failures; the hot path checks nothing else.
        self._suspects: dict[Hashable, Any] = self.breaker.suspects if self.breaker else {}
        self.driver = topology.driver
        self._driver_error = topology.driver.base_error
        self._failures = (self._driver_error, CachexError)  # what the hot paths catch
        self._can_reroute = topology.reroutable
        self._replan = topology.moves_keys
        # Reads spread over replicas cannot be pinned on one node: no breaker for them.
        self._reads_located = topology.reads_located
        # keys in messages and logs: never replayable (cachex.redact, OPTIONS['log_keys']);
        # the alias's own choice (the topology, and its settings, may be shared by aliases)
        self._show_key = key_redactor(log_keys)
        # OPTIONS['pipelining']: concurrent single-key async calls share round-trips
        self._pipeliner = (AutoPipeliner(self) if pipelining and AutoPipeliner.suits(topology)
                           else None)

    # -- one command, routed by key ----------------------------------------------------
    # Hot path twin (``call``/``acall``): the bare driver call while nothing is suspect,
    # kept explicit because a generator-driven version costs a frame per call; everything
    # after a failure, or under suspicion, is the one-source ``_call_guarded``/``_call_failed``.
    def call(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
             degradable: bool = False) -> Any:
        if self._suspects:
            return perform(self._call_guarded(key, args, write, idempotent, degradable))
        try:
            return self.topology.client(key, write).execute_command(*args)
        except self._failures as exc:
            steps = self._call_broke(exc, key, args, write, idempotent, degradable)
        return perform(steps)

    # With auto-pipelining (async only, no sync twin), a call alone on its thread's loop (no
    # lone call and no flush in flight there) is the plain call, run here rather than in the
    # pipeliner (no coroutine frame more) and counted in ``pipe.busy`` meanwhile, so that
    # concurrent calls queue behind it; a flush started meanwhile holds its own count.
    async def acall(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
                    degradable: bool = False) -> Any:
        if self._suspects:
            return await aperform(self._call_guarded(key, args, write, idempotent, degradable))
        if (pipe := self._pipeliner) is not None and args[0] in pipe.commands:
            if (busy := pipe.busy)[thread := get_ident()] or not pipe.shortcut:
                return await pipe.call(thread, key, args, write, idempotent, degradable)
            busy[thread] = 1
            try:
                return await self.topology.aclient(key, write).execute_command(*args)
            except self._failures as exc:
                steps = self._call_broke(exc, key, args, write, idempotent, degradable)
            finally:
                busy[thread] -= 1
            return await aperform(steps)
        try:
            return await self.topology.aclient(key, write).execute_command(*args)
        except self._failures as exc:
            steps = self._call_broke(exc, key, args, write, idempotent, degradable)
        return await aperform(steps)

    def _call_broke(self, exc: BaseException, key: str, args: Command, write: bool,
                    idempotent: bool, degradable: bool) -> Steps[Any]:
        """The hot path's first attempt raised ``exc``: record it, then as after a failure."""
        err = exc if isinstance(exc, CachexError) else translate(exc, self.driver,
                                                                   self._where(key, args))
        node = self._node_of(key, write)
        self._record(node, err)
        return (yield from self._call_failed(err, node, key, args, write, idempotent,
                                             degradable))

    def _call_guarded(self, key: str, args: Command, write: bool, idempotent: bool,
                      degradable: bool) -> Steps[Any]:
        """A call while some node is suspect: circuit check first, then as after a failure."""
        node = self._node_of(key, write)
        try:
            return (yield from self._call_on(node, key, args, write))
        except CachexError as exc:
            err = exc
        return (yield from self._call_failed(err, node, key, args, write, idempotent,
                                             degradable))

    def _call_failed(self, err: CachexError, node: Hashable | None, key: str, args: Command,
                     write: bool, idempotent: bool, degradable: bool) -> Steps[Any]:
        """After the first attempt failed: retries, then the failover mode."""
        err = yield from self._sized(err, node, [args])
        yield from self._drop_idle(err, node)
        failed_at = time.monotonic()
        try:
            return (yield Retry(self.retry, err,
                                lambda: self._call_again(key, args, write, failed_at),
                                idempotent, self._where(key, args)))
        except CachexError as final:
            err = final
        outcome = self._fail_over(err, node, [args], idempotent, degradable)
        self._served(outcome)
        if isinstance(outcome, FailedReplies):
            return outcome[0]
        return outcome.merge((yield from self._run_plan(outcome)))[0]

    def _call_again(self, key: str, args: Command, write: bool, failed_at: float
                    ) -> Steps[Any]:
        """A retry, located afresh (in a Cluster, on a slot map read after the failure)."""
        if self._map_outdated(failed_at):
            yield Io(self.topology.refresh, self.topology.arefresh)
        return (yield from self._call_on(self._node_of(key, write), key, args, write))

    def _call_on(self, node: Hashable | None, key: str, args: Command, write: bool
                 ) -> Steps[Any]:
        """One guarded attempt: circuit check, call, bookkeeping."""
        self._gate(node)
        try:
            reply = yield Io(self._keyed, self._akeyed, key, write, args)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self._where(key, args))
            self._record(node, err)
            raise err from exc
        if node in self._suspects:
            self._healthy(node)
        return reply

    # -- several commands per node, one round-trip per node ----------------------------
    # Written once, async (the one-node hot path ``_arun_node``; several nodes go straight to
    # ``execute_many`` and take the one-source recovery steps only on failure); the sync twin
    # is generated (``scripts/unasync.py``).
    # generated by scripts/unasync.py from Router.arun; do not edit
    def run(self, batches: Sequence[NodeCommands], *, idempotent: bool = True,
            degradable: bool = False) -> list[list[Any]]:
        """Replies per batch, in batch order. Several nodes overlap their network waits
        (``execute_many``, and async ``_amany``: every request is sent before any reply is
        read). A node that failed open answers with a ``FailedReplies`` list of neutral
        replies. Every node is attempted and finishes before an error is raised (no request
        is left running in the background); when some of several fail, ``PartialFailure``
        says which. While nothing is suspect this is the bare ``execute_many`` and a sort of
        its results (a step loop would cost frames per call); only a failed node takes the
        steps (``_recover_batches``). While a node is suspect: open circuits fail over
        without I/O, rerouted commands ride along in their stand-ins' round-trips
        (``_run_suspected``)."""
        if len(batches) == 1:
            node, cmds = batches[0]
            return [self._run_node(node, cmds, idempotent, degradable)]
        if self._suspects:
            return perform(self._run_suspected(batches, idempotent, degradable))
        try:
            results = self.topology.execute_many(batches)
        except self._driver_error as exc:  # a redirect's slow path failed: no retry
            raise translate(exc, self.driver, f"{len(batches)} nodes") from exc
        out, failed = self._settle(batches, results)
        if failed:  # each failed node in turn: retries, failover
            return perform(self._recover_batches(batches, out, failed, {}, idempotent,
                                                 degradable))
        return out
    # end generated

    async def arun(self, batches: Sequence[NodeCommands], *, idempotent: bool = True,
                   degradable: bool = False) -> list[list[Any]]:
        """Replies per batch, in batch order. Several nodes overlap their network waits
        (``execute_many``, and async ``_amany``: every request is sent before any reply is
        read). A node that failed open answers with a ``FailedReplies`` list of neutral
        replies. Every node is attempted and finishes before an error is raised (no request
        is left running in the background); when some of several fail, ``PartialFailure``
        says which. While nothing is suspect this is the bare ``execute_many`` and a sort of
        its results (a step loop would cost frames per call); only a failed node takes the
        steps (``_recover_batches``). While a node is suspect: open circuits fail over
        without I/O, rerouted commands ride along in their stand-ins' round-trips
        (``_run_suspected``)."""
        if len(batches) == 1:
            node, cmds = batches[0]
            return [await self._arun_node(node, cmds, idempotent, degradable)]
        if self._suspects:
            return await aperform(self._run_suspected(batches, idempotent, degradable))
        try:
            results = await self._amany(batches)
        except self._driver_error as exc:  # a redirect's slow path failed: no retry
            raise translate(exc, self.driver, f"{len(batches)} nodes") from exc
        out, failed = self._settle(batches, results)
        if failed:  # each failed node in turn: retries, failover
            return await aperform(self._recover_batches(batches, out, failed, {}, idempotent,
                                                        degradable))
        return out

    def _recover_batches(self, batches: Sequence[NodeCommands], out: list[list[Any]],
                         failed: list[tuple[int, CachexError]],
                         errors: dict[int, CachexError], idempotent: bool,
                         degradable: bool) -> Steps[list[list[Any]]]:
        """Each failed batch in turn (retries are the rare path): retries and failover;
        the batches that stay failed raise ``PartialFailure``."""
        for i, err in failed:
            node, cmds = batches[i]
            try:
                out[i] = yield from self._run_failed(node, cmds, err, idempotent, degradable)
            except CachexError as exc:
                errors[i] = exc
        if errors:
            raise self._partial(batches, errors)
        return out

    def _stage_suspected(self, batches: Sequence[NodeCommands], idempotent: bool,
                         degradable: bool, errors: dict[int, CachexError]
                         ) -> tuple[list[list[Any]], list[tuple[int, CachexError]],
                                    dict[Hashable, list[Command]],
                                    list[tuple[int, Reroute | None,
                                               list[tuple[Hashable, int, int]]]]]:
        """What to send while some node is suspect (no I/O; ``_run_suspected`` and its
        twin send it). A node whose circuit is open is
        refused without I/O and failed over at once (fixed nodes: an open circuit is never
        retried there): failed open, or its commands rerouted *into the same round-trip*
        as the other nodes' batches, appended to their stand-ins' command lists. So a node
        out costs no extra round-trip, and the healthy nodes still send together. A suspect
        that answered is healthy again. Returns the replies so far, the batches to retry,
        the command lists per node and where each batch's part lies in them; fills
        ``errors`` with the batches that failed for good."""
        out: list[list[Any]] = [[] for _ in batches]
        failed: list[tuple[int, CachexError]] = []
        send: dict[Hashable, list[Command]] = {}
        spans: list[tuple[int, Reroute | None, list[tuple[Hashable, int, int]]]] = []
        for i, (node, cmds) in enumerate(batches):
            try:
                self._gate(node)
            except NodeUnavailable as exc:
                if self._replan:  # Cluster: the retry re-reads the slot map
                    failed.append((i, exc))
                    continue
                try:
                    outcome = self._fail_over(exc, node, cmds, idempotent, degradable)
                except CachexError as final:
                    errors[i] = final
                    continue
                if isinstance(outcome, FailedReplies):
                    out[i] = outcome
                    continue
                parts = []
                for target, moved in outcome.batches:
                    listed = send.setdefault(target, [])
                    parts.append((target, len(listed), len(moved)))
                    listed.extend(moved)
                spans.append((i, outcome, parts))
                continue
            listed = send.setdefault(node, [])
            spans.append((i, None, [(node, len(listed), len(cmds))]))
            listed.extend(cmds)
        return out, failed, send, spans

    def _run_suspected(self, batches: Sequence[NodeCommands], idempotent: bool,
                       degradable: bool) -> Steps[list[list[Any]]]:
        """While a node is suspect: the staged batches in one round-trip (async: one
        coroutine for wire batches, else one task per node), then the recovery."""
        errors: dict[int, CachexError] = {}
        out, failed, send, spans = self._stage_suspected(batches, idempotent, degradable,
                                                         errors)
        if send:
            nodes = list(send)
            try:
                results = yield Io(self.topology.execute_many, self._amany,
                                   [(n, send[n]) for n in nodes])
            except self._driver_error as exc:
                raise translate(exc, self.driver, f"{len(nodes)} nodes") from exc
            self._settle_suspected(nodes, results, spans, out, failed, errors)
        failed.sort(key=lambda pair: pair[0])
        return (yield from self._recover_batches(batches, out, failed, errors, idempotent,
                                                 degradable))

    def _settle_suspected(self, nodes: list[Hashable], results: Sequence[Any],
                          spans: list[tuple[int, Reroute | None, list[tuple[Hashable, int, int]]]],
                          out: list[list[Any]], failed: list[tuple[int, CachexError]],
                          errors: dict[int, CachexError]) -> None:
        """Hand each batch its part of the nodes' replies (a rerouted batch: merged back
        from its stand-ins' parts). No I/O."""
        by_node: dict[Hashable, list[Any] | CachexError] = {}
        for node, result in zip(nodes, results, strict=True):
            if isinstance(result, BaseException):
                by_node[node] = self._broken(node, result)
            else:
                by_node[node] = result
                if node in self._suspects:
                    self._healthy(node)
        for i, plan, parts in spans:
            pieces: list[list[Any]] = []
            problem: CachexError | None = None
            for node, start, count in parts:
                got = by_node[node]
                if isinstance(got, CachexError):
                    problem = got
                    break
                piece = got[start:start + count]
                bad = next((r for r in piece if isinstance(r, self._driver_error)), None)
                if bad is not None:
                    problem = translate(bad, self.driver, self.topology.node_label(node))
                    break
                pieces.append(piece)
            if plan is None:
                if problem is not None:
                    failed.append((i, problem))
                else:
                    out[i] = pieces[0]
            elif problem is not None:
                errors[i] = problem
            else:
                out[i] = plan.merge(pieces, rerouted=True)

    def _broken(self, node: Hashable, exc: BaseException) -> CachexError:
        """A node's batch broke with ``exc`` (in ``execute_many``'s results): the cachex
        error for it, recorded for the breaker; anything else (a cancellation, a bug) is
        raised."""
        err = (translate(exc, self.driver, self.topology.node_label(node))
               if isinstance(exc, self._driver_error) else exc)
        if not isinstance(err, CachexError):
            raise err
        self._record(node, err)
        return err

    def _partial(self, batches: Sequence[NodeCommands], errors: dict[int, CachexError]
                 ) -> PartialFailure:
        """The error for a multi-node request of which the nodes in ``errors`` failed.
        ``applied``/``not_applied`` hold node labels here (the facade, which knows the
        caller's keys, puts those in); ``failed_batches`` the failed batches' indexes."""
        label = self.topology.node_label
        first = errors[min(errors)]
        failed = [label(batches[i][0]) for i in sorted(errors)]
        ok = [label(node) for i, (node, _) in enumerate(batches) if i not in errors]
        per_node = "; ".join(f"{label(batches[i][0])}: {type(e).__name__} ({e})"
                             for i, e in sorted(errors.items()))
        err = partial_failure_class(type(first))(
            f"cachex {self.policy.alias!r}: {len(failed)} of {len(batches)} nodes failed, "
            f"{len(ok)} applied the request; {per_node}",
            applied=ok, not_applied=failed,
            errors={label(batches[i][0]): e for i, e in sorted(errors.items())})
        err.failed_batches = sorted(errors)
        err.__cause__ = first
        return err

    def _settle(self, batches: Sequence[NodeCommands],
                results: Sequence[list[Any] | BaseException]
                ) -> tuple[list[list[Any]], list[tuple[int, CachexError]]]:
        """Sort ``execute_many``'s results: replies per node, and the nodes that failed
        (recorded for the breaker; the caller retries them): a broken connection, or an
        error reply (the first one stands for the node, as a pipeline would raise it)."""
        out: list[list[Any]] = []
        failed: list[tuple[int, CachexError]] = []
        for i, ((node, _), result) in enumerate(zip(batches, results, strict=True)):
            if isinstance(result, BaseException):
                failed.append((i, self._broken(node, result)))
                out.append([])
                continue
            if type(result) is not Clean:
                bad = next((r for r in result if isinstance(r, self._driver_error)), None)
                if bad is not None:
                    err = translate(bad, self.driver, self.topology.node_label(node))
                    self._record(node, err)
                    failed.append((i, err))
                    out.append([])
                    continue
            out.append(result)
        return out, failed

    # Hot path (``_arun_node``, its sync twin generated): one node's batch while nothing is
    # suspect (a step loop would cost a frame per multi-key call).
    # generated by scripts/unasync.py from Router._arun_node; do not edit
    def _run_node(self, node: Any, cmds: list[Command], idempotent: bool,
                  degradable: bool) -> list[Any]:
        if self._suspects:
            return perform(self._run_guarded(node, cmds, idempotent, degradable))
        try:
            return self.topology.execute(node, cmds)
        except self._failures as exc:
            steps = self._run_broke(exc, node, cmds, idempotent, degradable)
        return perform(steps)
    # end generated

    async def _arun_node(self, node: Any, cmds: list[Command], idempotent: bool,
                         degradable: bool) -> list[Any]:
        if self._suspects:
            return await aperform(self._run_guarded(node, cmds, idempotent, degradable))
        try:
            return await self.topology.aexecute(node, cmds)
        except self._failures as exc:
            steps = self._run_broke(exc, node, cmds, idempotent, degradable)
        return await aperform(steps)

    def _run_broke(self, exc: BaseException, node: Any, cmds: list[Command], idempotent: bool,
                   degradable: bool) -> Steps[list[Any]]:
        """The hot path's first attempt raised ``exc``: record it, then as after a failure."""
        err = exc if isinstance(exc, CachexError) else translate(
            exc, self.driver, self.topology.node_label(node))
        self._record(node, err)
        return (yield from self._run_failed(node, cmds, err, idempotent, degradable))

    def _run_guarded(self, node: Any, cmds: list[Command], idempotent: bool,
                     degradable: bool) -> Steps[list[Any]]:
        try:
            return (yield from self._run_on(node, cmds))
        except CachexError as exc:
            err = exc
        return (yield from self._run_failed(node, cmds, err, idempotent, degradable))

    def _run_failed(self, node: Any, cmds: list[Command], err: CachexError, idempotent: bool,
                    degradable: bool) -> Steps[list[Any]]:
        """After a node's first attempt failed: retries, then the failover mode."""
        err = yield from self._sized(err, node, cmds)
        yield from self._drop_idle(err, node)
        failed_at = time.monotonic()
        try:
            return (yield Retry(self.retry, err,  # type: ignore[no-any-return]
                                lambda: self._run_again(node, cmds, failed_at),
                                idempotent, self.topology.node_label(node)))
        except CachexError as final:
            err = final
        outcome = self._fail_over(err, node, cmds, idempotent, degradable)
        if isinstance(outcome, FailedReplies):
            return outcome
        return outcome.merge((yield from self._run_plan(outcome)), rerouted=True)

    def _run_on(self, node: Any, cmds: list[Command]) -> Steps[list[Any]]:
        self._gate(node)
        try:
            replies = yield Io(self.topology.execute, self.topology.aexecute, node, cmds)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self.topology.node_label(node))
            self._record(node, err)
            raise err from exc
        if node in self._suspects:
            self._healthy(node)
        return replies  # type: ignore[no-any-return]

    def _run_again(self, node: Any, cmds: list[Command], failed_at: float
                   ) -> Steps[list[Any]]:
        """A retry of a batch: where slots move (Cluster failover), re-plan it first."""
        if self._map_outdated(failed_at):
            yield Io(self.topology.refresh, self.topology.arefresh)
        plan = self._replanned(node, cmds)
        if plan is None:
            return (yield from self._run_on(node, cmds))
        return plan.merge((yield from self._run_plan(plan)))

    def _sized(self, err: CachexError, node: Hashable | None, cmds: list[Command]
               ) -> Steps[CachexError]:
        """``ValueTooLarge`` instead of ``err`` when a command's value was over the node's
        request limit (asked from the node; see ``policy/oversize.py``), so no retry
        re-sends it."""
        size = may_be_oversize(err, cmds)
        if not size or node is None:
            return err
        try:
            reply = yield Io(self._probe, self._aprobe, node, LIMIT_QUERY)
        except (self._driver_error, CachexError):
            reply = None
        return too_large(size, parse_limit(reply), self.topology.node_label(node), err)

    def _drop_idle(self, err: CachexError, node: Hashable | None) -> Steps[None]:
        """Before a retry after a connection to ``node`` broke once it was up (reset, closed):
        close the node's idle pooled connections. What broke one (a restart, a network
        fault) most likely broke them too, and asyncio may not have read their resets yet,
        so the pool's check cannot tell; a retry on one of them fails again without
        reaching the server. Retries then connect afresh."""
        if self.retry is None or node is None or not broke_once_up(err):
            return
        drop = self.topology.drop_idle
        yield Io(drop, functools.partial(drop, asynchronous=True), node)

    def _run_plan(self, plan: Reroute) -> Steps[list[list[Any]]]:
        """A rerouted plan's batches: in turn (sync) or at once (async)."""
        return (yield Each([self._run_on(node, cmds)  # type: ignore[no-any-return]
                            for node, cmds in plan.batches]))

    # -- the I/O the steps name (``Io``), where it is more than one topology method ------
    # One line each, written async; the sync twins are generated (``scripts/unasync.py``).
    # generated by scripts/unasync.py from Router._akeyed; do not edit
    def _keyed(self, key: str, write: bool, args: Command) -> Any:
        return self.topology.client(key, write).execute_command(*args)
    # end generated

    async def _akeyed(self, key: str, write: bool, args: Command) -> Any:
        return await self.topology.aclient(key, write).execute_command(*args)

    # generated by scripts/unasync.py from Router._aprobe; do not edit
    def _probe(self, node: Hashable, args: Command) -> Any:
        return self.topology.node_client(node).execute_command(*args)
    # end generated

    async def _aprobe(self, node: Hashable, args: Command) -> Any:
        return await self.topology.anode_client(node).execute_command(*args)

    async def _amany(self, pairs: Sequence[NodeCommands]) -> Sequence[Any]:
        """Async ``execute_many``: one coroutine for wire batches, else one task per node
        (the sync side pipelines those inside ``execute_many``)."""
        if self.topology.wired(pairs):
            return await self.topology.aexecute_many(pairs)
        return list(await asyncio.gather(*[self.topology.aexecute(n, c) for n, c in pairs],
                                         return_exceptions=True))

    # -- decisions shared by both twins (no I/O) ----------------------------------------
    def _map_outdated(self, failed_at: float) -> bool:
        """Cluster: re-read the slot map before a retry unless it was read after the failure
        (a failover moves slots; concurrent retries share one re-read)."""
        freshness = self.topology.freshness
        return freshness is not None and freshness.due_before_retry(failed_at)

    def _replanned(self, node: Any, cmds: list[Command]) -> Reroute | None:
        """The batch re-planned on the current slot map, or None to retry it where it was.

        Only Cluster moves keys between nodes at run time; a batch planned for a primary that
        died must follow its slots to the promoted replica. (Other topologies' batches name
        roles or fixed shards: re-locating a replica read would send it to the primary.)
        """
        if not self._replan:
            return None
        try:
            plan = reroute(cmds, self.topology.locate)
        except (NotReroutable, CachexError):
            return None
        if len(plan.batches) == 1 and plan.batches[0][0] == node:
            return None
        return plan

    def _node_of(self, key: str, write: bool) -> Hashable | None:
        """The node a keyed call goes to, for the breaker; None when it cannot be known."""
        if not write and not self._reads_located:
            return None
        try:
            return self.topology.locate(key)  # type: ignore[no-any-return]
        except CachexError:
            return None

    def _gate(self, node: Hashable | None) -> None:
        """Refuse, without a network call, a call to a node whose circuit is open."""
        breaker = self.breaker
        if node is None or breaker is None or breaker.allow(node):
            return
        self.topology.note_unreachable(node)  # cluster: the slots may have a new owner now
        self.stats.incr("short_circuits")
        label = self.topology.node_label(node)
        raise NodeUnavailable(
            f"{label}: circuit open after {breaker.threshold} consecutive connection failures; "
            f"next probe in {breaker.retry_in(node):.1f}s (cachex cache {self.policy.alias!r})",
            node=label)

    def _record(self, node: Hashable | None, err: CachexError) -> None:
        """Feed the breaker: failed connects and timeouts count, a server's answer clears,
        a broken pooled connection neither counts nor clears (the retry will tell)."""
        if node is None or self.breaker is None:
            return
        if isinstance(err, ConnectionFailed):
            if unreachable(err) and self.breaker.failure(node):
                self.stats.incr("circuit_opens")
                label = self.topology.node_label(node)
                log.warning("cachex %r: circuit for %s opened after %s; no calls to it for "
                            "%.1fs", self.policy.alias, label, err, self.breaker.cooldown,
                            extra={"alias": self.policy.alias, "node": label,
                                   "event": "circuit_open"})
        elif not isinstance(err, ClusterDown) and node in self._suspects:
            self._healthy(node)

    def _healthy(self, node: Hashable) -> None:
        if self.breaker is not None and self.breaker.success(node):
            self.stats.incr("circuit_closes")
            label = self.topology.node_label(node)
            log.warning("cachex %r: %s answers again; circuit closed", self.policy.alias,
                        label, extra={"alias": self.policy.alias, "node": label,
                                      "event": "circuit_close"})

    def _fail_over(self, err: CachexError, node: Hashable | None, cmds: list[Command],
                   idempotent: bool, degradable: bool) -> FailedReplies | Reroute:
        """After retries: neutral replies (fail_open), a plan on other nodes (reroute), or
        ``err`` raised."""
        action = self.policy.decide(err, idempotent=idempotent, degradable=degradable,
                                    can_reroute=self._can_reroute and node is not None)
        label = self.topology.node_label(node) if node is not None else "?"
        quiet = isinstance(err, NodeUnavailable)  # the circuit opening was logged already
        extra = {"alias": self.policy.alias, "node": label, "event": action}
        if action == FAIL_OPEN:
            try:
                replies: FailedReplies | None = neutral_replies(cmds, node)
            except NoNeutralReply:
                replies = None
            if replies is None:
                raise err
            self.stats.incr("fail_open")
            log.log(logging.DEBUG if quiet else logging.WARNING,
                    "cachex %r: %s failed open (%s)", self.policy.alias, label, err,
                    extra=extra)
            return replies
        if action == REROUTE:
            down = set(self.breaker.open_nodes()) if self.breaker is not None else set()
            down.add(node)
            fallback: Callable[[Any, Any], Hashable | None] = self.topology.fallback_node
            try:
                plan: Reroute | None = reroute(cmds, lambda key: fallback(key, down))
            except NotReroutable:
                plan = None
            if plan is None:
                raise err
            self.stats.incr("reroutes")
            level = logging.DEBUG if quiet else logging.INFO
            if log.isEnabledFor(level):  # every call while a circuit is open: no join then
                log.log(level, "cachex %r: %s unreachable (%s); rerouted to %s",
                        self.policy.alias, label, err,
                        ", ".join(self.topology.node_label(n) for n, _ in plan.batches),
                        extra=extra)
            return plan
        raise err

    def _served(self, outcome: FailedReplies | Reroute) -> None:
        """A keyed call is served by a failover (``outcome``); a hook for observers (the
        metrics layer), called on that failure path only. A batch needs none: its replies
        say it (``FailedReplies``, ``ReroutedReplies``) wherever its task ran."""

    def _where(self, key: str, args: Command) -> str:
        return f"{args[0]} {self._show_key(key)} on {self.topology.label_for(key)}"

