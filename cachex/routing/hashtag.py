"""Hash tags, read the way Redis Cluster reads them, for every topology.

Only the first ``{...}`` with non-empty content counts, so ``user:{42}:a`` and ``user:{42}:b``
always share a node, on a ring of shards as in a Cluster.
"""

from __future__ import annotations


def hash_tag(key: str) -> str:
    """The part of ``key`` that decides its placement."""
    start = key.find("{")
    if start == -1:
        return key
    end = key.find("}", start + 1)
    if end == -1 or end == start + 1:
        return key
    return key[start + 1 : end]
