"""Turning measurements into the stdout table, the JSON file, the PNG chart and the docs."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DOC_START = "<!-- bench:results:start -->"
DOC_END = "<!-- bench:results:end -->"


# ------------------------------------------------------------------------------------ numbers
def fmt_ops(ops: float | None) -> str:
    if ops is None:
        return "-"
    if ops >= 100_000:
        return f"{ops / 1000:.0f}k"
    if ops >= 10_000:
        return f"{ops / 1000:.1f}k"
    if ops >= 1_000:
        return f"{ops / 1000:.2f}k"
    if ops >= 10:
        return f"{ops:.0f}"
    return f"{ops:.1f}"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


# ------------------------------------------------------------------------------------ tables
def _shown(group: dict[str, Any]) -> list[str]:
    """Contenders that produced at least one number, in line-up order."""
    names = []
    for name, info in group["contenders"].items():
        if not info["available"]:
            continue
        if any(name in w["results"] for w in group["workloads"].values()):
            names.append(name)
    return names


def main_table(group: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: median ops/s per call and the ratio to the group's raw baseline."""
    names = _shown(group)
    base = group["baseline"]
    header = ["workload", *[f"{n}{' (floor)' if n == base else ''}" for n in names]]
    rows = []
    for wname, work in group["workloads"].items():
        row = [wname]
        for n in names:
            res = work["results"].get(n)
            if res is None:
                row.append("n/a")
            elif res["error"] and not res["median_ops_s"]:
                row.append("error")
            elif n == base:
                row.append(fmt_ops(res["median_ops_s"]))
            else:
                ratio = work["ratios"].get(n, {}).get(base)
                row.append(f"{fmt_ops(res['median_ops_s'])} ({fmt_ratio(ratio)})")
        rows.append(row)
    return header, rows


