"""What the extended API needs from the cache it is mixed into, plus small pure helpers.

The mixins run inside ``CachexCache``: they use the router, topology and codec that
``CachexCache.__init__`` sets, and Django's key functions, so every key gets the alias's
prefix and version and every value goes through the alias's codec.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ...exceptions import CrossSlotError, WrongType
from ...redact import key_redactor
from ..flow import Call, Flow

if TYPE_CHECKING:
    from django.core.cache.backends.base import BaseCache

    from ...codec.codec import Decoder, Encoder
    from ...config import Settings
    from ...router import Router
    from ...topology import Topology

    _Host = BaseCache
else:
    _Host = object


class Host(_Host):
    """Typing anchor: the attributes and methods a ``CachexCache`` provides.

    At run time this is a plain ``object`` subclass with no state of its own; the real
    attributes come from ``CachexCache.__init__``.
    """

    if TYPE_CHECKING:
        _router: Router
        _topology: Topology
        _encode: Encoder
        _decode: Decoder
        alias: str
        settings: Settings

        def _ms(self, timeout: Any) -> int | None: ...


_show_key = key_redactor("hash")


def text(raw: Any) -> str:
    """A reply item (bytes or str) as str; keys and field names are UTF-8."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return bytes(raw).decode("utf-8", "replace")
    return str(raw)


def need(name: str, items: Sequence[Any]) -> None:
    """Variadic writes with nothing to write are a caller bug, not a silent no-op."""
    if not items:
        raise TypeError(f"{name}() needs at least one item")


def pairs(reply: Any) -> Iterator[tuple[Any, Any]]:
    """Field/value or member/score pairs from a flat list, a list of pairs, or a dict.

    Drivers and protocols (RESP2/RESP3, callbacks or not) hand these back in any of the
    three shapes; the API should not care which.
    """
    if isinstance(reply, dict):
        yield from reply.items()
        return
    items = list(reply or ())
    if items and isinstance(items[0], (list, tuple)):
        yield from ((first, second) for first, second in items)
        return
    yield from zip(items[0::2], items[1::2], strict=True)


def command(key: Any, made: str, kind: str, args: tuple[Any, ...], *, write: bool = True,
            idempotent: bool = True) -> Flow[Any]:
    """One command on ``made`` that expects a ``kind`` key (hash, list, set, zset, string).

    A WRONGTYPE reply becomes a ``WrongType`` naming the key (as the alias's
    ``OPTIONS['log_keys']`` shows keys, see :mod:`cachex.redact`) and the type it really
    holds (one extra TYPE round-trip, only on that error path).
    """
    try:
        return (yield Call(made, args, write=write, idempotent=idempotent))
    except WrongType as exc:
        try:
            actual = text((yield Call(made, ("TYPE", made), write=False)))
        except Exception:  # the type is a courtesy; the original error still stands
            actual = "value of another type"
        where = exc.where or f"{args[0]} on {_show_key(made)}"  # (the router's form)
        err = WrongType(f"{where} needs a {kind}, but the key holds a {actual}")
        err.where = where
        raise err from exc


def together(c: Host, name: str, made: Sequence[str]) -> None:
    """Refuse a multi-key command whose stored keys are not on one node (one slot in a
    Cluster): the server could not run it atomically. The error names the nodes and which
    keys each one holds (in the alias's redacted form, see cachex.redact), and the fix."""
    first = made[0]
    topology = c._topology
    if all(topology.colocated(first, k) for k in made[1:]):
        return
    show = key_redactor(c.settings.log_keys)
    where: dict[str, list[str]] = {}
    for k in made:
        where.setdefault(topology.label_for(k), []).append(show(k))
    nodes = "; ".join(f"{label}: {', '.join(held)}" for label, held in where.items())
    if len(where) == 1:
        nodes += " (one node, but different Cluster slots)"
    raise CrossSlotError(
        f"{name}() on cache {c.alias!r} needs all its keys on one node (one slot in a "
        f"Cluster), but they live on {nodes}; give the keys one hash tag, e.g. "
        "'team:{7}:a' and 'team:{7}:b'"
    )


def scan_page(key: Any, made: str, kind: str, name: str, cursor: int, match: str | None,
              count: int | None) -> Flow[tuple[int, Any]]:
    """One HSCAN/SSCAN/ZSCAN page: the next cursor and the raw items."""
    args: tuple[Any, ...] = (name, made, cursor)
    if match is not None:
        args += ("MATCH", match)
    if count is not None:
        args += ("COUNT", count)
    cursor, items = yield from command(key, made, kind, args, write=False)
    return int(cursor), items or ()
