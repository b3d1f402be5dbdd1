"""django-redis 7.0.0's tests/test_backend_sorted_sets.py, unchanged: fetched from its
sdist by conftest.py and collected here, once per topology."""

from test_backend_sorted_sets import *  # type: ignore[import-not-found]  # noqa: F403
