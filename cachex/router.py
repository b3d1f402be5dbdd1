"""The executor: runs planned commands on topology clients under the retry policy.

This is the only place with sync/async twins that do I/O; each twin is a few lines. Plans
come from the topology (pure routing), commands from the facade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from .exceptions import CachexError
from .policy import RetryPolicy
from .topology import Topology
from .translate import translate

Command = tuple[Any, ...]
NodeCommands = tuple[Any, list[Command]]


class Router:
    """Sends commands for one alias; shared by every backend instance of that alias."""

    def __init__(self, topology: Topology, policy: RetryPolicy) -> None:
        self.topology = topology
        self.policy = policy
        self.driver = topology.driver
        self._driver_error = topology.driver.base_error

    # -- one command, routed by key ----------------------------------------------------
    def call(self, key: str, *args: Any, write: bool = True, idempotent: bool = True) -> Any:
        try:
            return self.topology.client(key, write).execute_command(*args)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self._where(key, args))
        return self.policy.recover(err, lambda: self._call_once(key, args, write),
                                   idempotent=idempotent, where=self._where(key, args))

    async def acall(self, key: str, *args: Any, write: bool = True,
                    idempotent: bool = True) -> Any:
        try:
            return await self.topology.aclient(key, write).execute_command(*args)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self._where(key, args))
        return await self.policy.arecover(err, lambda: self._acall_once(key, args, write),
                                          idempotent=idempotent, where=self._where(key, args))

    def _call_once(self, key: str, args: Command, write: bool) -> Any:
        try:
            return self.topology.client(key, write).execute_command(*args)
        except self._driver_error as exc:
            raise translate(exc, self.driver, self._where(key, args)) from None

    async def _acall_once(self, key: str, args: Command, write: bool) -> Any:
        try:
            return await self.topology.aclient(key, write).execute_command(*args)
        except self._driver_error as exc:
            raise translate(exc, self.driver, self._where(key, args)) from None

    # -- several commands per node, one round-trip per node ----------------------------
    def run(self, batches: Sequence[NodeCommands], *, idempotent: bool = True
            ) -> list[list[Any]]:
        """Replies per batch, in batch order; nodes one after another."""
        return [self._run_node(node, cmds, idempotent) for node, cmds in batches]

    async def arun(self, batches: Sequence[NodeCommands], *, idempotent: bool = True
                   ) -> list[list[Any]]:
        """Replies per batch; all nodes concurrently. Every node finishes before an error
        is raised, so no request is left running in the background."""
        if len(batches) == 1:
            node, cmds = batches[0]
            return [await self._arun_node(node, cmds, idempotent)]
        results = await asyncio.gather(
            *(self._arun_node(node, cmds, idempotent) for node, cmds in batches),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results  # type: ignore[return-value]

    def _run_node(self, node: Any, cmds: list[Command], idempotent: bool) -> list[Any]:
        try:
            return self.topology.execute(node, cmds)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self.topology.node_label(node))
        return self.policy.recover(err, lambda: self._run_node_once(node, cmds),
                                   idempotent=idempotent, where=self.topology.node_label(node))

    async def _arun_node(self, node: Any, cmds: list[Command], idempotent: bool) -> list[Any]:
        try:
            return await self.topology.aexecute(node, cmds)
        except self._driver_error as exc:
            err = translate(exc, self.driver, self.topology.node_label(node))
        return await self.policy.arecover(err, lambda: self._arun_node_once(node, cmds),
                                          idempotent=idempotent,
                                          where=self.topology.node_label(node))

    def _run_node_once(self, node: Any, cmds: list[Command]) -> list[Any]:
        try:
            return self.topology.execute(node, cmds)
        except self._driver_error as exc:
            raise translate(exc, self.driver, self.topology.node_label(node)) from None

    async def _arun_node_once(self, node: Any, cmds: list[Command]) -> list[Any]:
        try:
            return await self.topology.aexecute(node, cmds)
        except self._driver_error as exc:
            raise translate(exc, self.driver, self.topology.node_label(node)) from None

    def _where(self, key: str, args: Command) -> str:
        return f"{args[0]} {key!r} on {self.topology.label_for(key)}"


def raise_first_error(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, CachexError):
            raise reply
