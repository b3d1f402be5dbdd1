"""Lazy imports of optional libraries, with errors that name the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

DISTRIBUTION = "django-cachex-router"


def install_hint(extra: str) -> str:
    """The pip command that installs the extra providing an optional library."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def import_optional(module: str, *, package: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise ``ImportError`` naming the package and the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs the '{package}' package, which could not be imported ({exc}); "
            f"install it with: {install_hint(extra)}",
            name=module,
        ) from exc
