"""Draw cachex's Prometheus metrics during a real outage, as a dashboard would show them.

Two scenarios, each on real servers started by ``cachex.testing`` with a get/set load from four
threads; every 100 ms the script scrapes the collector through prometheus_client, as a
Prometheus server would, and draws what it recorded:

- ``shard``: three shards, failover mode ``reroute``; one shard is SIGKILLed, then restarted
  (docs/img/operations-failover.png).
- ``sentinel``: a primary, a replica and three sentinels; the primary is SIGKILLed, the
  sentinels promote the replica, the old primary comes back as a replica
  (docs/img/operations-sentinel-failover.png, and the text picture in docs/operations.md).

    .venv/bin/python scripts/metrics_dashboard.py [--scenario shard|sentinel] [--out PNG]
                                                  [--text]

The text picture is always printed; ``--text`` skips the PNG (and matplotlib).
"""

from __future__ import annotations

import argparse
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cachex.backends.redis import RedisCache
from cachex.testing import LabError, sentinel, servers

ROOT = Path(__file__).resolve().parents[1]
STEP = 0.1
Samples = list[tuple[dict[str, str], float]]
Frame = dict[str, Samples]


@dataclass
class Series:
    label: str
    values: list[float]
    style: str = "-"
    color: str | None = None


@dataclass
class Panel:
    title: str
    ylabel: str
    series: list[Series]
    log: bool = False
    shade: Series | None = None  # 0/1 over time, drawn as a band (e.g. a circuit open)


@dataclass
class Recording:
    """What a run saw: scrape times, scrapes, and the faults' times by name."""

    title: str
    times: list[float] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)


def scrape(registry: CollectorRegistry) -> Frame:
    out: Frame = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(samples: Samples, **match: str) -> float:
    return sum(v for labels, v in samples if all(labels.get(k) == x for k, x in match.items()))


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """A quantile from cumulative histogram buckets (upper bound, count), as PromQL's
    histogram_quantile does (linear inside the bucket)."""
    if not buckets or buckets[-1][1] <= 0:
        return float("nan")
    rank = q * buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            span = count - prev_count
            return prev_le + (le - prev_le) * ((rank - prev_count) / span if span else 1)
        prev_le, prev_count = le, count
    return prev_le


def load(cache: RedisCache, stop: threading.Event) -> None:
    """One thread of the load: 90% get, 10% set, over 2,000 keys; errors are the metrics'
    business, the thread just goes on."""
    rng = random.Random()
    while not stop.is_set():
        key = f"k{rng.randrange(2000)}"
        try:
            if rng.random() < 0.9:
                cache.get(key)
            else:
                cache.set(key, "v" * 100)
        except Exception:
            time.sleep(0.001)


def record(cache: RedisCache, registry: CollectorRegistry, end_at: float,
           faults: list[tuple[float, str, Callable[[], Any]]], rec: Recording) -> None:
    """Run the load, fire each fault at its time (in a thread of its own, so a fault that
    waits, such as a sentinel promotion, does not hold the scrapes), scrape every STEP.
    Each fault is marked at the time it was done."""
    stop = threading.Event()
    threads = [threading.Thread(target=load, args=(cache, stop), daemon=True)
               for _ in range(4)]
    for t in threads:
        t.start()
    started = time.monotonic()
    pending = sorted(faults, key=lambda f: f[0])
    helpers: list[threading.Thread] = []
    while (now := time.monotonic() - started) < end_at:
        while pending and now >= pending[0][0]:
            _, name, action = pending.pop(0)

            def fire(name: str = name, action: Callable[[], Any] = action) -> None:
                action()  # marked when done: a promotion is marked when it happened
                rec.marks[name] = time.monotonic() - started

            helper = threading.Thread(target=fire, daemon=True)
            helper.start()
            helpers.append(helper)
        rec.times.append(now)
        rec.frames.append(scrape(registry))
        time.sleep(STEP)
    stop.set()
    for t in threads + helpers:
        t.join(timeout=60)


def rate(times: list[float], series: list[float]) -> list[float]:
    return [0.0] + [(b - a) / max(t1 - t0, 1e-9)
                    for (a, b, t0, t1) in zip(series, series[1:], times, times[1:])]


def latency(rec: Recording, q: float, command: str = "GET") -> list[float]:
    """The q-quantile (ms) of ``command`` per scrape interval, from the histogram buckets."""
    values = []
    prev: dict[float, float] | None = None
    for f in rec.frames:
        merged: dict[float, float] = {}
        for lab, v in f.get("cachex_operation_duration_seconds_bucket", []):
            if lab.get("command") == command:
                le = float(lab["le"])
                merged[le] = merged.get(le, 0) + v
        now_b = sorted(merged.items())
        window = now_b if prev is None else [(le, v - prev.get(le, 0)) for le, v in now_b]
        values.append(quantile(window, q) * 1000)
        prev = dict(now_b)
    return values


