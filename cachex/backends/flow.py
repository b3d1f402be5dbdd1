"""Multi-step operations written once, run by a sync or an async driver.

A flow is a generator that yields ``Call``/``Run`` steps and receives their replies (or has
the error thrown in). ``drive`` and ``adrive`` are the only twins: the logic of, say,
``incr_version`` exists once, free of I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar, Union

from ..router import NodeCommands, Router

T = TypeVar("T")


# Steps are made on every multi-step call: plain slotted dataclasses (a frozen one's
# ``__init__`` pays ``object.__setattr__`` per field). Nothing changes a step once made.
@dataclass(slots=True)
class Call:
    """One command routed by ``key``."""

    key: str
    args: tuple[Any, ...]
    write: bool = True
    idempotent: bool = True
    # may the failover policy turn a dead node into a neutral reply (a miss, a dropped write)?
    degradable: bool = False


@dataclass(slots=True)
class Run:
    """Commands grouped per node, one round-trip per node."""

    batches: list[NodeCommands]
    idempotent: bool = True
    degradable: bool = False


@dataclass(frozen=True)
class Pause:
    """Sleep (``time.sleep`` / ``asyncio.sleep``): a flow that waits for another caller."""

    seconds: float


@dataclass(frozen=True)
class Await:
    """Await a caller's awaitable (an async ``get_or_set`` default); refused by ``drive``."""

    awaitable: Awaitable[Any]


Step = Union[Call, Run, Pause, Await]  # noqa: UP007 - a runtime alias
Flow = Generator[Step, Any, T]


def drive(router: Router, flow: Flow[T]) -> T:
    if router.topology.stale:  # cluster: no slot map yet, or a redirect made it stale
        router.topology.refresh()
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        error = None
        try:
            if isinstance(step, Call):
                reply = router.call(step.key, *step.args, write=step.write,
                                    idempotent=step.idempotent, degradable=step.degradable)
            elif isinstance(step, Run):
                reply = router.run(step.batches, idempotent=step.idempotent,
                                   degradable=step.degradable)
            elif isinstance(step, Pause):
                time.sleep(step.seconds)
                reply = None
            else:
                getattr(step.awaitable, "close", lambda: None)()  # no "never awaited" warning
                raise TypeError("the default returned an awaitable; use the async method "
                                "(aget_or_set) to have it awaited")
        except Exception as exc:  # handed to the flow, which decides
            error = exc


async def adrive(router: Router, flow: Flow[T]) -> T:
    if router.topology.stale:
        await router.topology.arefresh()
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        error = None
        try:
            if isinstance(step, Call):
                reply = await router.acall(step.key, *step.args, write=step.write,
                                           idempotent=step.idempotent,
                                           degradable=step.degradable)
            elif isinstance(step, Run):
                reply = await router.arun(step.batches, idempotent=step.idempotent,
                                          degradable=step.degradable)
            elif isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
                reply = None
            else:
                reply = await step.awaitable
        except Exception as exc:
            error = exc
