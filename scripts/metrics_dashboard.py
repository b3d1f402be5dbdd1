"""Draw docs/img/operations-failover.png: cachex's Prometheus metrics during a real outage.

Three shards on loopback (``cachex.testing``), an alias with ``failover: reroute`` and
``metrics: prometheus``, and a load of get/set from four threads. One shard is SIGKILLed,
then restarted. Every 100 ms the script scrapes the collector through prometheus_client, as
a Prometheus server would, and plots what a dashboard would show: operations per node,
failed attempts per node, latency quantiles, and the circuit/reroute counters.

    .venv/bin/python scripts/metrics_dashboard.py [--out docs/img/operations-failover.png]
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cachex.backends.redis import RedisCache
from cachex.testing import servers

ROOT = Path(__file__).resolve().parents[1]
KILL_AT, RESTART_AT, END_AT = 3.0, 8.0, 12.0
STEP = 0.1


def scrape(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(samples: list[tuple[dict[str, str], float]], **match: str) -> float:
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


def run(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    registry = CollectorRegistry()
    with servers(3) as nodes:
        cache = RedisCache([n.url for n in nodes], {"KEY_PREFIX": "dash", "OPTIONS": {
            "pool": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25},
            "failover": {"mode": "reroute", "threshold": 3, "cooldown": 1.0},
            "metrics": {"prometheus": {"registry": registry}}}})
        names = [n.address for n in nodes]
        victim = nodes[1]
        stop = threading.Event()

        def load() -> None:
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

        threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        started = time.monotonic()
        frames: list[tuple[float, dict[str, Any]]] = []
        killed = restarted = False
        while (now := time.monotonic() - started) < END_AT:
            if now >= KILL_AT and not killed:
                victim.kill()
                killed = True
            if now >= RESTART_AT and not restarted:
                victim.restart()
                restarted = True
            frames.append((now, scrape(registry)))
            time.sleep(STEP)
        stop.set()
        for t in threads:
            t.join()

    ts = [t for t, _ in frames]
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    colors = dict(zip(names, ["tab:blue", "tab:red", "tab:green"]))

    def rate(series: list[float]) -> list[float]:
        return [0.0] + [(b - a) / max(t1 - t0, 1e-9)
                        for (a, b, t0, t1) in zip(series, series[1:], ts, ts[1:])]

    ax = axes[0]
    for name in names:
        ok = [total(f.get("cachex_operations_total", []), node=name, outcome="ok")
              for _, f in frames]
        ax.plot(ts, rate(ok), label=name + (" (killed)" if name == victim.address else ""),
                color=colors[name])
    rerouted = [total(f.get("cachex_operations_total", []), node=victim.address,
                      outcome="rerouted") for _, f in frames]
    ax.plot(ts, rate(rerouted), ":", color=colors[victim.address],
            label=f"{victim.address} keys, rerouted")
    ax.set_ylabel("ops/s per node")
    ax.set_title("cachex_operations_total: rate per node (outcome ok; dotted: rerouted)")
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[1]
    for name in names:
        errs = [total(f.get("cachex_errors_total", []), node=name) for _, f in frames]
        ax.plot(ts, rate(errs), color=colors[name], label=name)
    ax.set_ylabel("failed attempts/s")
    ax.set_title("cachex_errors_total: rate per node (every failed attempt, retried or not)")

    ax = axes[2]
    for q, style in ((0.5, "-"), (0.99, "--")):
        values = []
        prev: list[tuple[float, float]] | None = None
        for _, f in frames:
            buckets = sorted((float(lab["le"]), v) for lab, v in
                             f.get("cachex_operation_duration_seconds_bucket", [])
                             if lab.get("command") == "GET")
            merged: dict[float, float] = {}
            for le, v in buckets:
                merged[le] = merged.get(le, 0) + v
            now_b = sorted(merged.items())
            window = now_b if prev is None else [
                (le, v - dict(prev).get(le, 0)) for le, v in now_b]
            values.append(quantile(window, q) * 1000)
            prev = now_b
        ax.plot(ts, values, style, color="black", label=f"p{int(q * 100)}")
    ax.set_yscale("log")
    ax.set_ylabel("GET latency (ms)")
    ax.set_title("cachex_operation_duration_seconds{command=\"GET\"}: per 100 ms window")
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[3]
    for event, color, style in (("short_circuits", "tab:orange", "-"),
                                ("reroutes", "tab:purple", "--"), ("retries", "tab:gray", "-")):
        series = [total(f.get("cachex_policy_events_total", []), event=event) for _, f in frames]
        ax.plot(ts, rate(series), style, color=color, label=event)
    opened = [total(f.get("cachex_circuit_open", []), node=victim.address) for _, f in frames]
    ax2 = ax.twinx()
    ax2.fill_between(ts, opened, step="post", alpha=0.15, color="tab:red")
    ax2.set_ylim(0, 1.05)
    ax2.set_yticks([0, 1], ["closed", "open"])
    ax.set_ylabel("events/s")
    ax.set_title("cachex_policy_events_total rate; shaded: cachex_circuit_open of the victim")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("seconds")
    for a in axes:
        a.axvline(KILL_AT, color="tab:red", lw=0.8, ls=":")
        a.axvline(RESTART_AT, color="tab:green", lw=0.8, ls=":")
    fig.suptitle("3 shards, failover 'reroute', 4 threads of get/set: one shard SIGKILLed at "
                 f"{KILL_AT:.0f}s, restarted at {RESTART_AT:.0f}s", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "operations-failover.png")
    run(p.parse_args().out)


if __name__ == "__main__":
    main()
