"""``python -m benchmarks [--quick|--full] [--only PATTERN] [--out DIR] [--profile]``.

Starts its own servers (``cachex.testing``), configures Django with one CACHES alias per
contender, measures every selected workload in interleaved rounds, then prints the tables and
the targets and writes ``bench-<mode>.json`` / ``.png`` / ``.txt`` into ``--out``. A full run
with no ``--only`` also refreshes the results section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import fnmatch
import gc
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import contenders as cont
from benchmarks import labs as labs_mod
from benchmarks import machine, report
from benchmarks.runner import Config, Timer, paired_ratio, run_workload, summarise
from benchmarks.targets import check_all
from benchmarks.workloads import Workload, catalogue

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOC = HERE.parent / "docs" / "benchmarks.md"
DOC_IMG = HERE.parent / "docs" / "img"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark cachex against Django's RedisCache, django-redis, django-valkey "
                    "and raw redis-py, on servers it starts itself (see docs/benchmarks.md).")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", dest="mode", const="quick",
                      help="5 short rounds per measurement, under a minute (the default)")
    mode.add_argument("--full", action="store_const", dest="mode", const="full",
                      help="15 longer rounds per measurement, a few minutes")
    p.add_argument("--only", metavar="PATTERN", action="append", default=[],
                   help="run only matching 'group/workload' ids, e.g. 'single/get 100B', "
                        "'cluster', 'get_many(100)', '*/aget x*'; a plain string matches as a "
                        "case-insensitive substring, one with * or ? as a glob; repeatable "
                        "or comma-separated")
    p.add_argument("--out", metavar="DIR", type=Path, default=RESULTS,
                   help=f"where to write the JSON, PNG and text (default {RESULTS})")
    p.add_argument("--no-docs", action="store_true",
                   help="do not refresh docs/benchmarks.md after a full run")
    p.add_argument("--rounds", type=int, help="override the number of rounds of the mode")
    p.add_argument("--round-ms", type=float, help="override the length of one round (ms)")
    p.add_argument("--nice", metavar="N", type=int, default=0,
                   help="raise the scheduling priority of this run and of the servers it "
                        "starts by N nice levels (needs root or CAP_SYS_NICE); may steady "
                        "the numbers on a machine busy with other work")
    p.add_argument("--profile", action="store_true",
                   help="instead of the comparison, profile cachex's hot paths on one server "
                        "and write profile.txt into --out")
    args = p.parse_args(argv)
    args.mode = args.mode or "quick"
    return args


def selected(workloads: list[Workload], patterns: list[str]) -> list[tuple[str, Workload]]:
    """(group, workload) pairs to run, in report order (grouped by group)."""
    pats = [x.strip().lower() for p in patterns for x in p.split(",") if x.strip()]
    out = []
    for group in labs_mod.GROUPS:
        for w in workloads:
            if group not in w.groups:
                continue
            ident = f"{group}/{w.name}".lower()
            if not pats or any(_matches(ident, p) for p in pats):
                out.append((group, w))
    return out


def _matches(ident: str, pattern: str) -> bool:
    if any(ch in pattern for ch in "*?"):
        return fnmatch.fnmatchcase(ident, pattern)
    return pattern in ident


def configure_django(contenders: list[cont.Contender]) -> None:
    import django
    from django.conf import settings

    settings.configure(CACHES=cont.caches_setting(contenders), USE_TZ=True,
                       INSTALLED_APPS=[], LOGGING_CONFIG=None)
    django.setup()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.nice:
        _raise_priority(args.nice)
    if args.profile:
        from benchmarks.profiling import main as profile_main

        return profile_main(args.out)
    cfg = Config.quick() if args.mode == "quick" else Config.full()
    if args.rounds or args.round_ms:
        cfg = dataclasses.replace(
            cfg, rounds=args.rounds or cfg.rounds,
            round_s=args.round_ms / 1000 if args.round_ms else cfg.round_s,
            calibrate_s=min(cfg.calibrate_s, args.round_ms / 2000 if args.round_ms else 1.0))
    plan = selected(catalogue(), args.only)
    if not plan:
        print(f"no workload matches {args.only}", file=sys.stderr)
        return 2
    groups = [g for g in labs_mod.GROUPS if any(pg == g for pg, _ in plan)]
    warnings.simplefilter("ignore", ResourceWarning)
    started = datetime.now(timezone.utc)
    t_start = time.perf_counter()
    info = machine.info()
    print(f"cachex benchmarks, {args.mode}: {len(plan)} measurements over {', '.join(groups)}; "
          f"{info['cpu']}, {info['cores']} cores, load {info['load_before']}", flush=True)

    out_groups: dict[str, dict[str, Any]] = {}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        with ExitStack() as stack:
            labs = labs_mod.start(groups, stack)
            line = cont.line_up(labs, groups)
            configure_django(line)
            cont.build_sync(line)

            async def build_async() -> None:
                cont.build_async(line)

            loop.run_until_complete(build_async())
            gc.collect()
            gc.freeze()  # start-up objects out of the collector: cheap collections later
            timer = Timer(loop)
            lab_text = labs.describe()
            for group in groups:
                members = [c for c in line if c.group == group]
                roles = {c.name: c.role for c in members}
                out_groups[group] = _group_record(group, members, labs, lab_text)
                if group in labs.errors:
                    print(f"[{group}] not available: {labs.errors[group]}", flush=True)
                    continue
                for c in members:
                    if not c.available:
                        print(f"[{group}] {c.name}: {c.reason}", flush=True)
                for pg, w in plan:
                    if pg != group:
                        continue
                    t0 = time.perf_counter()
                    results = run_workload(w, members, cfg, timer,
                                           after=partial(labs.flush, group))
                    out_groups[group]["workloads"][w.name] = _workload_record(w, results, roles)
                    print(f"[{group}] {w.name:<22} {time.perf_counter() - t0:5.1f}s", flush=True)
            loop.run_until_complete(_close(line))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    info["load_after"] = machine.load()
    rep: dict[str, Any] = {
        "schema": 1,
        "mode": args.mode,
        "only": args.only or None,
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t_start, 1),
        "machine": info,
        "config": {"rounds": cfg.rounds, "round_s": cfg.round_s,
                   "calibrate_s": cfg.calibrate_s, "nice": -args.nice},
        "method": ("interleaved rounds (order rotated each round); per round each contender "
                   "times its calibrated number of calls with time.perf_counter, gc off; "
                   "medians over rounds; ratios are medians of per-round ratios"),
        "groups": out_groups,
    }
    rep["targets"] = check_all(out_groups)
    print(report.render_text(rep))
    _write(rep, args)
    return 0


def _raise_priority(levels: int) -> None:
    """Before any thread or server starts, so they all inherit it."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) - levels)
    except (OSError, AttributeError) as exc:
        print(f"--nice {levels}: cannot raise priority ({exc}); running as is", file=sys.stderr)


