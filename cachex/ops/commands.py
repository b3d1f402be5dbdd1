"""The ``cachex`` commands, each a function ``Target -> Report`` (rendering is elsewhere)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from .. import stats as stats_mod
from ..config import Endpoint, Settings
from ..redact import mask_location
from ..routing import Ring, RingNode, key_slot
from . import discover
from .clusterinfo import coverage, ranges_text
from .discover import View, breaker_states, finding, look
from .nodes import client_for, close, sample_keys
from .report import Finding, Report
from .target import Target

DEFAULT_SAMPLE = 10_000


def location_text(target: Target) -> str:
    """LOCATION fit for printing: credentials replaced by ``***`` (cachex.redact)."""
    loc = target.location
    items = [loc] if isinstance(loc, str) else list(loc or [])
    return ", ".join(mask_location(x) if isinstance(x, str) else "?" for x in items)


def _start(command: str, target: Target) -> Report:
    report = Report(command, target.alias)
    report.data.update(location=location_text(target), driver=target.driver_name)
    if target.settings is not None:
        report.data["topology"] = target.settings.topology
    return report


def _config_error(report: Report, target: Target) -> Report:
    report.findings.append(discover.finding(
        "cachex.E001", target.error or "invalid configuration",
        "Fix CACHES (the message says what is accepted)."))
    return report


def _start_for(command: str, target: Target, topology: str,
               what: str) -> tuple[Report, Settings | None]:
    """The report of a command for one topology only, and the settings to run it on; None
    when the report is already complete (LOCATION does not parse, or another topology)."""
    report = _start(command, target)
    settings = target.settings
    if settings is None:
        return _config_error(report, target), None
    if settings.topology != topology:
        report.usage_error = (f"{command!r} needs {what}; {target.alias!r} is "
                              f"{settings.topology}")
        return report, None
    return report, settings


# -------------------------------------------------------------------------------- status
def status(target: Target, *, timeout: float = discover.DEFAULT_TIMEOUT) -> Report:
    report = _start("status", target)
    if target.settings is None:
        return _config_error(report, target)
    view = look(target, timeout=timeout)
    report.data["key_pattern"] = target.key_pattern
    report.data["nodes"] = [n.as_dict() for n in view.nodes]
    if view.sentinel is not None:
        report.data["sentinel"] = {k: v for k, v in view.sentinel.items() if k != "sentinels"}
    if view.cluster is not None:
        served, _ = coverage(view.cluster)
        report.data["slots_served"] = served
    report.findings += view.findings
    return report


# -------------------------------------------------------------------------------- ring
def ring(target: Target, *, sample: int = DEFAULT_SAMPLE, add: str | None = None,
         timeout: float = discover.DEFAULT_TIMEOUT) -> Report:
    """How keys spread over the nodes, from a sample, and what a node change would move."""
    report = _start("ring", target)
    settings = target.settings
    if settings is None:
        return _config_error(report, target)
    if settings.topology == "cluster":
        return _cluster_ring(report, target, sample, timeout)
    if settings.topology != "sharded":
        report.data["note"] = (f"the {settings.topology} topology keeps every key on one "
                               "primary: there is no ring")
        return report
    eps = {e.identity: e for e in settings.endpoints}
    the_ring = Ring([RingNode(e.identity, e.weight) for e in settings.endpoints])
    found: dict[str, list[str]] = {}
    for ident, ep in eps.items():
        found[ident] = _sample_on(target, ep, sample // max(1, len(eps)), timeout)
    keys = [k for ks in found.values() for k in ks]
    synthetic = 0
    if len(keys) < min(sample, 1000):  # too few real keys for a spread: add made-up ones
        synthetic = sample - len(keys)
        keys += [f"{target.key_prefix}:{target.version}:cachex-ring-sample-{i}"
                 for i in range(synthetic)]
    placed = Counter(the_ring.node_for(k) for k in keys)
    total_weight = sum(e.weight for e in settings.endpoints)
    misplaced = {n: sum(the_ring.node_for(k) != n for k in ks) for n, ks in found.items()}
    nodes = []
    for ident, ep in eps.items():
        rest = the_ring.without([ident])
        nodes.append({
            "node": ident, "weight": ep.weight,
            "expected_share": round(ep.weight / total_weight, 4),
            "sample_keys": placed[ident],
            "share": round(placed[ident] / len(keys), 4) if keys else 0.0,
            "keys_found": len(found[ident]), "misplaced": misplaced[ident],
            "if_removed_moves": round(placed[ident] / len(keys), 4) if keys else 0.0,
            "if_removed_goes_to": dict(Counter(rest.node_for(k) for k in keys
                                               if the_ring.node_for(k) == ident))
            if rest is not None else {},
        })
        if misplaced[ident]:
            report.findings.append(finding(
                "cachex.W017", f"{misplaced[ident]} sampled keys on {ident} belong to another "
                "node by the ring (LOCATION or weights changed?)",
                "They are unreachable for cachex and expire by themselves; clear them if "
                "memory matters.", ident))
    new_name = add or "new-node:6379"
    bigger = Ring([RingNode(e.identity, e.weight) for e in settings.endpoints]
                  + [RingNode(new_name, 1)])
    moved = sum(bigger.node_for(k) == new_name for k in keys)
    report.data.update(sample=len(keys), synthetic=synthetic, nodes=nodes,
                       if_added={"node": new_name, "weight": 1,
                                 "moves": round(moved / len(keys), 4) if keys else 0.0})
    return report


def _sample_on(target: Target, ep: Endpoint, limit: int, timeout: float) -> list[str]:
    assert target.settings is not None
    client = client_for(target.driver, ep, target.settings.pool, timeout)
    try:
        return sample_keys(client, target.key_pattern, limit)
    except (target.driver.base_error, OSError):
        return []
    finally:
        close(client)


def _cluster_ring(report: Report, target: Target, sample: int, timeout: float) -> Report:
    assert target.settings is not None
    nodes, errors = discover.cluster_nodes(target, target.settings, timeout)
    if nodes is None:
        report.findings.append(finding("cachex.E010", "no cluster node answered: "
                                       + "; ".join(errors), "Check LOCATION's seed nodes."))
        return report
    owner: list[str | None] = [None] * 16384
    for node in nodes:
        if node.is_primary:
            for a, b in node.slots:
                for s in range(a, b + 1):
                    owner[s] = node.address
    keys: list[str] = []
    seed = target.settings.endpoints[0]
    primaries = [n for n in nodes if n.is_primary and n.slots]
    for node in primaries:
        keys += _sample_on(target, discover.endpoint_at(seed, node.address),
                           sample // max(1, len(primaries)), timeout)
    synthetic = 0
    if len(keys) < min(sample, 1000):
        synthetic = sample - len(keys)
        keys += [f"{target.key_prefix}:{target.version}:cachex-ring-sample-{i}"
                 for i in range(synthetic)]
    placed = Counter(owner[key_slot(k)] for k in keys)
    report.data.update(sample=len(keys), synthetic=synthetic, nodes=[
        {"node": n.address, "slots": n.slot_count, "expected_share": round(n.slot_count / 16384, 4),
         "sample_keys": placed[n.address],
         "share": round(placed[n.address] / len(keys), 4) if keys else 0.0,
         "if_removed_moves": round(placed[n.address] / len(keys), 4) if keys else 0.0}
        for n in primaries],
        note="a Cluster moves keys only when slots are resharded: adding a primary moves "
             "nothing until slots are assigned to it (redis-cli --cluster rebalance); "
             "removing one needs its slots moved first")
    return report


# -------------------------------------------------------------------------------- slots
def slots(target: Target, *, timeout: float = discover.DEFAULT_TIMEOUT) -> Report:
    report, settings = _start_for("slots", target, "cluster", "a Cluster")
    if settings is None:
        return report
    nodes, errors = discover.cluster_nodes(target, settings, timeout)
    if nodes is None:
        report.findings.append(finding("cachex.E010", "no cluster node answered: "
                                       + "; ".join(errors), "Check LOCATION's seed nodes."))
        return report
    served, gaps = coverage(nodes)
    by_id = {n.id: n.address for n in nodes}
    report.data.update(
        slots_served=served, uncovered=[list(g) for g in gaps],
        primaries=[{"node": n.address, "id": n.id[:8], "slots": n.slot_count,
                    "ranges": ranges_text(n.slots), "flags": list(n.flags),
                    "replicas": [r.address for r in nodes if r.primary_id == n.id]}
                   for n in sorted(nodes, key=lambda n: n.address) if n.is_primary],
        migrations=[{"slot": slot, "from": n.address, "to": by_id.get(dest, dest[:8])}
                    for n in nodes for slot, dest in sorted(n.migrating.items())],
        importing=[{"slot": slot, "into": n.address, "from": by_id.get(src, src[:8])}
                   for n in nodes for slot, src in sorted(n.importing.items())],
        failing=[n.address for n in nodes if n.failing])
    if gaps:
        report.findings.append(finding(
            "cachex.E011", f"{16384 - served} slots have no healthy primary "
            f"({ranges_text(gaps)[:120]})",
            "Wait for the replicas' failover, or assign the slots (redis-cli --cluster fix)."))
    for m in report.data["migrations"]:
        report.findings.append(finding(
            "cachex.W012", f"slot {m['slot']} migrating from {m['from']} to {m['to']}",
            "Let the resharding finish (redis-cli --cluster fix if it was interrupted); "
            "cachex follows ASK/MOVED meanwhile.", m["from"]))
    return report


# -------------------------------------------------------------------------------- sentinel
def sentinel(target: Target, *, timeout: float = discover.DEFAULT_TIMEOUT) -> Report:
    report, settings = _start_for("sentinel", target, "sentinel", "a Sentinel topology")
    if settings is None:
        return report
    view = View("sentinel")
    answers = discover.ask_sentinels(target, settings, timeout)
    view_data = discover.judge_sentinels(view, settings.service or "", answers)
    report.data.update(view_data)
    report.findings += view.findings
    return report


# -------------------------------------------------------------------------------- stats
def stats(target: Target) -> Report:
    """This process's counters for the alias: policy events, circuits, metrics if on."""
    report = _start("stats", target)
    states = discover.alias_states(target)
    policy = stats_mod.snapshot(target.alias)
    for stats_obj in {id(s.router.stats): s.router.stats for s in states}.values():
        if stats_obj.alias != target.alias:  # counted by snapshot(alias) otherwise
            for event, n in stats_obj.snapshot().items():
                policy[event] = policy.get(event, 0) + n
    report.data["policy"] = policy
    circuits = {str(k): v for k, v in breaker_states(target).items()}
    report.data["circuits"] = circuits
    local = [s.router.local.snapshot() for s in states if hasattr(s.router, "local")]
    if local:
        report.data["operations"] = local[0]
    nears = {id(s.near): s.near for s in states
             if getattr(s, "near", None) is not None and not s.near.closed}
    if nears:  # OPTIONS["near_cache"], summed over this process's aliases on these servers
        total: dict[str, int] = {}
        for near in nears.values():
            for name, n in near.stats().items():
                total[name] = total.get(name, 0) + n
        report.data["near_cache"] = total
    for node, state in circuits.items():
        if state != "closed":
            report.findings.append(finding(
                "cachex.W011", f"circuit for {node} is {state} in this process",
                "It closes by itself once the node answers a probe (after the cooldown).",
                node))
    return report