def latency_panel(rec: Recording) -> Panel:
    return Panel('cachex_operation_duration_seconds{command="GET"}: per 100 ms window',
                 "GET latency (ms)", [Series("p50", latency(rec, 0.5), "-", "black"),
                                      Series("p99", latency(rec, 0.99), "--", "black")],
                 log=True)


# ------------------------------------------------------------------------------- scenarios
def shard_run() -> tuple[Recording, list[Panel]]:
    kill_at, restart_at, end_at = 3.0, 8.0, 12.0
    registry = CollectorRegistry()
    rec = Recording("3 shards, failover 'reroute', 4 threads of get/set: one shard SIGKILLed "
                    f"at {kill_at:.0f}s, restarted at {restart_at:.0f}s")
    with servers(3) as nodes:
        cache = RedisCache([n.url for n in nodes], {"KEY_PREFIX": "dash", "OPTIONS": {
            "pool": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25},
            "failover": {"mode": "reroute", "threshold": 3, "cooldown": 1.0},
            "metrics": {"prometheus": {"registry": registry}}}})
        victim = nodes[1]
        record(cache, registry, end_at, [(kill_at, "kill", victim.kill),
                                          (restart_at, "restart", victim.restart)], rec)
        names = [n.address for n in nodes]
    colors = dict(zip(names, ["tab:blue", "tab:red", "tab:green"]))
    ts, fr, dead = rec.times, rec.frames, victim.address

    def per(metric: str, **match: str) -> list[float]:
        return rate(ts, [total(f.get(metric, []), **match) for f in fr])

    ops = [Series(n + (" (killed)" if n == dead else ""),
                  per("cachex_operations_total", node=n, outcome="ok"), "-", colors[n])
           for n in names]
    ops.append(Series(f"{dead} keys, rerouted",
                      per("cachex_operations_total", node=dead, outcome="rerouted"), ":",
                      colors[dead]))
    panels = [
        Panel("cachex_operations_total: rate per node (outcome ok; dotted: rerouted)",
              "ops/s per node", ops),
        Panel("cachex_errors_total: rate per node (every failed attempt, retried or not)",
              "failed attempts/s",
              [Series(n, per("cachex_errors_total", node=n), "-", colors[n]) for n in names]),
        latency_panel(rec),
        Panel("cachex_policy_events_total rate; shaded: cachex_circuit_open of the victim",
              "events/s",
              [Series(e, per("cachex_policy_events_total", event=e), s, c) for e, c, s in
               (("short_circuits", "tab:orange", "-"), ("reroutes", "tab:purple", "--"),
                ("retries", "tab:gray", "-"))],
              shade=Series("circuit open", [total(f.get("cachex_circuit_open", []),
                                                  node=dead) for f in fr])),
    ]
    return rec, panels


def sentinel_run() -> tuple[Recording, list[Panel]]:
    kill_at, restart_at, end_at = 3.0, 10.0, 14.0
    registry = CollectorRegistry()
    rec = Recording("Sentinel (primary, replica, 3 sentinels), default policy, 4 threads "
                    f"of get/set:\nprimary SIGKILLed at {kill_at:.0f}s, restarted at "
                    f"{restart_at:.0f}s (the sentinels make it a replica)")
    with sentinel() as s:
        cache = RedisCache(s.url, {"KEY_PREFIX": "dash", "OPTIONS": {
            "pool": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25},
            "metrics": {"prometheus": {"registry": registry}}}})
        old = s.primary_node

        def promoted() -> None:
            """Returns once a sentinel names another primary (GET-MASTER-ADDR-BY-NAME)."""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if s.primary_node.port != old.port:
                        return
                except LabError:
                    pass  # no sentinel names one for now
                time.sleep(0.02)

        record(cache, registry, end_at, [(kill_at, "kill", old.kill),
                                          (kill_at + 0.05, "promoted", promoted),
                                          (restart_at, "restart", old.restart)], rec)
    ts, fr = rec.times, rec.frames

    def per(metric: str, **match: str) -> list[float]:
        return rate(ts, [total(f.get(metric, []), **match) for f in fr])

    outcomes = sorted({lab["outcome"] for f in fr
                       for lab, _ in f.get("cachex_operations_total", [])})
    kinds = sorted({lab["kind"] for f in fr for lab, _ in f.get("cachex_errors_total", [])})
    palette = ["tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:gray"]
    failed = [o for o in outcomes if o != "ok"]
    panels = [
        Panel("cachex_operations_total: rate by outcome (node label: the primary)", "ops/s",
              [Series("ok", per("cachex_operations_total", outcome="ok"), "-", "tab:blue")]
              + [Series(o, per("cachex_operations_total", outcome=o), "--", c)
                 for o, c in zip(failed, palette)]),
        Panel("cachex_errors_total: rate by kind (every failed attempt, retried or not)",
              "failed attempts/s",
              [Series(k, per("cachex_errors_total", kind=k), "-", c)
               for k, c in zip(kinds, palette)]),
        latency_panel(rec),
        Panel("cachex_policy_events_total rate", "events/s",
              [Series(e, per("cachex_policy_events_total", event=e), s, c) for e, c, s in
               (("retries", "tab:gray", "-"), ("give_ups", "tab:red", "--"))]),
    ]
    return rec, panels


