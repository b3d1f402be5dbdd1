"""Atomic multi-key reads and writes of plain cache values (django-valkey's ``mget`` and
``mset``). Unlike ``get_many``/``set_many``, which split work per node, these are one
command, so every key must live on one node (one slot in a Cluster): give them one hash
tag on shards and in a Cluster."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..flow import Call, Flow, adrive, drive
from ..timeouts import GONE
from ._common import Host, together

# every SET in one script, so the values and their expiry land together or not at all
MSET = (
    "for i, key in ipairs(KEYS) do "
    "if ARGV[1] == '0' then redis.call('SET', key, ARGV[i + 1]) "
    "else redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1]) end end "
    "return #KEYS"
)


def _mget(c: Host, keys: Iterable[Any], version: int | None) -> Flow[dict[Any, Any]]:
    keys = list(keys)
    if not keys:
        return {}
    made = [c.make_and_validate_key(key, version=version) for key in keys]
    together(c, "mget", made)
    values = yield Call(made[0], ("MGET", *made), write=False)
    return {key: c._decode(raw, k) for key, k, raw in zip(keys, made, values)
            if raw is not None}


def _mset(c: Host, data: Mapping[Any, Any], timeout: Any, version: int | None) -> Flow[None]:
    if not data:
        return
    keys = list(data)
    made = [c.make_and_validate_key(key, version=version) for key in keys]
    together(c, "mset", made)
    encoded = [c._encode(value, k) for k, value in zip(made, data.values())]
    ms = c._ms(timeout)
    if ms == GONE:  # Django: a timeout <= 0 leaves nothing readable
        yield Call(made[0], ("DEL", *made))
        return
    yield Call(made[0], ("EVAL", MSET, len(made), *made, ms or 0, *encoded))


class StringMixin(Host):
    """``mget``/``mset`` and their ``a`` twins."""

    def mget(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        """Like ``get_many``, in one MGET (one consistent moment); keys on one node."""
        return drive(self._router, _mget(self, keys, version))

    async def amget(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return await adrive(self._router, _mget(self, keys, version))

    def mset(self, data: Mapping[Any, Any], timeout: Any = None,
             version: int | None = None) -> None:
        """Like ``set_many``, atomically (all values, with their expiry, or none); keys on
        one node. ``timeout`` defaults to None (no expiry), as in django-valkey."""
        drive(self._router, _mset(self, data, timeout, version))

    async def amset(self, data: Mapping[Any, Any], timeout: Any = None,
                    version: int | None = None) -> None:
        await adrive(self._router, _mset(self, data, timeout, version))
