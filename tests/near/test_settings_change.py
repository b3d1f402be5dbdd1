"""A change of ``CACHES`` (override_settings, pytest-django's ``settings``) stops every near
cache's invalidation channels; one still in use starts them again on its next read."""

from __future__ import annotations

import threading
from typing import Any

from django.test import override_settings

from tests.near.conftest import eventually, wait_ready, warm

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def channel_threads(cache: Any) -> list[threading.Thread]:
    return [channel._thread for channel in cache._near._channels.values()]


def test_a_caches_change_stops_the_channels_and_a_read_starts_them_again(
        near_cache: Any) -> None:
    cache = near_cache("single")
    cache.set("k", 1)
    warm(cache, "k")
    before = channel_threads(cache)
    assert before and all(t.is_alive() for t in before)

    with override_settings(DEBUG=True):  # another setting: nothing happens
        pass
    assert all(t.is_alive() for t in before) and cache._near.channels_up() == len(before)
    assert cache._near.store.has(cache.make_key("k"))

    with override_settings(CACHES=LOCMEM):  # entering and leaving both change CACHES
        pass
    for thread in before:
        thread.join(10)
    assert not any(t.is_alive() for t in before), "a channel thread outlived the change"
    assert cache._near.channels_up() == 0
    assert not cache._near.store.has(cache.make_key("k")), "entries kept without a channel"

    # the alias is still in use: its next reads bring the channels back, and hits with them
    assert cache.get("k") == 1
    wait_ready(cache)
    after = channel_threads(cache)
    assert after and not set(after) & set(before) and all(t.is_alive() for t in after)
    warm(cache, "k")
    hits = cache.near_stats()["hits"]
    assert cache.get("k") == 1
    assert cache.near_stats()["hits"] == hits + 1


def test_every_near_cache_of_the_process_stops(near_cache: Any) -> None:
    caches = [near_cache("single"), near_cache("cluster")]
    threads = [t for cache in caches for t in channel_threads(cache)]
    assert len(threads) >= 4  # one on the single server, one per Cluster primary
    with override_settings(CACHES=LOCMEM):
        pass
    for thread in threads:
        thread.join(10)
    eventually(lambda: not any(t.is_alive() for t in threads))
    assert [cache._near.channels_up() for cache in caches] == [0, 0]
