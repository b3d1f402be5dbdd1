"""Key-space operations: list, iterate and delete keys by pattern on every primary; rename.

On shards and in a Cluster, ``keys``/``iter_keys``/``delete_pattern`` SCAN each primary
separately (never KEYS, which blocks the server) and stop when every node's cursor is back
at 0. ``rename`` is one atomic RENAME, so both keys must live together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from django.core.cache.backends.base import get_key_func

from ...exceptions import CommandError, CrossSlotError
from ...redact import key_redactor
from ..flow import Call, Flow, Run, adrive, drive
from ._common import Host, text
from .scan import DEFAULT_ITERSIZE, Scan, key_stripper, match_pattern, unlink_commands


def default_itersize() -> int:
    """SCAN's COUNT hint when the caller gives none: django-redis's global
    ``DJANGO_REDIS_SCAN_ITERSIZE`` setting if the project has one, else cachex's default."""
    from django.conf import settings

    return int(getattr(settings, "DJANGO_REDIS_SCAN_ITERSIZE", None) or DEFAULT_ITERSIZE)


def reverse_key_func(params: Mapping[str, Any]) -> Callable[[str], str] | None:
    """The alias's ``REVERSE_KEY_FUNCTION`` (django-redis's top-level CACHES entry: a
    callable or its dotted path), or None."""
    reverse = params.get("REVERSE_KEY_FUNCTION")
    return None if reverse is None else get_key_func(reverse)


def _scanner(c: KeysMixin, pattern: str, itersize: int | None, version: int | None,
             prefix: str | None = None) -> tuple[Scan, Callable[[str], str]]:
    if version is None:
        version = c.version
    if prefix is None:
        prefix = c.key_prefix
    match = match_pattern(c.key_func, prefix, version, pattern)
    scan = Scan(c._topology.primaries(), match, itersize or default_itersize())
    reverse = c._reverse_key
    return scan, reverse or key_stripper(c.key_func, prefix, version)


def _delete_pattern(c: KeysMixin, pattern: str, itersize: int | None, version: int | None,
                    prefix: str | None) -> Flow[int]:
    scan, _ = _scanner(c, pattern, itersize, version, prefix)
    topology = c._topology

    def plan(keys: list[str]) -> Any:
        return topology.plan(keys, write=True)

    deleted = 0
    while batches := scan.step():
        pages = scan.feed((yield Run(batches)))
        unlinks = [(node, unlink_commands(plan, keys)) for node, keys in pages if keys]
        if unlinks:
            replies = yield Run(unlinks)
            deleted += sum(int(n) for per_node in replies for n in per_node)
    return deleted


def _rename(c: Host, old: Any, new: Any, version: int | None) -> Flow[None]:
    a = c.make_and_validate_key(old, version=version)
    b = c.make_and_validate_key(new, version=version)
    show = key_redactor(c.settings.log_keys)
    if not c._topology.colocated(a, b):
        raise CrossSlotError(
            f"cannot rename {show(a)} to {show(b)} on cache {c.alias!r}: they live "
            f"on {c._topology.label_for(a)} and {c._topology.label_for(b)}, not on "
            "one node and slot, and RENAME is atomic only there; give both keys the same "
            "hash tag, e.g. 'user:{42}:old' and 'user:{42}:new'"
        )
    try:  # not replayed: a replay after a lost reply would find the old key gone
        yield Call(a, ("RENAME", a, b), idempotent=False)
    except CommandError as exc:
        if "no such key" in str(exc).lower():
            raise ValueError(f"Key {show(a)} not found") from None
        raise


class KeysMixin(Host):
    """``keys``, ``iter_keys``, ``delete_pattern``, ``rename`` and their async twins.

    ``REVERSE_KEY_FUNCTION`` (a top-level CACHES entry, as in django-redis: a callable or
    its dotted path, stored key -> Django key) turns scanned keys back into Django keys
    when a custom ``KEY_FUNCTION`` cannot be inverted by cachex itself.
    """

    _reverse_key: Callable[[str], str] | None = None  # set by CachexCache.__init__

    def keys(self, pattern: str = "*", version: int | None = None) -> list[str]:
        """Django-level keys matching the glob ``pattern`` (all of them in memory: prefer
        ``iter_keys`` for big key spaces)."""
        return list(self.iter_keys(pattern, version=version))

    async def akeys(self, pattern: str = "*", version: int | None = None) -> list[str]:
        return [key async for key in self.aiter_keys(pattern, version=version)]

    def iter_keys(self, pattern: str = "*", itersize: int | None = None,
                  version: int | None = None) -> Iterator[str]:
        """A generator over matching keys, one SCAN page (``itersize`` hint) per node at a
        time. Like SCAN: keys present throughout are returned; keys added or removed
        meanwhile may or may not be."""
        scan, strip = _scanner(self, pattern, itersize, version)
        while batches := scan.step():
            for _, keys in scan.feed(self._router.run(batches)):
                for raw in keys:
                    yield strip(text(raw))

    async def aiter_keys(self, pattern: str = "*", itersize: int | None = None,
                         version: int | None = None) -> AsyncIterator[str]:
        """Async ``iter_keys``; each round SCANs all nodes concurrently."""
        scan, strip = _scanner(self, pattern, itersize, version)
        while batches := scan.step():
            for _, keys in scan.feed(await self._router.arun(batches)):
                for raw in keys:
                    yield strip(text(raw))

    def delete_pattern(self, pattern: str, version: int | None = None,
                       prefix: str | None = None, itersize: int | None = None) -> int:
        """UNLINK every key matching ``pattern`` on every primary, page by page; the count.
        ``prefix`` replaces the alias's KEY_PREFIX for this call (django-redis)."""
        return drive(self._router, _delete_pattern(self, pattern, itersize, version, prefix))

    async def adelete_pattern(self, pattern: str, version: int | None = None,
                              prefix: str | None = None, itersize: int | None = None) -> int:
        return await adrive(self._router,
                            _delete_pattern(self, pattern, itersize, version, prefix))

    def rename(self, old: Any, new: Any, version: int | None = None) -> None:
        """Atomically rename (value and expiry kept, ``new`` overwritten). ``ValueError`` if
        ``old`` is missing; ``CrossSlotError`` if the two keys are not colocated."""
        drive(self._router, _rename(self, old, new, version))

    async def arename(self, old: Any, new: Any, version: int | None = None) -> None:
        await adrive(self._router, _rename(self, old, new, version))
