"""Smoke test of an *installed* cachex (a wheel or sdist in a fresh virtualenv).

Run by ``scripts/dist.sh`` from a directory outside the checkout, so only the installed
package can be imported. Starts real servers with ``cachex.testing`` and walks the Django
cache API, sync and async, on a single server and on client-side shards, for both drivers.
Exits non-zero (with the failing step) on any mismatch.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import django
from django.conf import settings

import cachex
from cachex import testing

BACKENDS = ("cachex.backends.redis.RedisCache", "cachex.backends.valkey.ValkeyCache")


def check_installed() -> None:
    """The package comes from site-packages, ships py.typed, and the lab CLI answers --help."""
    where = Path(cachex.__file__).resolve()
    if "site-packages" not in where.parts:
        raise SystemExit(f"cachex imported from {where}, not from an installed distribution")
    if not (where.parent / "py.typed").is_file():
        raise SystemExit("the installed package has no py.typed")
    done = subprocess.run([sys.executable, "-m", "cachex.testing", "--help"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or "cluster" not in done.stdout:
        raise SystemExit(f"python -m cachex.testing --help failed: {done.stderr[-500:]}")
    print(f"ok   installed at {where.parent}; python -m cachex.testing --help")


def sync_walk(cache: Any) -> None:
    cache.clear()
    assert cache.get("missing") is None
    assert cache.get("missing", "dflt") == "dflt"
    cache.set("k", {"a": [1, 2]}, 30)
    assert cache.get("k") == {"a": [1, 2]}
    assert cache.add("k", "other") is False
    assert cache.add("new", 1) is True
    assert cache.incr("new", 4) == 5
    assert cache.decr("new") == 4
    assert cache.has_key("k")
    assert cache.touch("k", 60) is True
    many = {f"m{i}": i for i in range(50)}
    assert cache.set_many(many) == []
    assert cache.get_many([*many, "absent"]) == many
    assert cache.get_or_set("gos", lambda: "made") == "made"
    assert cache.delete("k") is True
    cache.delete_many(list(many))
    assert cache.get_many(list(many)) == {}
    assert cache.incr_version("gos") == 2
    assert cache.get("gos", version=2) == "made"
    cache.close()


async def async_walk(cache: Any) -> None:
    await cache.aclear()
    assert await cache.aget("missing") is None
    await cache.aset("k", b"bytes", 30)
    assert await cache.aget("k") == b"bytes"
    assert await cache.aadd("k", "x") is False
    assert await cache.aadd("n", 10) is True
    assert await cache.aincr("n") == 11
    assert await cache.adecr("n", 2) == 9
    assert await cache.ahas_key("n")
    assert await cache.atouch("k", 60) is True
    many = {f"a{i}": str(i) for i in range(50)}
    assert await cache.aset_many(many) == []
    assert await cache.aget_many([*many, "absent"]) == many
    assert await cache.aget_or_set("gos", "made") == "made"
    assert await cache.adelete("k") is True
    await cache.adelete_many(list(many))
    assert await cache.aget_many(list(many)) == {}
    await cache.aclose()


def main() -> None:
    settings.configure(CACHES={"default": {"BACKEND": BACKENDS[0], "LOCATION": "redis://x/0"}})
    django.setup()
    from django.utils.module_loading import import_string

    check_installed()
    with testing.server() as single, testing.servers(3) as shards:
        locations = {"single": single.url, "shards": [s.url for s in shards]}
        for name, location in locations.items():
            for backend in BACKENDS:
                cls = import_string(backend)
                sync_walk(cls(location, {"KEY_PREFIX": "smoke-sync"}))
                asyncio.run(async_walk(cls(location, {"KEY_PREFIX": "smoke-async"})))
                print(f"ok   {name:<7} {backend.rsplit('.', 1)[1]:<11} sync + async")
        flavor = testing.find_binaries()
        print(f"ok   servers: {flavor.flavor} {'.'.join(map(str, flavor.version))}")


if __name__ == "__main__":
    main()
