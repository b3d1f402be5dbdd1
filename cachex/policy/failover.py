"""What a failed call turns into once retries are exhausted. Pure.

``decide`` picks raise / fail_open / reroute for one failed step; ``neutral_reply`` is the
reply a command gets when it fails open: the answer a server would give for a key that is not
there and a write that changed nothing, so the facade's ordinary reply handling turns it into
Django's "miss" values (get -> default, add/delete/touch/has_key -> False, get_many -> no entry).

Both failover modes apply only to steps the facade flagged ``degradable=True``: the plain
cache API (get, set, add, delete, touch, has_key and the ``*_many`` forms), whose callers can
live with a miss, a dropped write or another shard's answer. incr/decr (a Lua script),
incr_version (RENAME), clear (FLUSHDB), locks and the data-structure API are never flagged,
so they always raise. Failing open also needs a neutral reply, so only commands listed in
``NEUTRAL`` (and the stampede read/touch scripts, which answer like GET/PEXPIRE) can fail open
at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..exceptions import ConnectionFailed, NodeUnavailable
from ..stampede.lua import DEGRADABLE as DEGRADABLE_SCRIPTS
from ..translate import sent_before_failure

RAISE, FAIL_OPEN, REROUTE = "raise", "fail_open", "reroute"

Command = Sequence[Any]

# Reply of the server for a missing key / a no-op write, per command name.
NEUTRAL: dict[str, Callable[[Command], Any]] = {
    "GET": lambda cmd: None,
    "MGET": lambda cmd: [None] * (len(cmd) - 1),
    "EXISTS": lambda cmd: 0,
    "SET": lambda cmd: None,       # a plain SET answers OK; None reads as "not stored"
    "DEL": lambda cmd: 0,
    "UNLINK": lambda cmd: 0,
    "TOUCH": lambda cmd: 0,
    "PEXPIRE": lambda cmd: 0,
    "EXPIRE": lambda cmd: 0,
    "PERSIST": lambda cmd: 0,
}


class NoNeutralReply(LookupError):
    """The command has no harmless stand-in reply, so it cannot fail open."""


class FailedReplies(list):  # type: ignore[type-arg]
    """A node's replies in a multi-node request, replaced by neutral ones because it failed
    open. A list like any reply list; callers that must report failures (``set_many``
    returns the keys it could not store) recognise it with ``isinstance``."""

    __slots__ = ("node",)

    def __init__(self, replies: list[Any], node: Any) -> None:
        super().__init__(replies)
        self.node = node


def neutral_reply(command: Command) -> Any:
    if len(command) > 1 and str(command[0]).upper() in ("EVALSHA", "EVAL") \
            and command[1] in DEGRADABLE_SCRIPTS:
        return None  # the stampede read/touch scripts: a missing key, nothing touched
    make = NEUTRAL.get(str(command[0]).upper())
    if make is None:
        raise NoNeutralReply(f"{command[0]} cannot fail open")
    return make(command)


def neutral_replies(commands: Sequence[Command], node: Any) -> FailedReplies:
    return FailedReplies([neutral_reply(c) for c in commands], node)


def decide(mode: str, err: BaseException, *, idempotent: bool, degradable: bool,
           replay_unsafe: bool, can_reroute: bool) -> str:
    """What to do with ``err``, the final error of one step, under failover ``mode``.

    Only unreachable nodes (connection errors, timeouts, open circuits) are failed over, and
    only for degradable steps; a server's answer (WRONGTYPE, READONLY...) is always raised.
    Rerouting re-sends the step to another node, so a non-idempotent step (add) is only
    rerouted when it surely never reached the first node.
    """
    if mode == RAISE or not degradable or not isinstance(err, ConnectionFailed):
        return RAISE
    if mode == FAIL_OPEN:
        return FAIL_OPEN
    if mode == REROUTE and can_reroute and (
            isinstance(err, NodeUnavailable) or idempotent or replay_unsafe
            or not sent_before_failure(err)):
        return REROUTE
    return RAISE
