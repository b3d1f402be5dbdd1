"""A project's own files (a peer's package and tests, Django's cache tests), taken from its
sdist at test time (never committed here).

Fetched with pip on first use into ``.cache/peer-src/<name>-<version>/``: only the folders asked
for (``tests`` or a nested ``tests/cache``), at their paths inside the sdist.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / ".cache" / "peer-src"


def fetch(project: str, version: str, folders: tuple[str, ...]) -> Path:
    """Directory holding ``folders`` (paths inside the sdist, e.g. ``tests/cache``) of
    ``project==version``'s sdist."""
    target = CACHE_DIR / f"{project}-{version}"
    wanted = [Path(f).parts for f in folders]
    if all((target / f).is_dir() for f in folders):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--no-binary", ":all:", f"{project}=={version}", "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        archives = list(Path(tmp).glob("*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise RuntimeError(f"could not download the {project} {version} sdist for its test "
                               f"suite (pip said: {done.stderr.strip()[-500:]})")
        with tarfile.open(archives[0]) as tar:
            members = [m for m in tar.getmembers() if (m.isfile() or m.isdir()) and any(
                Path(m.name).parts[1:1 + len(parts)] == parts for parts in wanted)]
            if not members:
                raise RuntimeError(f"the {project} {version} sdist has none of {folders}")
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, members=members, **safe)  # type: ignore[arg-type]
        top = Path(tmp) / Path(members[0].name).parts[0]
        staging = Path(tmp) / "staging"
        staging.mkdir()
        for folder in folders:
            if not (top / folder).is_dir():
                raise RuntimeError(f"the {project} {version} sdist has no {folder}/ folder")
            (staging / folder).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(top / folder), str(staging / folder))
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(staging), str(target))
    return target