# -------------------------------------------------------------------------------- doctor
def doctor(target: Target, *, timeout: float = discover.DEFAULT_TIMEOUT,
           others: list[Target] | None = None) -> Report:
    """Every offline check and every live probe, each finding with its fix."""
    from ..checks import offline_findings

    report = _start("doctor", target)
    report.findings += offline_findings(target, others or [])
    if target.settings is None:
        return report
    view = look(target, timeout=timeout, count_keys=False)
    report.findings += view.findings
    report.data["nodes"] = [{"address": n.address, "role": n.role, "reachable": n.reachable,
                             "ping_ms": n.ping_ms, "version": n.version} for n in view.nodes]
    for node in view.nodes:
        if not node.reachable or node.role in ("sentinel", "replica"):
            continue
        if node.maxmemory_policy == "noeviction":
            report.findings.append(finding(
                "cachex.W015", f"{node.address} has maxmemory-policy noeviction",
                "Use allkeys-lru or allkeys-lfu for a cache: "
                "CONFIG SET maxmemory-policy allkeys-lru (and in redis.conf).", node.address))
        if node.maxmemory == 0:
            report.findings.append(finding(
                "cachex.W016", f"{node.address} has no maxmemory limit",
                "Set maxmemory (e.g. CONFIG SET maxmemory 2gb) so eviction, not the OOM "
                "killer, bounds the cache.", node.address))
    return report


COMMANDS: dict[str, Callable[..., Report]] = {
    "status": status, "ring": ring, "slots": slots, "sentinel": sentinel, "stats": stats,
    "doctor": doctor,
}


def all_findings(reports: list[Report]) -> list[Finding]:
    return [f for r in reports for f in r.findings]
