"""SCAN over every primary, pure: which command to send next, and what a reply yields.

Patterns are Redis globs. The user's pattern applies to the Django-level key; the alias's
prefix and version are glob-escaped and put around it by the key function, so a prefix
such as ``"a*b"`` matches only itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.core.cache.backends.base import default_key_func

from ...router import NodeCommands
from ...routing import Batch
from ._common import text

DEFAULT_ITERSIZE = 1000
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def glob_escape(value: str) -> str:
    """``value`` as a glob that matches exactly itself."""
    return _GLOB_SPECIAL.sub(r"\\\1", value)


def match_pattern(key_func: Callable[..., Any], prefix: str, version: int, pattern: str) -> str:
    """The stored-key glob for a Django-key glob: the key function applied to the pattern
    with an escaped prefix and version (what any key function that embeds the key needs)."""
    return str(key_func(pattern, glob_escape(prefix), glob_escape(str(version))))


def key_stripper(key_func: Callable[..., Any], prefix: str, version: int
                 ) -> Callable[[str], str]:
    """Stored key -> Django key. Only Django's default key function can be inverted; with
    a custom KEY_FUNCTION the stored keys are returned as they are."""
    if key_func is not default_key_func:
        return lambda stored: stored
    head = f"{prefix}:{version}:"
    cut = len(head)
    return lambda stored: stored[cut:] if stored.startswith(head) else stored


def parse_scan(reply: Any) -> tuple[int, list[Any]]:
    """A SCAN reply (cursor, keys), whatever the driver did to the cursor's type."""
    cursor, keys = reply
    return int(cursor), list(keys or ())


class Scan:
    """Cursor state for one SCAN per primary, advanced in lockstep.

    Each round is one SCAN per unfinished node (so async runs nodes concurrently). Only
    one page per node is ever held, which is what keeps ``iter_keys`` memory-bounded.
    """

    def __init__(self, nodes: Sequence[Any], match: str, count: int) -> None:
        if count < 1:
            raise ValueError(f"itersize must be a positive int, not {count!r}")
        self.match = match
        self.count = count
        self.cursors: dict[Any, int] = dict.fromkeys(nodes, 0)
        self._round: list[Any] = []

    def step(self) -> list[NodeCommands]:
        """The next round of SCANs; empty when every node has been scanned."""
        self._round = list(self.cursors)
        return [(node, [("SCAN", cursor, "MATCH", self.match, "COUNT", self.count)])
                for node, cursor in self.cursors.items()]

    def feed(self, replies: Sequence[Sequence[Any]]) -> list[tuple[Any, list[Any]]]:
        """Take the round's replies (one per node, in ``step`` order); the keys per node."""
        pages = []
        for node, (reply,) in zip(self._round, replies, strict=True):
            cursor, keys = parse_scan(reply)
            if cursor == 0:
                del self.cursors[node]
            else:
                self.cursors[node] = cursor
            pages.append((node, keys))
        return pages


def unlink_commands(plan: Callable[[list[str]], list[Batch[Any]]], raw: list[Any]
                    ) -> list[tuple[Any, ...]]:
    """UNLINKs for keys found on one node, one per group ``plan`` makes (per slot in a
    Cluster, where a multi-key command may not cross slots). The keys are sent as found,
    to the node they were found on: a key orphaned by a changed shard ring still goes."""
    batches = plan([text(k) for k in raw])
    return [("UNLINK", *(raw[p] for p in g.positions)) for b in batches for g in b.groups]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A Redis glob (``*``, ``?``, ``[abc]``, ``[^a-z]``, ``\\`` escapes) as a regex."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 1 if i < n and pattern[i] in "^!" else i)
            if end < 0:
                out.append(re.escape(ch))
                continue
            body = pattern[i:end]
            i = end + 1
            negate = body[:1] == "^"
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def glob_matcher(pattern: str | None) -> Callable[[Any], bool]:
    """A filter for decoded members: everything without a pattern; otherwise the ``str``
    members the glob matches in full."""
    if pattern is None:
        return lambda member: True
    fullmatch = glob_regex(pattern).fullmatch
    return lambda member: isinstance(member, str) and fullmatch(member) is not None
