"""Django's own ``BaseCacheTests`` against cachex, for every topology and both drivers,
through the sync methods and through the async twins (on one long-lived event loop).

The tests come from the sdist of the installed Django (see ``tests/django_src.py``). The cull
tests are excluded exactly as Django excludes them for its own Redis backend.
"""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import pytest
from cache.tests import BaseCacheTests, caches_setting_for_tests  # type: ignore[import-not-found]
from django.conf import settings
from django.core.cache import cache
from django.test import TestCase, TransactionTestCase

from cachex.topology.autopipe import AutoPipeliner
from tests import labs

pytestmark = pytest.mark.django_suite

BACKENDS = {
    ("redis", "sync"): "cachex.backends.redis.RedisCache",
    ("valkey", "sync"): "cachex.backends.valkey.ValkeyCache",
    ("redis", "async"): "tests.django_suite.async_routed.AsyncRoutedRedisCache",
    ("valkey", "async"): "tests.django_suite.async_routed.AsyncRoutedValkeyCache",
}
TOPOLOGIES = ["single", "sharded", "cluster", "sentinel", "replicated"]


class CachexSuite(BaseCacheTests):  # type: ignore[misc]
    driver = "redis"
    mode = "sync"
    topology = "single"

    @classmethod
    def setUpClass(cls) -> None:
        options = labs.options(cls.topology)
        # Async: pipelining is on by default. redis: every call through an auto-pipelined
        # batch (even one alone on the loop, as every call of this suite is); valkey: the
        # default as a site runs it, where a call alone goes straight out
        if cls.mode == "async" and cls.driver == "redis":
            cls._batched = mock.patch.object(AutoPipeliner, "shortcut", False)
            cls._batched.start()
        base = {"BACKEND": BACKENDS[(cls.driver, cls.mode)],
                "LOCATION": labs.location(cls.topology, cls.driver),
                "OPTIONS": options}
        cls._overridden_settings = {
            "CACHES": caches_setting_for_tests(base=base, exclude={"cull", "zero_cull"}),
        }
        if cls.mode == "async":
            # Pickling a model/QuerySet runs ORM queries; here they run inside the loop.
            cls._env = mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"})
            cls._env.start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        if cls.mode == "async":
            cls._env.stop()
            batched = cls.__dict__.get("_batched")  # subclasses may set up on their own
            if batched is not None:
                batched.stop()
                del cls._batched

    def test_get_or_set_racing(self) -> None:
        if self.mode == "sync":
            return super().test_get_or_set_racing()  # type: ignore[no-any-return]
        # The async twin calls aadd(), so that is what must report the lost race.
        with mock.patch(f"{settings.CACHES['default']['BACKEND']}.aadd") as cache_add:
            cache_add.return_value = False
            self.assertEqual(cache.get_or_set("key", "default"), "default")
        return None


def _make(driver: str, mode: str, topology: str) -> type:
    name = f"Test{driver.title()}{topology.title()}{mode.title()}"
    attrs: dict[str, Any] = {"driver": driver, "mode": mode, "topology": topology,
                             "__module__": __name__}
    # In the async mode, pickling a QuerySet queries the database from inside the event loop,
    # where Django hands out a separate connection: the test data must be committed to be
    # visible there, hence TransactionTestCase.
    return type(name, (CachexSuite, TestCase if mode == "sync" else TransactionTestCase), attrs)


for _driver in ("redis", "valkey"):
    for _topology in TOPOLOGIES:
        for _mode in ("sync", "async"):
            _cls = _make(_driver, _mode, _topology)
            globals()[_cls.__name__] = _cls
del _cls
