"""Django's own cache tests, taken from the sdist of the installed Django version.

Not copied into this repository: fetched with pip on first use into ``.cache/django-src``
and put on ``sys.path`` so ``import cache.tests`` finds Django's ``tests/cache`` package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".cache" / "django-src"


def django_tests_dir() -> Path:
    """Directory holding Django's ``cache`` test package for the installed Django."""
    version = django.get_version()
    target = CACHE_DIR / f"django-{version}" / "tests"
    if (target / "cache" / "tests.py").exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--no-binary", ":all:", f"django=={version}", "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        archives = list(Path(tmp).glob("*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise RuntimeError(
                f"could not download the Django {version} sdist for its cache test suite "
                f"(pip said: {done.stderr.strip()[-500:]})"
            )
        with tarfile.open(archives[0]) as tar:
            members = [m for m in tar.getmembers()
                       if Path(m.name).parts[1:3] == ("tests", "cache") and m.isfile()]
            if not members:
                raise RuntimeError(f"the Django {version} sdist has no tests/cache folder")
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, members=members, **safe)  # type: ignore[arg-type]
        source = Path(tmp) / Path(members[0].name).parts[0] / "tests" / "cache"
        target.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target / "cache"))
    return target


def install() -> None:
    path = str(django_tests_dir())
    if path not in sys.path:
        sys.path.insert(0, path)
