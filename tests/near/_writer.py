"""A writer in another process for the staleness test: ``python -m tests.near._writer
{raw|cachex} LOCATION KEY_PREFIX SECONDS key...``. Writes 1, 2, 3... to each key in turn,
one at a time, and prints one JSON line: ``[[key, value, acked_at], ...]`` with
``time.monotonic()`` (system-wide on Linux) taken when each write was acknowledged."""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    kind, location, prefix, seconds, *keys = sys.argv[1:]
    if kind == "cachex":
        from django.conf import settings

        settings.configure(CACHES={}, INSTALLED_APPS=[])
        from cachex.backends.redis import RedisCache

        cache = RedisCache(location, {"KEY_PREFIX": prefix})

        def write(key: str, value: int) -> None:
            cache.set(key, value, None)
    else:
        import redis
        import redis.cluster

        client: object = (redis.cluster.RedisCluster.from_url(location.replace(
            "redis+cluster://", "redis://").split(",")[0]) if "cluster" in location
            else redis.Redis.from_url(location))

        def write(key: str, value: int) -> None:
            client.set(f"{prefix}:1:{key}", value)  # type: ignore[attr-defined]

    acks = []
    deadline = time.monotonic() + float(seconds)
    value = 0
    while time.monotonic() < deadline:
        value += 1
        for key in keys:
            write(key, value)
            acks.append((key, value, time.monotonic()))
        time.sleep(0.002)
    print(json.dumps(acks))


if __name__ == "__main__":
    main()
