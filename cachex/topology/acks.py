"""Read-your-writes on replica topologies: a write travels with ``WAIT n timeout``.

With ``OPTIONS["wait_replicas"]``, every command sent to the primary is pipelined with WAIT,
so the reply comes back only once ``n`` replicas have the write (or the timeout passed —
WAIT never fails, so a slow replica delays the write by at most the timeout). One
round-trip, as before.
"""

from __future__ import annotations

from typing import Any

from .base import _pipeline


class AckingClient:
    """A primary's sync client whose single commands wait for replica acknowledgement."""

    __slots__ = ("client", "wait")

    def __init__(self, client: Any, wait: tuple[Any, ...]) -> None:
        self.client = client
        self.wait = wait

    def execute_command(self, *args: Any) -> Any:
        return _pipeline(self.client, [args, self.wait]).execute()[0]


class AsyncAckingClient(AckingClient):
    # Twin of one line: the same pipeline, executed or awaited.
    __slots__ = ()

    async def execute_command(self, *args: Any) -> Any:  # type: ignore[override]
        return (await _pipeline(self.client, [args, self.wait]).execute())[0]
