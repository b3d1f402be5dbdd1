"""django-redis 7.0.0's tests/test_cache_options.py, unchanged: fetched from its
sdist by conftest.py and collected here, once per topology."""

from test_cache_options import *  # type: ignore[import-not-found]  # noqa: F403