SCENARIOS: dict[str, Callable[[], tuple[Recording, list[Panel]]]] = {
    "shard": shard_run, "sentinel": sentinel_run}
MARK_COLORS = {"kill": "tab:red", "promoted": "tab:blue", "restart": "tab:green"}


# ------------------------------------------------------------------------------- drawing
def draw_png(rec: Recording, panels: list[Panel], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.75 * len(panels)), sharex=True)
    for ax, panel in zip(axes, panels):
        for s in panel.series:
            ax.plot(rec.times, s.values, s.style, color=s.color, label=s.label)
        if panel.shade is not None:
            ax2 = ax.twinx()
            ax2.fill_between(rec.times, panel.shade.values, step="post", alpha=0.15,
                             color="tab:red")
            ax2.set_ylim(0, 1.05)
            ax2.set_yticks([0, 1], ["closed", "open"])
        if panel.log:
            ax.set_yscale("log")
        ax.set_ylabel(panel.ylabel)
        ax.set_title(panel.title)
        ax.legend(loc="upper right", fontsize=8)
        for name, at in rec.marks.items():
            ax.axvline(at, color=MARK_COLORS.get(name, "black"), lw=0.8, ls=":")
    axes[-1].set_xlabel("seconds")
    marks = ", ".join(f"{name} ({MARK_COLORS.get(name, 'black')[4:]})" for name in rec.marks)
    fig.suptitle(f"{rec.title}\ndotted lines: {marks}", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


BARS = " ▁▂▃▄▅▆▇█"


def level(m: float, peak: float, floor: float, log: bool) -> int:
    """0 to 8: the bar for a mean ``m`` of a series whose largest mean is ``peak`` (its
    smallest above zero is ``floor``, the bottom of a log scale)."""
    if log:
        span = peak / floor if peak > floor else 2.0
        return 1 + round(7 * math.log(max(m, floor) / floor) / math.log(span))
    return 0 if peak <= 0 or m <= 0 else max(1, round(8 * m / peak))


def draw_text(rec: Recording, panels: list[Panel], width: int = 56) -> str:
    """One line per series: a bar per time bucket (the bucket's mean, scaled to the series'
    own peak, printed at the end); a line of marks on top (K kill, P promoted, R restart)."""
    end = rec.times[-1] if rec.times else 1.0
    per_col = end / width

    def column(t: float) -> int:
        return min(width - 1, int(t / per_col))

    label_w = max(len(s.label) for p in panels for s in p.series) + 2
    marks = [" "] * width
    for name, at in rec.marks.items():
        marks[column(at)] = name[0].upper()
    axis = [" "] * width
    for sec in range(0, int(end) + 1, 2):
        text = str(sec)
        col = column(sec)
        axis[col:col + len(text)] = list(text)
    lines = [rec.title, "",
             " " * label_w + "".join(axis[:width]) + "  seconds",
             " " * label_w + "".join(marks) + "  " + ", ".join(
                 f"{n[0].upper()} {n} {at:.1f}s" for n, at in sorted(rec.marks.items(),
                                                                     key=lambda m: m[1]))]
    for panel in panels:
        lines += ["", panel.title]
        for s in panel.series:
            buckets: list[list[float]] = [[] for _ in range(width)]
            for t, v in zip(rec.times, s.values):
                if v == v:  # not NaN (an empty latency window)
                    buckets[column(t)].append(v)
            means = [sum(b) / len(b) if b else float("nan") for b in buckets]
            peak = max((m for m in means if m == m), default=0.0)
            floor = min((m for m in means if m == m and m > 0), default=1.0)
            bar = "".join(" " if m != m else BARS[level(m, peak, floor, panel.log)]
                          for m in means)
            unit = " ms" if panel.log else "/s"
            lines.append(f"{s.label:<{label_w}}{bar}  peak {peak:,.1f}{unit}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="shard")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--text", action="store_true",
                   help="only print the text picture (no matplotlib needed), write no PNG")
    args = p.parse_args()
    rec, panels = SCENARIOS[args.scenario]()
    print(draw_text(rec, panels))  # the same run as the PNG
    if args.text:
        return
    name = "operations-failover.png" if args.scenario == "shard" \
        else "operations-sentinel-failover.png"
    draw_png(rec, panels, args.out or ROOT / "docs" / "img" / name)


if __name__ == "__main__":
    main()
