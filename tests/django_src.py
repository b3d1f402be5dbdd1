"""Django's own cache tests, taken from the sdist of the installed Django version.

Not copied into this repository: fetched with pip on first use (``tests/peer_suites/sdist.py``)
and put on ``sys.path`` so ``import cache.tests`` finds Django's ``tests/cache`` package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django

from tests.peer_suites.sdist import fetch


def django_tests_dir() -> Path:
    """Directory holding Django's ``cache`` test package for the installed Django."""
    return fetch("django", django.get_version(), ("tests/cache",)) / "tests"


def install() -> None:
    path = str(django_tests_dir())
    if path not in sys.path:
        sys.path.insert(0, path)
