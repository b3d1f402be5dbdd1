"""A custom KEY_FUNCTION for the tests: the Django key first, so it cannot be inverted."""

from __future__ import annotations

from typing import Any


def reversed_parts(key: Any, key_prefix: str, version: Any) -> str:
    return f"{key}|{version}|{key_prefix}"
