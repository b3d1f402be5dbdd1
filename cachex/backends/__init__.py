"""Django backends: one class per driver (``redis.RedisCache``, ``valkey.ValkeyCache``)."""
