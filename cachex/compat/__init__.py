"""Compatibility with the settings and calls of the backends people migrate from.

``options`` translates django-redis, django-valkey, django-cachex and Django RedisCache
OPTIONS into cachex's own (with a ``CachexCompatWarning`` naming cachex's spelling), before
cachex parses them. See docs/migration/.
"""

from .options import CachexCompatWarning, Translation, apply, translate

__all__ = ["CachexCompatWarning", "Translation", "apply", "translate"]