def cpu_table(group: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: client CPU µs per call and the CPU ratio to the baseline."""
    names = _shown(group)
    base = group["baseline"]
    header = ["workload (CPU µs/call)", *names]
    rows = []
    for wname, work in group["workloads"].items():
        row = [wname]
        for n in names:
            res = work["results"].get(n)
            cpu = res.get("median_cpu_us_per_call") if res else None
            if res is None:
                row.append("n/a")
            elif cpu is None:
                row.append("error")
            elif n == base:
                row.append(fmt_us(cpu))
            else:
                ratio = work.get("cpu_ratios", {}).get(n, {}).get(base)
                row.append(f"{fmt_us(cpu)} ({fmt_ratio(ratio)})")
        rows.append(row)
    return header, rows


def fmt_us(us: float) -> str:
    return f"{us:.0f}" if us >= 100 else f"{us:.1f}"


def peers_table(group: dict[str, Any], cachex: str) -> tuple[list[str], list[list[str]]]:
    """cachex contender ÷ each peer (and each non-baseline raw client), per workload."""
    names = _shown(group)
    others = [n for n in names if group["contenders"][n]["role"] in ("peer",)
              or (group["contenders"][n]["role"] == "raw" and n != group["baseline"])]
    header = ["workload", *[f"{cachex} / {o}" for o in others]]
    rows = []
    for wname, work in group["workloads"].items():
        if cachex not in work["results"]:
            continue
        row = [wname]
        for o in others:
            row.append(fmt_ratio(work["ratios"].get(cachex, {}).get(o))
                       if o in work["results"] else "n/a")
        rows.append(row)
    return header, rows


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(header, widths, strict=False)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=False))))
    return "\n".join(lines)


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def targets_lines(targets: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(text, measured wall-clock ratio, client-CPU ratio, status) per target."""
    out = []
    for t in targets:
        measured = fmt_ratio(t["ratio"]) if t["ratio"] is not None else "-"
        cpu = fmt_ratio(t.get("cpu_ratio"))
        status = t["status"] + (f" ({t['why']})" if t["why"] else "")
        out.append((t["text"], measured, cpu, status))
    return out


def render_text(report: dict[str, Any]) -> str:
    parts = []
    for gname, group in report["groups"].items():
        parts.append(f"\n== {gname}: {group.get('lab', '')}")
        if not group["available"]:
            parts.append(f"   not available: {group['reason']}")
            continue
        for name, info in group["contenders"].items():
            if not info["available"]:
                parts.append(f"   {name}: {info['reason']}")
        parts.append("   median ops/s per call; (x) = ratio to the floor, median of per-round"
                     " ratios")
        parts.append(text_table(*main_table(group)))
        parts.append("")
        parts.append("   client CPU µs per call (this process, all threads); (x) = floor's CPU"
                     " / this CPU")
        parts.append(text_table(*cpu_table(group)))
        for cx in _cachex_names(group):
            header, rows = peers_table(group, cx)
            if len(header) > 1 and rows:
                parts.append("")
                parts.append(text_table(*peers_table(group, cx)))
    parts.append("\n== targets (cachex[redis]; wall-clock ratio decides, client-CPU ratio beside)")
    lines = targets_lines(report["targets"])
    width = max(len(t) for t, _, _, _ in lines)
    parts.append(f"  {'target'.ljust(width)}  {'wall':>7}  {'cpu':>7}  status")
    for text, measured, cpu, status in lines:
        parts.append(f"  {text.ljust(width)}  {measured:>7}  {cpu:>7}  {status}")
    return "\n".join(parts)


def _cachex_names(group: dict[str, Any]) -> list[str]:
    return [n for n in _shown(group) if group["contenders"][n]["role"] == "cachex"]


def render_markdown(report: dict[str, Any], chart: str | None) -> str:
    """The results section of docs/benchmarks.md."""
    m = report["machine"]
    cfg = report["config"]
    pk = m["packages"]
    pkgs = ", ".join(f"{k} {v}" for k, v in pk.items() if v)
    out = [
        f"Measured {report['started']} with `python -m benchmarks --{report['mode']}` "
        f"({cfg['rounds']} rounds of ~{cfg['round_s'] * 1000:.0f} ms per contender and "
        f"workload, {report['duration_s']:.0f} s in all).",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; "
        f"load average before/after {m['load_before']} / {m.get('load_after')}",
        f"- {m['python']}, {m['server']}, git {m['git']}",
        f"- Packages: {pkgs}",
        "",
    ]
    if chart:
        out += [f"![benchmark ratios]({chart})", ""]
    out += ["### Targets", "",
            "Ratios of cachex[redis] measured in this run. *wall* (calls per second, what "
            "decides MET) and, for reference, *cpu* (client CPU per call, which other load on "
            "the machine barely moves); both >1 when cachex is faster.", "",
            "| target | wall | cpu | status |", "|---|---:|---:|---|"]
    out += [f"| {t} | {r} | {c} | {s} |" for t, r, c, s in targets_lines(report["targets"])]
    for gname, group in report["groups"].items():
        out += ["", f"### {gname}", ""]
        if not group["available"]:
            out += [f"Not available: {group['reason']}"]
            continue
        out += [f"Servers: {group.get('lab', '')}", ""]
        for name, info in group["contenders"].items():
            state = "" if info["available"] else f" — **{info['reason']}**"
            out.append(f"- `{name}`: {info['what']}{state}")
        out += ["", "Median calls per second; in brackets the ratio to "
                f"`{group['baseline']}` (median of per-round ratios).", ""]
        out.append(md_table(*main_table(group)))
        out += ["", "<details><summary>Client CPU µs per call (ratio: the floor's CPU / "
                "this CPU)</summary>", "", md_table(*cpu_table(group)), "", "</details>"]
        for cx in _cachex_names(group):
            header, rows = peers_table(group, cx)
            if len(header) > 1 and rows:
                out += ["", f"`{cx}` against the others (higher is better for cachex):", ""]
                out.append(md_table(header, rows))
    return "\n".join(out) + "\n"


def update_docs(doc: Path, section: str) -> bool:
    """Replace the generated section of ``doc`` (between the markers); False if no markers."""
    if not doc.exists():
        return False
    text = doc.read_text()
    pattern = re.compile(re.escape(DOC_START) + r".*?" + re.escape(DOC_END), re.S)
    if not pattern.search(text):
        return False
    doc.write_text(pattern.sub(lambda _: f"{DOC_START}\n{section}{DOC_END}", text))
    return True


_NUMBER_LIST = re.compile(r"\[\s+((?:-?[0-9.eE+-]+|null),?(?:\s+(?:-?[0-9.eE+-]+|null),?)*)\s+\]")


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Indented for diffs, but lists of numbers on one line (per-round values add up)."""
    text = json.dumps(report, indent=1, sort_keys=False)
    text = _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    path.write_text(text + "\n")


# ------------------------------------------------------------------------------------ chart
def chart(report: dict[str, Any], path: Path) -> str | None:
    """A PNG of the key ratios; returns None (and says why) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib, or the 'bench' extra)"

    fig = plt.figure(figsize=(15, 11), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.1], height_ratios=[1, 1.25])
    _targets_panel(fig.add_subplot(grid[0, 1]), report["targets"])
    _peers_panel(fig.add_subplot(grid[1, 1]), report)
    _raw_panel(fig.add_subplot(grid[:, 0]), report)
    m = report["machine"]
    fig.suptitle(f"cachex benchmarks ({report['mode']}, {report['started'][:16]}) — "
                 f"{m['cpu']}, {m['cores']} cores, {m['python']}, {m['server']}", fontsize=11)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def _targets_panel(ax: Any, targets: list[dict[str, Any]]) -> None:
    labels, values, colors, marks = [], [], [], []
    for t in targets:
        labels.append(t["text"].replace(" >= ", "\n>= "))
        values.append(t["ratio"] or 0.0)
        marks.append(t["threshold"])
        colors.append({"MET": "#3a9c4a", "NOT MET": "#d1495b"}.get(t["status"], "#bbbbbb"))
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, [v if v > 0 else 0.01 for v in values], color=colors)
    cpu = [(y, t["cpu_ratio"]) for y, t in zip(ys, targets, strict=False) if t.get("cpu_ratio")]
    if cpu:
        ax.plot([c for _, c in cpu], [y for y, _ in cpu], "D", color="#333333", ms=4,
                label="client-CPU ratio")
        ax.legend(fontsize=7, loc="lower right")
    for y, mark, v, t in zip(ys, marks, values, targets, strict=False):
        ax.plot([mark, mark], [y - 0.4, y + 0.4], color="black", lw=2)
        ax.text(max(v, mark, 0.011) * 1.1, y, fmt_ratio(t["ratio"]) if t["ratio"] else "n/a",
                va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlim(right=max([*values, *marks, 1.0]) * 2.5)
    ax.set_title("Targets: wall-clock ratio (bar), CPU ratio (◆), target (black tick)",
                 fontsize=10)


def _raw_panel(ax: Any, report: dict[str, Any]) -> None:
    group = report["groups"].get("single")
    if not group or not group["available"]:
        ax.set_axis_off()
        return
    base = group["baseline"]
    names = [n for n in _cachex_names(group)]
    extra = [n for n in _shown(group) if group["contenders"][n]["role"] == "peer"][:3]
    series = names + extra
    work = list(group["workloads"].items())
    ys = list(range(len(work)))[::-1]
    height = 0.8 / max(1, len(series))
    palette = ["#1f77b4", "#6baed6", "#ff7f0e", "#9467bd", "#8c564b"]
    for i, name in enumerate(series):
        vals = [w["ratios"].get(name, {}).get(base) or 0.0 for _, w in work]
        ax.barh([y + (len(series) / 2 - i - 0.5) * height for y in ys], vals, height=height,
                label=name, color=palette[i % len(palette)])
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xlim(0, 2.0)  # a 3x outlier (e.g. 1 MB pipelines) would squash the rest
    ax.set_xlabel("ratio (bars beyond 2.0 are cut off; the JSON has every number)", fontsize=7)
    ax.set_yticks(ys)
    ax.set_yticklabels([w for w, _ in work], fontsize=7)
    ax.set_title(f"Single server: calls/s ÷ {base} (1.0 = the raw driver)", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")


def _peers_panel(ax: Any, report: dict[str, Any]) -> None:
    picks = [("single", "get 100B"), ("single", "set 100B"), ("single", "get_many(100) 100B"),
             ("single", "aget x100 100B"), ("single", "aget_many(100) 100B"),
             ("shards", "get_many(100) 100B"), ("cluster", "get_many(100) 100B"),
             ("cluster", "aget_many(100) 100B")]
    labels, bars = [], []
    for gname, wname in picks:
        group = report["groups"].get(gname)
        if not group or not group["available"] or wname not in group["workloads"]:
            continue
        w = group["workloads"][wname]
        for other, info in group["contenders"].items():
            if info["role"] == "cachex" or other not in w["results"]:
                continue
            if info["role"] == "raw" and other != group["baseline"]:
                continue
            r = w["ratios"].get("cachex[redis]", {}).get(other)
            if r:
                labels.append(f"{gname} {wname} ÷ {other}")
                bars.append(r)
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, bars, color=["#3a9c4a" if b >= 1 else "#d1495b" for b in bars])
    for y, b in zip(ys, bars, strict=False):
        ax.text(b * 1.05, y, fmt_ratio(b), va="center", fontsize=7)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(right=max([*bars, 1.0]) * 2.5)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_title("cachex[redis] ÷ others, same run (>1: cachex faster)", fontsize=10)
