"""The I/O layer's generated sync twins (``scripts/unasync.py``) match their async source.

The async function is the one source; its sync twin, fenced by marker comments in the same
module, is generated from it. These tests run the ``--check`` against the package under test
(a checkout's, or the installed one under ``make dist``), show that a hand edit of a
generated twin (or an async source changed without regenerating) is caught, and pin the
rename rules on a small sample.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "unasync.py"


def _unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cachex_unasync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cachex_unasync"] = module
    spec.loader.exec_module(module)
    return module


def _package_root() -> Path:
    import cachex  # the package under test: a checkout's, or the installed one (make dist)

    return Path(cachex.__file__).resolve().parents[1]


def test_checked_in_twins_match_their_async_source() -> None:
    unasync = _unasync()
    root = _package_root()
    modules = {p.relative_to(root).as_posix() for p in unasync.files(root)}
    assert {"cachex/steps.py", "cachex/router.py", "cachex/topology/base.py",
            "cachex/topology/idle.py"} <= modules
    diffs = unasync.check(root)
    assert not diffs, "generated twins out of date; run python scripts/unasync.py:\n" + \
        "\n".join(diffs)


def _copy(tmp_path: Path, rel: str) -> Path:
    target = tmp_path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_package_root() / rel, target)
    return target


def test_a_hand_edited_twin_is_caught_and_regenerated(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    unasync = _unasync()
    base = _copy(tmp_path, "cachex/topology/base.py")
    assert unasync.check(tmp_path) == []
    text = base.read_text()
    # the generated sync execute_many, edited by hand: its connections no longer parked
    edited = text.replace("                self._idle.give(pool, conn)\n",
                          "                pool.release(conn)\n", 1)
    assert edited != text
    base.write_text(edited)
    assert unasync.main(["--check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "-                pool.release(conn)" in out
    assert "+                self._idle.give(pool, conn)" in out
    assert unasync.main(["--root", str(tmp_path)]) == 0  # regenerate
    assert base.read_text() == text
    assert unasync.main(["--check", "--root", str(tmp_path)]) == 0


def test_an_async_source_changed_alone_is_caught(tmp_path: Path) -> None:
    unasync = _unasync()
    idle = _copy(tmp_path, "cachex/topology/idle.py")
    text = idle.read_text()
    source = "            await pool.release(other)\n"
    assert text.count(source) == 1  # in AsyncIdle.failed, the source of Idle.failed
    idle.write_text(text.replace(source, source + "            await pool.release(other)\n"))
    [diff] = unasync.check(tmp_path)
    assert "\n+            pool.release(other)\n     # end generated" in diff


SAMPLE = '''\
async def _afetch(self, pool: Any, commands: list[Command], kind: int
                  ) -> list[Any]:  # type: ignore[override]
    """Both sides: the docstring is kept as written (aread stays aread here)."""
    conn = await self._aidle.take(pool)
    async with self._lock:
        await asyncio.sleep(0.1)
    async for item in self.anode_client(conn):
        pass
    first = (await wire.aread(conn, commands, kind, self._replies,
                              self.driver))[0]
    both = (await self.aexecute(conn) if kind else None)
    return [first, both, await aperform(self._steps()), await AsyncIdle.arun(x)]
'''

EXPECTED = '''\
def _afetch(self, pool: Any, commands: list[Command], kind: int
            ) -> list[Any]:
    """Both sides: the docstring is kept as written (aread stays aread here)."""
    conn = self._idle.take(pool)
    with self._lock:
        time.sleep(0.1)
    for item in self.node_client(conn):
        pass
    first = wire.read(conn, commands, kind, self._replies,
                      self.driver)[0]
    both = (self.execute(conn) if kind else None)
    return [first, both, perform(self._steps()), Idle.run(x)]
'''


def test_rename_rules_turn_a_sample_async_function_into_its_sync_twin() -> None:
    """async/await dropped (with the parentheses that only held an awaited primary),
    names from the rename table, ``# type: ignore[override]`` dropped, continuation lines
    realigned; a name outside the table (``_afetch``) is left alone, so is text in strings."""
    assert _unasync().unasync(SAMPLE) == EXPECTED


def test_a_twin_that_would_shadow_its_source_is_refused(tmp_path: Path) -> None:
    """A fenced twin in the same class as its source needs a sync name from the table."""
    module = tmp_path / "cachex" / "m.py"
    module.parent.mkdir()
    module.write_text(
        "class C:\n"
        "    # generated by scripts/unasync.py from C._afetch; do not edit\n"
        "    # end generated\n\n"
        "    async def _afetch(self):\n        return await self.x()\n")
    with pytest.raises(ValueError, match="RENAMES"):
        _unasync().check(tmp_path)
