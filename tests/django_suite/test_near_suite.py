"""Django's own ``BaseCacheTests`` with ``OPTIONS["near_cache"]`` on: the whole Django cache
contract holds with reads answered from process memory (single server sync, Cluster async)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import TestCase, TransactionTestCase

from tests import labs
from tests.django_suite.test_django_cache import CachexSuite

pytestmark = pytest.mark.django_suite


class NearSuite(CachexSuite):
    @classmethod
    def setUpClass(cls) -> None:
        original = labs.options

        def with_near(topology: str) -> dict[str, Any]:
            return {**original(topology), "near_cache": {"max_entries": 1000}}

        labs.options = with_near  # type: ignore[assignment]
        try:
            super().setUpClass()
        finally:
            labs.options = original  # type: ignore[assignment]


class TestNearSingleSync(NearSuite, TestCase):
    driver, mode, topology = "redis", "sync", "single"


class TestNearClusterAsync(NearSuite, TransactionTestCase):
    driver, mode, topology = "redis", "async", "cluster"
