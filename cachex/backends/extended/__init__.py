"""The extended API (beyond Django's cache contract): expiry, key space, locks, hashes,
lists, sets and sorted sets, each sync and native async, on every topology.

``ExtendedAPI`` is a mixin for ``CachexCache``: every key goes through the alias's key
prefix, version and key function, every value through its codec, every command through
its router and retry policy. Each operation is written once as a flow (see ``flow.py``).
"""

from __future__ import annotations

from ...exceptions import LockError, LockNotOwned
from .hashes import HashMixin
from .keys import KeysMixin
from .lists import ListMixin
from .locks import AsyncLock, Lock, LockMixin
from .sets import SetMixin
from .strings import StringMixin
from .ttl import TTLMixin
from .zsets import ZSetMixin


class ExtendedAPI(TTLMixin, KeysMixin, LockMixin, StringMixin, HashMixin, ListMixin, SetMixin,
                  ZSetMixin):
    """Every extended operation; see docs/api.md."""


__all__ = ["AsyncLock", "ExtendedAPI", "Lock", "LockError", "LockNotOwned"]
