"""The tree carries no leftovers of a merge: a conflict marker in docs or code is invisible to
the interpreter when it sits in a docstring or a Markdown page, so it is looked for here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.M)

pytestmark = pytest.mark.unit


def tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # an unpacked sdist: no git
        out = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    keep = (".py", ".md", ".toml", ".yml", ".yaml", ".sh", ".cfg", ".ini", ".in", ".txt")
    return [ROOT / f for f in out if f.endswith(keep) or f.endswith("Makefile")]


def test_no_merge_conflict_markers() -> None:
    found = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found += [f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}"
                  for m in MARKER.finditer(text)]
    assert not found, f"merge conflict markers left in: {', '.join(found)}"
