"""Helpers for the security tests: memory peaks, log capture, secret scans."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

MB = 1024 * 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_growth(action: Callable[[], Any]) -> int:
    """Bytes by which this process's peak RSS rose while ``action`` ran.

    Writing 5 to ``/proc/self/clear_refs`` resets the peak (VmHWM) to the current RSS, so
    even memory that was allocated and freed again inside ``action`` is counted.
    """
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kb("VmRSS")
    try:
        action()
    finally:
        peak = _status_kb("VmHWM")
    return max(0, peak - before) * 1024


class Records(logging.Handler):
    """Every log record of every logger, at every level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> Iterator[str]:
        """Each record's message, its arguments and its extra attributes, as text."""
        plain = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
        for r in self.records:
            yield r.getMessage()
            for arg in r.args if isinstance(r.args, tuple) else [r.args]:
                yield repr(arg)
            for name, value in vars(r).items():
                if name not in plain:
                    yield f"{name}={value!r}"
            if r.exc_info and r.exc_info[1] is not None:
                yield from error_texts(r.exc_info[1])


@contextmanager
def all_logs() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def error_texts(exc: BaseException) -> Iterator[str]:
    """str and repr of an error and of every error it was raised from or during."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield str(e)
        yield repr(e)
        todo += [e.__cause__, e.__context__]


def leaks(texts: Iterable[str], secrets: Iterable[str]) -> list[tuple[str, str]]:
    """(secret, text) for every text that contains a secret."""
    secrets = [s for s in secrets if s]
    return [(s, t) for t in texts for s in secrets if s in t]
