"""Django's own ``BaseCacheTests`` on an alias in lock mode: the mode changes only how
``get_or_set`` coordinates, so the whole cache contract must still hold (herd and early
bend expiry on purpose, see docs/stampede.md)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import TestCase

from tests.django_suite.test_django_cache import CachexSuite

pytestmark = pytest.mark.django_suite


class TestLockModeContract(CachexSuite, TestCase):  # type: ignore[misc]
    topology = "single"

    @classmethod
    def setUpClass(cls) -> None:
        from cache.tests import caches_setting_for_tests  # type: ignore[import-not-found]

        from tests import labs

        base: dict[str, Any] = {
            "BACKEND": "cachex.backends.redis.RedisCache",
            "LOCATION": labs.location("single"),
            "OPTIONS": {"stampede": {"mode": "lock", "poll": 0.005}},
        }
        cls._overridden_settings = {
            "CACHES": caches_setting_for_tests(base=base, exclude={"cull", "zero_cull"}),
        }
        super(CachexSuite, cls).setUpClass()

    def test_the_alias_is_in_lock_mode(self) -> None:
        from django.core.cache import cache

        assert cache._stampede is not None and cache._stampede.mode == "lock"
