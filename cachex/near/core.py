"""One near cache per alias per process: the store, the channels, and when a fill is safe.

Shared by every backend instance of the alias (one per thread or task), sync and async, on
any event loop: the store is guarded by a lock and the channels are threads, so nothing here
belongs to a loop.

A GET reply may be stored only when (1) the key is under a tracked prefix, (2) every primary
the topology knows has its channel up (after a Cluster failover or slot move the key may be
answered by a node we do not listen to yet; requiring them all keeps the rule simple; with
fixed placement, single server, shards and Sentinel, the channel of the key's own node), and
(3) nothing changed in the store between the GET leaving and its reply arriving
(``NearStore.seq``). Whenever a channel goes down or comes up, everything is dropped.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any

from django.core.signals import setting_changed

from .channel import Channel
from .front import Front
from .keys import MadeKeys
from .options import NearOptions
from .store import NearStore, immutable

log = logging.getLogger("cachex.near")
_UNSEEN = object()
_live: weakref.WeakSet[NearCache] = weakref.WeakSet()


def _servers(topology: Any) -> tuple[Any, ...]:
    """What identifies the data a topology reaches (aliases on the same servers and db)."""
    settings = getattr(topology, "settings", None)
    if settings is None:
        return (id(topology),)
    return (settings.topology, settings.endpoints, settings.service)


class NearCache:
    def __init__(self, alias: str, options: NearOptions, topology: Any) -> None:
        self.alias = alias
        self.options = options
        self.prefixes = options.prefixes
        self.store = NearStore(options.max_entries, options.max_bytes, options.ttl)
        self.made = MadeKeys(options.max_entries)
        self.front = Front(self.store, self.made)
        self._topology = topology
        self._moves = bool(getattr(topology, "moves_keys", False))
        self._channels: dict[Any, Channel] = {}
        self._lock = threading.RLock()
        self._seen: Any = _UNSEEN
        self._owners: Any = None  # the Cluster slot owners last followed
        self._ready = False
        self._closed = False
        self._servers = _servers(topology)
        _live.add(self)

    # -- this process's writes ---------------------------------------------------------------
    def _siblings(self) -> list[NearCache]:
        """Every near cache of this process on the same servers (other aliases, other
        VERSIONs or key functions may hold the very same keys)."""
        return [n for n in list(_live) if n._servers == self._servers]

    def drop(self, keys: list[str]) -> None:
        """This process wrote ``keys``: forget them here and in every sibling."""
        for near in self._siblings():
            near.store.drop(keys)

    def flush(self) -> None:
        """This process emptied the servers (clear) or moved many keys at once."""
        for near in self._siblings():
            near.store.flush("local")

    # -- the fill rule -------------------------------------------------------------------
    def token(self, key: str) -> int | None:
        """The store's ``seq`` to fill ``key`` under, or None: do not store this reply."""
        if not key.startswith(self.prefixes):
            return None
        token = self.store.seq  # first: a channel going down after this voids the token
        if self._moves:
            # Cluster: a key may be answered by any primary (a slot moves, a replica is
            # promoted), so every primary's channel must be up; a new slot map (``map``)
            # may name new primaries.
            if not self._ready or getattr(self._topology, "map", None) is not self._seen:
                self._follow()
                if not self._ready:
                    return None
            return token
        # fixed placement: the node that holds the key is the one whose channel counts
        channel = self._channels.get(self._topology.locate(key))
        if channel is None:
            self._follow()
            return None
        return token if channel.up else None

    def keep(self, key: str, raw: bytes, value: Any, pttl: Any, sent_at: float,
             token: int) -> None:
        """Store a fetched value: decoded when nothing can mutate it, else its bytes."""
        if immutable(value):
            self.store.put(key, value, pttl, sent_at, token, len(raw), True)
        else:
            self.store.put(key, raw, pttl, sent_at, token, len(raw))

    def _follow(self) -> None:
        """Keep one channel per current primary: start the missing, stop the departed."""
        if self._closed:
            return
        with self._lock:
            marker = getattr(self._topology, "map", None)
            if marker is self._seen and self._channels:
                self._ready = all(ch.up for ch in self._channels.values())
                return
            try:
                primaries = list(self._topology.primaries())
            except Exception:  # no map yet and no node answering: no fills for now
                return
            for node in [n for n in self._channels if n not in primaries]:
                self._channels.pop(node).stop()
                self.store.flush("primaries")
            owners = getattr(marker, "owners", None)
            if owners is not None and self._owners is not None and owners != self._owners:
                # a slot changed owner (migration, failover): the new owner may hold another
                # value than the one kept (a write the old primary never replicated), and
                # no invalidation will ever say so; drop rather than reason about it
                self.store.flush("slots")
            self._owners = owners
            for node in primaries:
                if node not in self._channels:
                    channel = Channel(node, self._topology.node_label(node),
                                      self._topology.node_client(node).connection_pool,
                                      self.prefixes, self._on_keys, self._on_state)
                    self._channels[node] = channel
                    channel.start()
            self._seen = marker
            self._ready = all(ch.up for ch in self._channels.values())

    # -- channel events (channel threads) --------------------------------------------------
    def _on_keys(self, keys: list[bytes] | None) -> None:
        if keys is None:  # FLUSHDB / FLUSHALL
            self.store.flush("flushdb")
        else:
            self.store.invalidate([k.decode("utf-8", "surrogateescape")
                                   if isinstance(k, bytes) else k for k in keys])

    def _on_state(self, channel: Channel, up: bool, reason: str = "channel_lost") -> None:
        """A channel came up (``reason`` channel_up) or went down (channel_lost, role)."""
        with self._lock:
            if not up:  # before the flush: a fill that reads the new seq must see this
                self._ready = False
            # a new, returning or lost channel: what we hold may have missed its messages
            self.store.flush("channel_up" if up else reason)
            self._ready = up and all(ch.up for ch in self._channels.values())

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def channels_up(self) -> int:
        return sum(ch.up for ch in self._channels.values())

    def disconnect(self) -> None:
        """Stop the channels and forget everything; they start again on the next read."""
        with self._lock:
            self._ready = False
            for channel in self._channels.values():
                channel.stop()
            self._channels.clear()
            self._seen = _UNSEEN
            self._owners = None
            self.store.flush("disconnect")

    def close(self, wait: float = 0) -> None:
        """Stop the channels and forget everything, for good (tests, shutdown)."""
        with self._lock:
            self._closed = True
            self._ready = False
            for channel in self._channels.values():
                channel.stop(wait)
            self._channels.clear()
            self.store.flush("disconnect")

    def _after_fork(self) -> None:
        """A forked child has none of the parent's threads: start afresh."""
        self._lock = threading.RLock()
        self.store = NearStore(self.options.max_entries, self.options.max_bytes,
                               self.options.ttl)
        self.front = Front(self.store, self.made)
        self._channels = {}
        self._seen = _UNSEEN
        self._owners = None
        self._ready = False

    def stats(self) -> dict[str, int]:
        return {**self.store.snapshot(), "channels_up": self.channels_up()}


def live(alias: str) -> list[NearCache]:
    """The near caches of ``alias`` in this process."""
    return [n for n in list(_live) if n.alias == alias and not n.closed]


def _reset_in_child() -> None:
    for near in list(_live):
        near._after_fork()


def _caches_changed(*, setting: str, **_: Any) -> None:
    """``CACHES`` changed (``override_settings``, pytest-django's ``settings``): stop every
    near cache's channels. A near cache lives as long as the process (one per alias and
    settings), so a suite that configures many near-cache aliases would otherwise keep
    every one's threads PINGing; one still in use starts them again on its next read, with
    an empty store, exactly as after ``disconnect``."""
    if setting == "CACHES":
        for near in list(_live):
            if not near.closed:
                near.disconnect()


setting_changed.connect(_caches_changed, dispatch_uid="cachex.near.caches_changed")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
