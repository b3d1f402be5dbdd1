"""The near cache: values kept in process memory, dropped when the server says they changed.

See docs/near-cache.md. ``options`` parses ``OPTIONS["near_cache"]``; ``store`` is the bounded
LRU; ``keys`` remembers stored keys and ``front`` answers batches of hot keys; ``channel``
the per-node invalidation threads; ``core`` ties them to a topology; ``facade`` hooks the
Django API.
"""

from .core import NearCache
from .options import NearOptions, parse_near
from .store import NearStore

__all__ = ["NearCache", "NearOptions", "NearStore", "parse_near"]
