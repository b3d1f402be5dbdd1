"""The extended API with redis-py's and django-redis 7's names, argument order and return
values, on every topology, sync and async (issue 13)."""

from __future__ import annotations

from typing import Any


def test_zincrby_takes_amount_before_member(api: Any) -> None:
    # redis-py/django-redis order: zincrby(key, amount, member). The old cachex order
    # (key, member, amount) silently added a member "5" with score 3.
    api.zadd("z", {"3": 1})
    assert api.zincrby("z", 5, "3") == 6.0
    assert api.zscore("z", "3") == 6.0
    assert api.zcard("z") == 1
    assert api.zincrby("z", 2.5, "new") == 2.5
