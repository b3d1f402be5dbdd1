"""``"cachex"`` in INSTALLED_APPS: system checks and the ``manage.py cachex`` command.

The backend works without it; adding the app registers the checks of every cachex alias
(``manage.py check``, ``check --deploy``) and makes ``manage.py cachex`` available.
"""

from __future__ import annotations

from django.apps import AppConfig


class CachexConfig(AppConfig):
    name = "cachex"
    verbose_name = "cachex"

    def ready(self) -> None:
        from .checks import register

        register()
