"""I/O-free steps and the two loops that perform them: the I/O layer's one source.

The executor's guarded and recovery paths (``router.py``) and Cluster's redirects and map
refreshes (``topology/cluster.py``) are generators that yield steps and receive each step's
result, or have its error thrown in; they hold every decision and no I/O. ``perform`` runs
them synchronously, ``aperform`` on the event loop. The facade's flows work the same way
one layer up (``backends/flow.py``); this module is the same idea below the facade.

A step says which I/O to do, never how to wait for it:

- ``Io(sync, asynchronous, *args)``: ``sync(*args)``, or ``await asynchronous(*args)``;
- ``Each([steps, ...])``: several generators' results, in turn (sync) or at once (async,
  every one to the end before the first error is raised);
- ``Retry(policy, err, again, idempotent, where)``: the retry policy's attempts (tenacity),
  each one the steps of a fresh ``again()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
Steps = Generator[Any, Any, T]


class Io:
    """One I/O call, named twice: the sync callable and its async twin, same arguments."""

    __slots__ = ("args", "asynchronous", "sync")

    def __init__(self, sync: Callable[..., Any], asynchronous: Callable[..., Any],
                 *args: Any) -> None:
        self.sync = sync
        self.asynchronous = asynchronous
        self.args = args


class Each:
    """Several step generators; their results in order."""

    __slots__ = ("steps",)

    def __init__(self, steps: Sequence[Steps[Any]]) -> None:
        self.steps = steps


class Retry:
    """Retries under ``policy`` (a ``RetryPolicy``) after ``err``; ``again()`` makes the
    steps of one attempt. The result is the first attempt's that succeeds."""

    __slots__ = ("again", "err", "idempotent", "policy", "where")

    def __init__(self, policy: Any, err: BaseException, again: Callable[[], Steps[Any]],
                 idempotent: bool, where: str) -> None:
        self.policy = policy
        self.err = err
        self.again = again
        self.idempotent = idempotent
        self.where = where


class _Done:
    """The steps' end: their return value."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _advance(steps: Steps[Any], reply: Any, error: BaseException | None) -> Any:
    """The next step, after handing ``reply`` (or throwing ``error``) in; ``_Done`` at the end."""
    try:
        return steps.throw(error) if error is not None else steps.send(reply)
    except StopIteration as stop:
        return _Done(stop.value)


# The only twin bodies of this module: they differ in ``await`` and in how several step
# generators run (in turn, or at once); neither holds a decision.
def perform(steps: Steps[T]) -> T:
    """Run ``steps`` to the end synchronously; a step's error is thrown back into them."""
    reply: Any = None
    error: BaseException | None = None
    while type(step := _advance(steps, reply, error)) is not _Done:
        error = None
        try:
            if type(step) is Io:
                reply = step.sync(*step.args)
            elif type(step) is Each:
                reply = [perform(each) for each in step.steps]
            else:
                reply = step.policy.recover(step.err, _again(perform, step.again),
                                            idempotent=step.idempotent, where=step.where)
        except BaseException as exc:  # handed to the steps, which decide
            error = exc
    return step.value  # type: ignore[no-any-return]


async def aperform(steps: Steps[T]) -> T:
    """Run ``steps`` to the end on the event loop."""
    reply: Any = None
    error: BaseException | None = None
    while type(step := _advance(steps, reply, error)) is not _Done:
        error = None
        try:
            if type(step) is Io:
                reply = await step.asynchronous(*step.args)
            elif type(step) is Each:
                reply = await gather([aperform(each) for each in step.steps])
            else:
                reply = await step.policy.arecover(step.err, _again(aperform, step.again),
                                                   idempotent=step.idempotent,
                                                   where=step.where)
        except BaseException as exc:
            error = exc
    return step.value  # type: ignore[no-any-return]


def _again(run: Callable[[Steps[Any]], Any], again: Callable[[], Steps[Any]]
           ) -> Callable[[], Any]:
    """One retry attempt: fresh steps from ``again``, run (or awaited) by ``run``."""
    return lambda: run(again())


async def gather(coros: Sequence[Any]) -> list[Any]:
    """Run every coroutine to the end, then raise the first error (if any)."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
