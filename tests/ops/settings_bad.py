"""Settings with a cachex alias the backend refuses (``manage.py check`` in a fresh process)."""

SECRET_KEY = "cachex-tests"
USE_TZ = True
INSTALLED_APPS = ["cachex"]
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "bad": {"BACKEND": "cachex.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6399/0",
            "OPTIONS": {"failover": {"mode": "explode"}}},
}
