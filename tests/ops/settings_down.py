"""Settings with one cachex alias on a port nothing listens on (``manage.py cachex`` exit codes)."""

SECRET_KEY = "cachex-tests"
USE_TZ = True
INSTALLED_APPS = ["cachex"]
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "down": {"BACKEND": "cachex.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
}
