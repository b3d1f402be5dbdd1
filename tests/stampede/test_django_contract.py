"""Django's own ``BaseCacheTests`` on an alias in lock mode, through the sync methods and
through the async twins: the mode changes only how ``get_or_set`` coordinates, so the whole
cache contract must still hold (herd and early bend expiry on purpose, see
docs/stampede.md)."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import pytest
from django.test import TestCase, TransactionTestCase

from tests.django_suite.test_django_cache import CachexSuite

pytestmark = pytest.mark.django_suite

BACKEND = {"sync": "cachex.backends.redis.RedisCache",
           "async": "tests.django_suite.async_routed.AsyncRoutedRedisCache"}


class LockModeContract(CachexSuite):
    topology = "single"

    @classmethod
    def setUpClass(cls) -> None:
        from cache.tests import caches_setting_for_tests  # type: ignore[import-not-found]

        from tests import labs

        base: dict[str, Any] = {
            "BACKEND": BACKEND[cls.mode],
            "LOCATION": labs.location("single"),
            "OPTIONS": {"stampede": {"mode": "lock", "poll": 0.005}},
        }
        cls._overridden_settings = {
            "CACHES": caches_setting_for_tests(base=base, exclude={"cull", "zero_cull"}),
        }
        if cls.mode == "async":  # as CachexSuite does: pickling a QuerySet runs queries
            cls._env = mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"})
            cls._env.start()
        super(CachexSuite, cls).setUpClass()

    def test_the_alias_is_in_lock_mode(self) -> None:
        from django.core.cache import cache

        assert cache._stampede is not None and cache._stampede.mode == "lock"


class TestLockModeContract(LockModeContract, TestCase):  # type: ignore[misc]
    mode = "sync"


class TestLockModeContractAsync(LockModeContract, TransactionTestCase):  # type: ignore[misc]
    mode = "async"
