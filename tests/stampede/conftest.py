"""Stampede tests reuse the extended-API fixtures: a cache per topology with its own
KEY_PREFIX (cleaned afterwards) and a fresh event loop."""

from tests.api.conftest import loop, make  # noqa: F401 - fixtures
