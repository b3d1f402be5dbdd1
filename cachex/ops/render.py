"""Human output for the ``cachex`` commands (``--json`` prints ``Report.as_dict`` instead)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .report import Report


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [("  " + fmt.format(*headers)).rstrip()] + [("  " + fmt.format(*r)).rstrip()
                                                      for r in cells]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "-"
    return str(value)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render(report: Report) -> str:
    d = report.data
    title = f"cachex {report.command} {report.alias!r}"
    if "topology" in d:
        title += f": {d['topology']} ({d.get('driver')}) {d.get('location', '')}"
    lines = [title]
    body = {"status": _status, "ring": _ring, "slots": _slots, "sentinel": _sentinel,
            "stats": _stats, "doctor": _doctor}.get(report.command)
    if report.usage_error:
        lines.append(f"  usage: {report.usage_error}")
    elif body is not None:
        lines += body(d)
    if report.findings:
        lines.append("findings:")
        for f in report.findings:
            lines.append(f"  {f.severity.upper():7} {f.id}  {f.message}")
            if f.fix:
                lines.append(f"          fix: {f.fix}")
    lines.append(f"exit {report.exit_code}")
    return "\n".join(lines)


def _status(d: dict[str, Any]) -> list[str]:
    rows = []
    notes = []
    for n in d.get("nodes", []):
        keys = n.get("keys")
        keys_text = None if keys is None else (f"{keys}" if n.get("keys_exact", True)
                                               else f">={keys}")
        rows.append([n["role"], n["address"], n.get("version"),
                     None if n.get("ping_ms") is None else f"{n['ping_ms']:.2f}ms",
                     n.get("used_memory_human"), n.get("connected_clients"), keys_text,
                     n.get("slots"), n.get("breaker")])
        if n.get("error"):
            notes.append(f"  {n['address']}: {n['error']}")
    out = table(["ROLE", "ADDRESS", "VERSION", "PING", "MEMORY", "CLIENTS",
                 f"KEYS({d.get('key_pattern', '')})", "SLOTS", "BREAKER"], rows)
    if "sentinel" in d:
        s = d["sentinel"]
        out.append(f"  sentinel service {s.get('service')!r}: quorum {s.get('quorum')}, "
                   f"failover in progress: {'yes' if s.get('failover_in_progress') else 'no'}")
    if "slots_served" in d:
        out.append(f"  slots served: {d['slots_served']}/16384")
    return out + notes


def _ring(d: dict[str, Any]) -> list[str]:
    if "nodes" not in d:
        return [f"  {d.get('note', '')}"] if d.get("note") else []
    out = [f"  sample: {d['sample']} keys ({d['synthetic']} synthetic)"]
    rows = [[n["node"], n.get("weight", n.get("slots")), _pct(n["expected_share"]),
             n["sample_keys"], _pct(n["share"]), _pct(n["if_removed_moves"])]
            for n in d["nodes"]]
    weight = "WEIGHT" if d["nodes"] and "weight" in d["nodes"][0] else "SLOTS"
    out += table(["NODE", weight, "EXPECTED", "SAMPLED", "SHARE", "IF REMOVED, MOVES"], rows)
    if "if_added" in d:
        a = d["if_added"]
        out.append(f"  adding {a['node']} (weight {a['weight']}) would move "
                   f"{_pct(a['moves'])} of the keys, all to it")
    if d.get("note"):
        out.append(f"  {d['note']}")
    return out


def _slots(d: dict[str, Any]) -> list[str]:
    if "primaries" not in d:
        return []
    out = [f"  slots served: {d['slots_served']}/16384"]
    out += table(["PRIMARY", "ID", "SLOTS", "RANGES", "REPLICAS", "FLAGS"],
                 [[p["node"], p["id"], p["slots"], p["ranges"], p["replicas"], p["flags"]]
                  for p in d["primaries"]])
    for m in d.get("migrations", []):
        out.append(f"  migrating: slot {m['slot']} {m['from']} -> {m['to']}")
    for m in d.get("importing", []):
        out.append(f"  importing: slot {m['slot']} into {m['into']} from {m['from']}")
    if not d.get("migrations") and not d.get("importing"):
        out.append("  no slot migration in progress")
    return out


def _sentinel(d: dict[str, Any]) -> list[str]:
    if "service" not in d:
        return []
    out = [f"  service {d['service']!r}: primary {_cell(d.get('primary'))}, quorum "
           f"{d.get('quorum')}, failover in progress: "
           f"{'yes' if d.get('failover_in_progress') else 'no'}"]
    out += table(["SENTINEL", "REACHABLE", "PRIMARY", "FLAGS", "OTHER SENTINELS"],
                 [[s["address"], "yes" if s["reachable"] else "no", s.get("primary"),
                   s.get("flags"), s.get("other_sentinels")] for s in d.get("sentinels", [])])
    out += table(["REPLICA", "FLAGS", "LINK"],
                 [[r["address"], r["flags"], r.get("link")] for r in d.get("replicas", [])])
    return out


def _stats(d: dict[str, Any]) -> list[str]:
    out = ["  policy counters (this process):"]
    out += [f"    {k}: {v}" for k, v in d.get("policy", {}).items()]
    circuits = d.get("circuits") or {}
    out.append("  circuits: " + (", ".join(f"{k} {v}" for k, v in circuits.items())
                                 or "all closed"))
    ops = d.get("operations")
    if ops:
        out.append(f"  metrics (this process): hits {ops.get('hits', 0)}, "
                   f"misses {ops.get('misses', 0)}")
        for section in ("operations", "errors", "failovers"):
            rows = ops.get(section) or {}
            if rows:
                out.append(f"    {section}:")
                out += [f"      {k}: {v}" for k, v in rows.items()]
    return out


def _doctor(d: dict[str, Any]) -> list[str]:
    rows = [[n["role"], n["address"], "yes" if n["reachable"] else "no",
             None if n.get("ping_ms") is None else f"{n['ping_ms']:.2f}ms", n.get("version")]
            for n in d.get("nodes", [])]
    return table(["ROLE", "ADDRESS", "REACHABLE", "PING", "VERSION"], rows) if rows else []
