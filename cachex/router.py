"""The executor: runs planned commands on topology clients under the alias's policy.

This is the only place with sync/async twins that do I/O; each twin is a few lines and every
decision lives in shared helpers or in ``cachex.policy``. Plans come from the topology (pure
routing), commands from the facade.

Hot path: while no node has failed recently (the breaker's ``suspects`` dict is empty), a call
is the bare driver call inside a ``try``. Only a failure, or a node under suspicion, takes the
guarded path: circuit check, retries (tenacity), then the failover mode (raise, fail_open,
reroute).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from .exceptions import (
    CachexError,
    ClusterDown,
    ConnectionFailed,
    NodeUnavailable,
)
from .policy import FailoverOptions, Policy, RetryPolicy
from .policy.failover import FAIL_OPEN, REROUTE, FailedReplies, NoNeutralReply, neutral_replies
from .policy.options import default_threshold
from .policy.reroute import NotReroutable, Reroute, reroute
from .redact import key_redactor
from .topology import Topology
from .topology.wire import Clean
from .translate import translate, unreachable

Command = tuple[Any, ...]
NodeCommands = tuple[Any, list[Command]]
log = logging.getLogger("cachex.policy")


class Router:
    """Sends commands for one alias; shared by every backend instance of that alias."""

    def __init__(self, topology: Topology, policy: Policy | RetryPolicy, *,
                 log_keys: str = "hash") -> None:
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
        self._can_reroute = topology.reroutable
        self._replan = topology.moves_keys
        # Reads spread over replicas cannot be pinned on one node: no breaker for them.
        self._reads_located = topology.reads_located
        # keys in messages and logs: never replayable (cachex.redact, OPTIONS['log_keys']);
        # the alias's own choice (the topology, and its settings, may be shared by aliases)
        self._show_key = key_redactor(log_keys)

    # -- one command, routed by key ----------------------------------------------------
    def call(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
             degradable: bool = False) -> Any:
        if not self._suspects:
            try:
                return self.topology.client(key, write).execute_command(*args)
            except self._driver_error as exc:
                err: CachexError = translate(exc, self.driver, self._where(key, args))
            except CachexError as exc:
                err = exc
            node = self._node_of(key, write)
            self._record(node, err)
        else:
            node = self._node_of(key, write)
            try:
                return self._call_on(node, key, args, write)
            except CachexError as exc:
                err = exc
        return self._call_failed(err, node, key, args, write, idempotent, degradable)

    def _call_failed(self, err: CachexError, node: Hashable | None, key: str, args: Command,
                     write: bool, idempotent: bool, degradable: bool) -> Any:
        """After the first attempt failed: retries, then the failover mode. (Kept out of
        ``call`` so that the hot path builds no closures.)"""
        failed_at = time.monotonic()
        try:
            return self.retry.recover(
                err, lambda: self._call_again(key, args, write, failed_at),
                idempotent=idempotent, where=self._where(key, args))
        except CachexError as final:
            err = final
        outcome = self._fail_over(err, node, [args], idempotent, degradable)
        if isinstance(outcome, FailedReplies):
            return outcome[0]
        return outcome.merge(self._run_plan(outcome))[0]

    async def acall(self, key: str, *args: Any, write: bool = True, idempotent: bool = True,
                    degradable: bool = False) -> Any:
        if not self._suspects:
            try:
                return await self.topology.aclient(key, write).execute_command(*args)
            except self._driver_error as exc:
                err: CachexError = translate(exc, self.driver, self._where(key, args))
            except CachexError as exc:
                err = exc
            node = self._node_of(key, write)
            self._record(node, err)
        else:
            node = self._node_of(key, write)
            try:
                return await self._acall_on(node, key, args, write)
            except CachexError as exc:
                err = exc
        return await self._acall_failed(err, node, key, args, write, idempotent, degradable)

    async def _acall_failed(self, err: CachexError, node: Hashable | None, key: str,
                            args: Command, write: bool, idempotent: bool,
                            degradable: bool) -> Any:
        failed_at = time.monotonic()
        try:
            return await self.retry.arecover(
                err, lambda: self._acall_again(key, args, write, failed_at),
                idempotent=idempotent, where=self._where(key, args))
        except CachexError as final:
            err = final
        outcome = self._fail_over(err, node, [args], idempotent, degradable)
        if isinstance(outcome, FailedReplies):
            return outcome[0]
        return outcome.merge(await self._arun_plan(outcome))[0]

    def _call_again(self, key: str, args: Command, write: bool, failed_at: float) -> Any:
        """A retry, located afresh (in a Cluster, on a slot map read after the failure)."""
        if self._map_outdated(failed_at):
            self.topology.refresh()
        return self._call_on(self._node_of(key, write), key, args, write)

    async def _acall_again(self, key: str, args: Command, write: bool,
                           failed_at: float) -> Any:
        if self._map_outdated(failed_at):
            await self.topology.arefresh()
        return await self._acall_on(self._node_of(key, write), key, args, write)

    def _call_on(self, node: Hashable | None, key: str, args: Command, write: bool) -> Any:
        """One guarded attempt: circuit check, call, bookkeeping."""
        self._gate(node)
        try:
            reply = self.topology.client(key, write).execute_command(*args)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self._where(key, args))
            self._record(node, err)
            raise err from exc
        if node in self._suspects:
            self._healthy(node)
        return reply

    async def _acall_on(self, node: Hashable | None, key: str, args: Command,
                        write: bool) -> Any:
        self._gate(node)
        try:
            reply = await self.topology.aclient(key, write).execute_command(*args)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self._where(key, args))
            self._record(node, err)
            raise err from exc
        if node in self._suspects:
            self._healthy(node)
        return reply

    # -- several commands per node, one round-trip per node ----------------------------
    def run(self, batches: Sequence[NodeCommands], *, idempotent: bool = True,
            degradable: bool = False) -> list[list[Any]]:
        """Replies per batch, in batch order. Several healthy nodes overlap their network
        waits (``execute_many``: every request is sent before any reply is read). A node
        that failed open answers with a ``FailedReplies`` list of neutral replies."""
        if len(batches) == 1 or self._suspects:
            return [self._run_node(node, cmds, idempotent, degradable) for node, cmds in batches]
        try:
            results = self.topology.execute_many(batches)
        except self._driver_error as exc:  # a redirect's slow path failed: nothing to retry
            raise translate(exc, self.driver, f"{len(batches)} nodes") from exc
        out, failed = self._settle(batches, results)
        for i, err in failed:
            node, cmds = batches[i]
            out[i] = self._run_failed(node, cmds, err, idempotent, degradable)
        return out

    async def arun(self, batches: Sequence[NodeCommands], *, idempotent: bool = True,
                   degradable: bool = False) -> list[list[Any]]:
        """Replies per batch. Healthy nodes with plain batches are served by one coroutine
        that sends to every node before reading any (``aexecute_many``); otherwise every
        node runs concurrently. Every node finishes before an error is raised, so no request
        is left running in the background."""
        if len(batches) == 1:
            node, cmds = batches[0]
            return [await self._arun_node(node, cmds, idempotent, degradable)]
        if self._suspects or not self.topology.wired(batches):
            return await _gather([self._arun_node(node, cmds, idempotent, degradable)
                                  for node, cmds in batches])
        try:
            results = await self.topology.aexecute_many(batches)
        except self._driver_error as exc:
            raise translate(exc, self.driver, f"{len(batches)} nodes") from exc
        out, failed = self._settle(batches, results)
        for i, err in failed:  # one after another: retries are the rare path
            node, cmds = batches[i]
            out[i] = await self._arun_failed(node, cmds, err, idempotent, degradable)
        return out

    def _settle(self, batches: Sequence[NodeCommands],
                results: Sequence[list[Any] | BaseException]
                ) -> tuple[list[list[Any]], list[tuple[int, CachexError]]]:
        """Sort ``execute_many``'s results: replies per node, and the nodes whose connection
        failed (recorded for the breaker; the caller retries them). A command's own error
        reply raises, as a pipeline would."""
        out: list[list[Any]] = []
        failed: list[tuple[int, CachexError]] = []
        for i, ((node, _), result) in enumerate(zip(batches, results, strict=True)):
            if isinstance(result, BaseException):
                err = (translate(result, self.driver, self.topology.node_label(node))
                       if isinstance(result, self._driver_error) else result)
                if not isinstance(err, CachexError):
                    raise err
                self._record(node, err)
                failed.append((i, err))
                out.append([])
                continue
            if type(result) is not Clean:
                for reply in result:
                    if isinstance(reply, self._driver_error):
                        raise translate(reply, self.driver, self.topology.node_label(node))
            out.append(result)
        return out, failed

    def _run_node(self, node: Any, cmds: list[Command], idempotent: bool,
                  degradable: bool) -> list[Any]:
        if not self._suspects:
            try:
                return self.topology.execute(node, cmds)
            except self._driver_error as exc:
                err: CachexError = translate(exc, self.driver, self.topology.node_label(node))
            except CachexError as exc:
                err = exc
            self._record(node, err)
        else:
            try:
                return self._run_on(node, cmds)
            except CachexError as exc:
                err = exc
        return self._run_failed(node, cmds, err, idempotent, degradable)

    def _run_failed(self, node: Any, cmds: list[Command], err: CachexError, idempotent: bool,
                    degradable: bool) -> list[Any]:
        """After a node's first attempt failed: retries, then the failover mode."""
        failed_at = time.monotonic()
        try:
            return self.retry.recover(err, lambda: self._run_again(node, cmds, failed_at),
                                      idempotent=idempotent, where=self.topology.node_label(node))
        except CachexError as final:
            err = final
        outcome = self._fail_over(err, node, cmds, idempotent, degradable)
        if isinstance(outcome, FailedReplies):
            return outcome
        return outcome.merge(self._run_plan(outcome))

    async def _arun_node(self, node: Any, cmds: list[Command], idempotent: bool,
                         degradable: bool) -> list[Any]:
        if not self._suspects:
            try:
                return await self.topology.aexecute(node, cmds)
            except self._driver_error as exc:
                err: CachexError = translate(exc, self.driver, self.topology.node_label(node))
            except CachexError as exc:
                err = exc
            self._record(node, err)
        else:
            try:
                return await self._arun_on(node, cmds)
            except CachexError as exc:
                err = exc
        return await self._arun_failed(node, cmds, err, idempotent, degradable)

    async def _arun_failed(self, node: Any, cmds: list[Command], err: CachexError,
                           idempotent: bool, degradable: bool) -> list[Any]:
        failed_at = time.monotonic()
        try:
            return await self.retry.arecover(
                err, lambda: self._arun_again(node, cmds, failed_at),
                idempotent=idempotent, where=self.topology.node_label(node))
        except CachexError as final:
            err = final
        outcome = self._fail_over(err, node, cmds, idempotent, degradable)
        if isinstance(outcome, FailedReplies):
            return outcome
        return outcome.merge(await self._arun_plan(outcome))

    def _run_on(self, node: Any, cmds: list[Command]) -> list[Any]:
        self._gate(node)
        try:
            replies = self.topology.execute(node, cmds)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self.topology.node_label(node))
            self._record(node, err)
            raise err from exc
        if node in self._suspects:
            self._healthy(node)
        return replies

    async def _arun_on(self, node: Any, cmds: list[Command]) -> list[Any]:
        self._gate(node)
        try:
            replies = await self.topology.aexecute(node, cmds)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self.topology.node_label(node))
            self._record(node, err)
            raise err from exc
        if node in self._suspects:
            self._healthy(node)
        return replies

    def _run_again(self, node: Any, cmds: list[Command], failed_at: float) -> list[Any]:
        """A retry of a batch: where slots move (Cluster failover), re-plan it first."""
        if self._map_outdated(failed_at):
            self.topology.refresh()
        plan = self._replanned(node, cmds)
        if plan is None:
            return self._run_on(node, cmds)
        return plan.merge(self._run_plan(plan))

    async def _arun_again(self, node: Any, cmds: list[Command], failed_at: float) -> list[Any]:
        if self._map_outdated(failed_at):
            await self.topology.arefresh()
        plan = self._replanned(node, cmds)
        if plan is None:
            return await self._arun_on(node, cmds)
        return plan.merge(await self._arun_plan(plan))

    def _run_plan(self, plan: Reroute) -> list[list[Any]]:
        return [self._run_on(node, cmds) for node, cmds in plan.batches]

    async def _arun_plan(self, plan: Reroute) -> list[list[Any]]:
        return await _gather([self._arun_on(node, cmds) for node, cmds in plan.batches])

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
            log.log(logging.DEBUG if quiet else logging.INFO,
                    "cachex %r: %s unreachable (%s); rerouted to %s", self.policy.alias, label,
                    err, ", ".join(self.topology.node_label(n) for n, _ in plan.batches),
                    extra=extra)
            return plan
        raise err

    def _where(self, key: str, args: Command) -> str:
        return f"{args[0]} {self._show_key(key)} on {self.topology.label_for(key)}"


async def _gather(coros: Sequence[Any]) -> list[Any]:
    """Run every coroutine to the end, then raise the first error (if any)."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
