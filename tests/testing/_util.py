"""Helpers shared by the cachex.testing tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from cachex.testing import Server


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def snapshot(nodes: Iterable[Server]) -> tuple[list[int], Path]:
    """Pids of the running nodes and their lab directory, to check teardown later."""
    nodes = list(nodes)
    pids = [node.pid for node in nodes if node.pid is not None]
    return pids, nodes[0].dir.parent


def assert_gone(pids: Iterable[int], lab_dir: Path, within: float = 5.0) -> None:
    """Every process is gone and the lab directory removed."""
    pids = list(pids)
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if alive(pid)] == []
    assert not lab_dir.exists()
