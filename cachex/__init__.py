"""cachex: a Django cache backend for Redis and Valkey that routes every operation by topology."""

__version__ = "0.1.0"
