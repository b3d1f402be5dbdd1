"""One flow that runs a stampede script (``lua.py``) by its digest."""

from __future__ import annotations

from typing import Any

from ..backends.flow import Call, Flow
from ..exceptions import CommandError
from .lua import READ, RELEASE, SHAS, TOUCH

__all__ = ["READ", "RELEASE", "TOUCH", "script"]


def _no_script(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    return type(cause).__name__ == "NoScriptError" or str(cause).startswith(
        ("NOSCRIPT", "No matching script"))


def script(key: str, text: str, *args: Any, degradable: bool = False) -> Flow[Any]:
    """Run ``text`` on ``key``'s node: EVALSHA, and the full text only when the server
    does not have it yet. Degradable scripts answer nil when their node fails open."""
    try:
        return (yield Call(key, ("EVALSHA", SHAS[text], 1, key, *args),
                           degradable=degradable))
    except CommandError as exc:
        if not _no_script(exc):
            raise
    return (yield Call(key, ("EVAL", text, 1, key, *args), degradable=degradable))