def _group_record(group: str, members: list[cont.Contender], labs: labs_mod.Labs,
                  lab_text: dict[str, str]) -> dict[str, Any]:
    baseline = next((c.name for c in members if c.baseline), None)
    return {
        "available": group not in labs.errors,
        "reason": labs.errors.get(group),
        "lab": lab_text.get(group, ""),
        "baseline": baseline,
        "contenders": {c.name: {"role": c.role, "what": c.what, "available": c.available,
                                "reason": c.reason, "prefix": c.prefix,
                                "settings": _settings_text(c)} for c in members},
        "workloads": {},
    }


def _settings_text(c: cont.Contender) -> dict[str, Any] | None:
    if c.cache is None:
        return None
    return {k: (v if isinstance(v, (str, int, float, type(None))) else repr(v))
            for k, v in c.cache.items()}


def _workload_record(w: Workload, results: dict[str, Any], roles: dict[str, str]
                     ) -> dict[str, Any]:
    names = [n for n, m in results.items() if m.ops]

    def wanted(a: str, b: str) -> bool:
        """cachex against everyone; everyone against the raw clients."""
        return a != b and (roles.get(a) == "cachex" or roles.get(b) == "raw")

    ratios = {a: {b: _round(paired_ratio(results[a].ops, results[b].ops))
                  for b in names if wanted(a, b)} for a in names}
    # CPU: per-call cost, so the ratio is b's cost over a's (>1: a is cheaper, as for speed)
    cpu_ratios = {a: {b: _round(paired_ratio(results[b].cpu_us, results[a].cpu_us))
                      for b in names if wanted(a, b)} for a in names}
    return {"op": w.op, "value_bytes": w.size, "keys_per_call": w.count, "tasks": w.tasks,
            "what": w.describe(), "results": summarise(results), "ratios": ratios,
            "cpu_ratios": cpu_ratios}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


async def _close(line: list[cont.Contender]) -> None:
    for c in line:
        for closer in (c.aops.closers if c.aops else []):
            try:
                await closer()
            except Exception:
                pass


def _write(rep: dict[str, Any], args: argparse.Namespace) -> None:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{rep['mode']}" + ("-only" if rep["only"] else "")
    png = out / f"{stem}.png"
    problem = report.chart(rep, png)
    if problem:
        print(f"no chart: {problem}", file=sys.stderr)
    rep["chart"] = None if problem else png.name
    report.write_json(out / f"{stem}.json", rep)
    (out / f"{stem}.txt").write_text(report.render_text(rep) + "\n")
    print(f"\nwrote {out / stem}.json, .txt" + ("" if problem else ", .png"))
    if rep["mode"] == "full" and not rep["only"] and not args.no_docs and out == RESULTS:
        rel = None
        if not problem:  # the docs site only sees docs/: keep a copy of the chart there
            DOC_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, DOC_IMG / png.name)
            rel = f"img/{png.name}"
        if report.update_docs(DOC, report.render_markdown(rep, rel)):
            print(f"refreshed the results section of {DOC}")
