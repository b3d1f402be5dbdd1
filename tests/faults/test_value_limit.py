"""A value over the server's request limit (``proto-max-bulk-len``, set low here) gives
``ValueTooLarge`` naming the size and the limit, and is not re-sent by the retry."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from cachex.exceptions import CommandError, ValueTooLarge
from cachex.testing import Server, server
from tests.faults._util import make_cache

pytestmark = pytest.mark.timeout(60)
LIMIT = 1 << 20


@pytest.fixture(scope="module")
def limited() -> Iterator[Server]:
    with server() as s:
        s.execute("CONFIG", "SET", "proto-max-bulk-len", str(LIMIT))
        yield s


# 2 MB: refused with an error reply; 40 MB: the server resets the connection mid-send
@pytest.mark.parametrize("size", [2 << 20, 40 << 20])
@pytest.mark.parametrize("how", ["set", "aset", "set_many"])
def test_oversize_value_is_refused_clearly_and_not_resent(limited: Server, size: int,
                                                          how: str) -> None:
    cache = make_cache(limited.url, timeout=2.0, retry={"attempts": 3, "backoff": 0})
    value = os.urandom(size)
    before = cache._router.stats.snapshot()
    with pytest.raises(ValueTooLarge) as info:
        if how == "set":
            cache.set("big", value)
        elif how == "aset":
            asyncio.run(cache.aset("big", value))
        else:
            cache.set_many({"big": value})
    err = info.value
    assert isinstance(err, CommandError)
    assert f"proto-max-bulk-len = {LIMIT} bytes" in str(err) and err.limit == LIMIT
    assert err.size > LIMIT and ":big" not in str(err)
    after = cache._router.stats.snapshot()
    assert after["retries"] == before["retries"], "the value was re-sent"
    cache.set("small", b"x")  # the connection was replaced; the node is fine
    assert cache.get("small") == b"x"
