"""cachex benchmark suite: cachex against Django's RedisCache, django-redis, django-valkey and
raw redis-py, on real servers it starts itself, measured in one interleaved run.

Run ``python -m benchmarks --quick`` (under a minute) or ``--full`` (a few minutes); see
docs/benchmarks.md for the method and the latest results.
"""

from __future__ import annotations
