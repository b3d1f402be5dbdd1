"""The checkout's ``scripts/*.py`` as modules, for tests that run them against the package
under test (a checkout's, or the installed one under ``make dist``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load(name: str) -> ModuleType:
    """``scripts/<name>.py``, imported as ``cachex_<name>``."""
    spec = importlib.util.spec_from_file_location(f"cachex_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def package_root() -> Path:
    """The directory holding the ``cachex`` package under test."""
    import cachex

    return Path(cachex.__file__).resolve().parents[1]
