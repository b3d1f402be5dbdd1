"""Count the hand-written sync/async twins of the I/O layer (``router.py``, ``steps.py``,
``topology/*``).

A *pair* is a sync and an async function named ``x``/``ax`` (``_x``/``_ax``) in the same
scope (module, class or function), or the same-named methods of paired classes
(``Idle``/``AsyncIdle``, ``_Caller``/``_ACaller``: names equal once ``Async``, or an ``A``
after a leading underscore, is taken out). Every line of each body counts (from its first
statement to its last line).

``python scripts/twins.py`` prints every pair and the totals; ``--budget N`` exits 1 when
either side has more than N lines (the unit tier runs it that way, so twins do not creep
back).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
Func = ast.FunctionDef | ast.AsyncFunctionDef


def layer_files(root: Path = ROOT) -> list[Path]:
    files = [root / "cachex" / "router.py", root / "cachex" / "steps.py",
             *sorted((root / "cachex" / "topology").glob("*.py"))]
    return [f for f in files if f.exists()]


def _functions(body: list[ast.stmt]) -> dict[str, Func]:
    return {n.name: n for n in body if isinstance(n, Func)}


def _plain(name: str) -> str:
    name = name.replace("Async", "")
    if name.startswith("_A") and name[2:3].isupper():
        name = "_" + name[2:]
    return name


def pairs(tree: ast.Module) -> Iterator[tuple[str, Func, Func]]:
    scopes: list[ast.AST] = [tree, *(n for n in ast.walk(tree)
                                     if isinstance(n, (ast.ClassDef, *Func.__args__)))]
    for scope in scopes:
        funcs = _functions(scope.body)  # type: ignore[attr-defined]
        for name, sync in funcs.items():
            bare = name.lstrip("_")
            twin = funcs.get(name[:len(name) - len(bare)] + "a" + bare)
            if twin is not None and isinstance(twin, ast.AsyncFunctionDef) != isinstance(
                    sync, ast.AsyncFunctionDef):
                where = getattr(scope, "name", "<module>")
                yield f"{where}.{name}", sync, twin
    classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    for sync_cls in classes:
        if _plain(sync_cls.name) != sync_cls.name:
            continue
        for async_cls in classes:
            if async_cls.name == sync_cls.name or _plain(async_cls.name) != sync_cls.name:
                continue
            sync_methods, async_methods = _functions(sync_cls.body), _functions(async_cls.body)
            for name, sync in sync_methods.items():
                if name in async_methods:
                    yield f"{sync_cls.name}/{async_cls.name}.{name}", sync, async_methods[name]


def body_lines(func: Func) -> int:
    return (func.end_lineno or func.body[-1].lineno) - func.body[0].lineno + 1


def count(root: Path = ROOT) -> tuple[list[tuple[str, int, int]], int, int]:
    rows = []
    for path in layer_files(root):
        rel = path.relative_to(root).as_posix()
        for name, sync, twin in pairs(ast.parse(path.read_text(), str(path))):
            rows.append((f"{rel}:{name}", body_lines(sync), body_lines(twin)))
    return rows, sum(r[1] for r in rows), sum(r[2] for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, help="fail when a side has more lines")
    parser.add_argument("--quiet", action="store_true", help="totals only")
    args = parser.parse_args(argv)
    rows, sync_total, async_total = count()
    if not args.quiet:
        for name, s, a in rows:
            print(f"{s:4d} {a:4d}  {name}")
    print(f"{len(rows)} pairs, {sync_total} sync lines, {async_total} async lines")
    if args.budget is not None and max(sync_total, async_total) > args.budget:
        print(f"over the budget of {args.budget} lines a side", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
