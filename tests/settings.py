"""Django settings for cachex's own test suite (caches are set per test)."""

from tests.django_src import install

install()  # puts Django's own ``cache`` test app on sys.path

SECRET_KEY = "cachex-tests"
USE_TZ = True
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "cache", "cachex"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "tests.urls"
MIDDLEWARE: list[str] = []
