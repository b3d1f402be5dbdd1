"""Find every node of a target and look at each: the live part of ``status`` and ``doctor``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..config import Endpoint, Settings
from .catalogue import severity
from .clusterinfo import ClusterNode, coverage, parse_nodes, ranges_text
from .nodes import NodeInfo, client_for, close, describe_error, probe
from .report import Finding
from .target import Target

DEFAULT_TIMEOUT = 1.0


def finding(check_id: str, message: str, fix: str, node: str | None = None) -> Finding:
    return Finding(check_id, severity(check_id), message, fix, node)


@dataclass
class View:
    """A target's nodes as seen now, plus topology-specific facts."""

    topology: str
    nodes: list[NodeInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    cluster: list[ClusterNode] | None = None
    sentinel: dict[str, Any] | None = None


def alias_states(target: Target) -> list[Any]:
    """This process's alias states for the target: same alias name or same connection
    settings (``python -m cachex --location`` inside a shell that built the cache)."""
    from ..backends import shared

    key = target.settings.registry_key if target.settings is not None else None
    return [s for s in list(shared._states.values())
            if s.alias == target.alias or s.settings.registry_key == key]


def breaker_states(target: Target) -> dict[Any, str]:
    """Circuit states of the target's nodes in this process ({} when it served nothing)."""
    out: dict[Any, str] = {}
    for state in alias_states(target):
        breaker = state.router.breaker
        if breaker is None:
            continue
        for node in list(breaker.suspects):
            out[node] = breaker.state(node)
    return out


def raw_command(target: Target, client: Any, *args: Any) -> Any:
    """A command's reply as the server sent it (the driver's reply callbacks skipped)."""
    driver = target.driver
    pool = client.connection_pool
    conn = driver.checkout(pool)
    try:
        conn.send_command(*args)
        return conn.read_response()
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


def look(target: Target, *, timeout: float = DEFAULT_TIMEOUT, count_keys: bool = True) -> View:
    settings = target.settings
    assert settings is not None
    pattern = target.key_pattern if count_keys else None
    view = View(settings.topology)
    if settings.topology == "cluster":
        _look_cluster(target, settings, view, timeout, pattern)
    elif settings.topology == "sentinel":
        _look_sentinel(target, settings, view, timeout, pattern)
    else:
        roles = {"single": "primary", "sharded": "shard", "replicated": "replica"}
        for i, ep in enumerate(settings.endpoints):
            role = "primary" if settings.topology == "replicated" and i == 0 \
                else roles[settings.topology]
            info = probe(target.driver, ep, settings.pool, role, timeout=timeout,
                         key_pattern=pattern)
            info.extra["node"] = ep.identity
            view.nodes.append(info)
    _apply_breakers(target, view)
    _node_findings(view)
    return view


def _apply_breakers(target: Target, view: View) -> None:
    states = breaker_states(target)
    for info in view.nodes:
        key: Any = info.extra.get("node", info.address)
        if view.topology == "sentinel" and info.role in ("primary", "replica"):
            key = info.role
        info.breaker = states.get(key, "closed") if info.role != "sentinel" else None


def _node_findings(view: View) -> None:
    for info in view.nodes:
        if not info.reachable:
            holds_data = info.role in ("primary", "shard") and info.extra.get("slots") != 0
            if holds_data:  # (a Cluster primary without slots, e.g. one failed over, does not)
                view.findings.append(finding(
                    "cachex.E010", f"{info.role} {info.address} is unreachable ({info.error})",
                    "Start the node or fix its address/credentials in LOCATION; until then "
                    "its keys fail (or fail open / reroute, per OPTIONS['failover']).",
                    info.address))
            else:
                view.findings.append(finding(
                    "cachex.W010", f"{info.role} {info.address} is unreachable ({info.error})",
                    "Restart it; the cache still works, with less redundancy.", info.address))
        if info.breaker in ("open", "half_open"):
            view.findings.append(finding(
                "cachex.W011", f"circuit for {info.address} is {info.breaker} in this process",
                "It closes by itself once the node answers a probe (after the cooldown).",
                info.address))
        if info.extra.get("link") == "down" and info.role != "sentinel":
            view.findings.append(finding(
                "cachex.W018", f"replica {info.address} has lost its link to the primary",
                "Check the primary's reachability from the replica and its replication "
                "settings (masterauth).", info.address))


# ------------------------------------------------------------------------------ Cluster
def cluster_nodes(target: Target, settings: Settings, timeout: float
                  ) -> tuple[list[ClusterNode] | None, list[str]]:
    """CLUSTER NODES from the first seed that answers; the errors of those that did not."""
    errors: list[str] = []
    for seed in settings.endpoints:
        client = client_for(target.driver, seed, settings.pool, timeout)
        try:
            raw = raw_command(target, client, "CLUSTER", "NODES")
        except (target.driver.base_error, OSError) as exc:
            errors.append(f"{seed.address}: {describe_error(exc)}")
            continue
        finally:
            close(client)
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        nodes = parse_nodes(text)
        _own_migrations(target, settings, nodes, timeout)
        return nodes, errors
    return None, errors


def _own_migrations(target: Target, settings: Settings, nodes: list[ClusterNode],
                    timeout: float) -> None:
    """A node lists only its own slots in migration (on its ``myself`` line): ask each
    primary, so that every migration and import in progress is known."""
    seed = settings.endpoints[0]
    for node in nodes:
        if not node.is_primary or node.failing:
            continue
        client = client_for(target.driver, endpoint_at(seed, node.address), settings.pool,
                            timeout)
        try:
            raw = raw_command(target, client, "CLUSTER", "NODES")
        except (target.driver.base_error, OSError):
            continue
        finally:
            close(client)
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        for entry in parse_nodes(text):
            if "myself" in entry.flags and entry.id == node.id:
                node.migrating.update(entry.migrating)
                node.importing.update(entry.importing)


def endpoint_at(seed: Endpoint, address: str) -> Endpoint:
    host, _, port = address.rpartition(":")
    return Endpoint(host.strip("[]"), int(port), 0, None, seed.username, seed.password,
                    seed.tls)


def _look_cluster(target: Target, settings: Settings, view: View, timeout: float,
                  pattern: str | None) -> None:
    nodes, errors = cluster_nodes(target, settings, timeout)
    if nodes is None:
        for seed in settings.endpoints:
            view.nodes.append(NodeInfo(seed.address, "primary", error="; ".join(errors)))
        return
    view.cluster = nodes
    seed = settings.endpoints[0]
    for node in sorted(nodes, key=lambda n: (not n.is_primary, n.address)):
        role = "primary" if node.is_primary else "replica"
        info = probe(target.driver, endpoint_at(seed, node.address), settings.pool, role,
                     timeout=timeout, key_pattern=pattern if node.is_primary else None)
        info.extra.update(node=node.address, id=node.id[:8], flags=list(node.flags),
                          slots=node.slot_count)
        if not node.is_primary and node.primary_id:
            info.extra["replica_of"] = node.primary_id[:8]
        view.nodes.append(info)
    served, gaps = coverage(nodes)
    if gaps:
        view.findings.append(finding(
            "cachex.E011", f"{16384 - served} slots have no healthy primary "
            f"({ranges_text(gaps)[:120]})",
            "Wait for the replicas' failover, or assign the slots "
            "(redis-cli --cluster fix)."))
    for node in nodes:
        for slot, dest in sorted(node.migrating.items()):
            other = next((n.address for n in nodes if n.id == dest), dest[:8])
            view.findings.append(finding(
                "cachex.W012", f"slot {slot} migrating from {node.address} to {other}",
                "Let the resharding finish (redis-cli --cluster fix if it was interrupted); "
                "cachex follows ASK/MOVED meanwhile.", node.address))


# ------------------------------------------------------------------------------ Sentinel
def sentinel_endpoint(settings: Settings, ep: Endpoint) -> Endpoint:
    return Endpoint(ep.host, ep.port, 0, None, settings.sentinel_username,
                    settings.sentinel_password, ep.tls)


def ask_sentinels(target: Target, settings: Settings, timeout: float) -> list[dict[str, Any]]:
    """Each sentinel's view of the service: primary, flags, quorum, replicas, sentinels."""
    pool = settings.pool
    if settings.sentinel_socket_timeout is not None:
        pool = replace(pool, socket_timeout=settings.sentinel_socket_timeout)
    out: list[dict[str, Any]] = []
    for ep in settings.endpoints:
        answer: dict[str, Any] = {"address": ep.address, "reachable": False}
        client = client_for(target.driver, sentinel_endpoint(settings, ep), pool, timeout)
        try:
            master = client.sentinel_master(settings.service)
            flags = _flags(master.get("flags"))
            answer.update(reachable=True, primary=f"{master['ip']}:{master['port']}",
                          flags=flags, quorum=int(master.get("quorum", 0)),
                          other_sentinels=int(master.get("num-other-sentinels", 0)),
                          failover="failover_in_progress" in flags,
                          down="s_down" in flags or "o_down" in flags)
            replicas = client.sentinel_slaves(settings.service)
            answer["replicas"] = [
                {"address": f"{r['ip']}:{r['port']}", "flags": _flags(r.get("flags")),
                 "link": r.get("master-link-status")} for r in replicas]
        except (target.driver.base_error, OSError, KeyError) as exc:
            answer["error"] = describe_error(exc)
        finally:
            close(client)
        out.append(answer)
    return out


def _look_sentinel(target: Target, settings: Settings, view: View, timeout: float,
                   pattern: str | None) -> None:
    answers = ask_sentinels(target, settings, timeout)
    for answer in answers:
        ep = next(e for e in settings.endpoints if e.address == answer["address"])
        info = probe(target.driver, sentinel_endpoint(settings, ep), settings.pool, "sentinel",
                     timeout=timeout, key_pattern=None)
        if not answer["reachable"] and info.reachable:
            info.error = answer.get("error")
        view.nodes.append(info)
    view.sentinel = judge_sentinels(view, settings.service or "", answers)
    named = [a for a in answers if a["reachable"]]
    if not named:
        return
    primaries = sorted({a["primary"] for a in named})
    data_ep = settings.endpoints[0]
    # the primary most sentinels name, then the replicas the sentinels list
    primary = max(primaries, key=lambda p: sum(a["primary"] == p for a in named))
    seen = {primary}
    info = probe(target.driver, _with_db(endpoint_at(data_ep, primary), data_ep.db),
                 settings.pool, "primary", timeout=timeout, key_pattern=pattern)
    view.nodes.insert(0, info)
    replicas = [r for a in named for r in a.get("replicas", [])]
    for i, rep in enumerate(replicas):
        if rep["address"] in seen:
            continue
        seen.add(rep["address"])
        info = probe(target.driver, _with_db(endpoint_at(data_ep, rep["address"]), data_ep.db),
                     settings.pool, "replica", timeout=timeout, key_pattern=None)
        info.extra["flags"] = rep["flags"]
        view.nodes.insert(1 + i, info)


def _flags(raw: Any) -> list[str]:
    """Sentinel flags as a sorted list (drivers give a comma-separated string or a set)."""
    if isinstance(raw, bytes):
        raw = raw.decode()
    if isinstance(raw, str):
        return sorted(f for f in raw.split(",") if f)
    return sorted(map(str, raw or ()))


def _with_db(ep: Endpoint, db: int) -> Endpoint:
    return Endpoint(ep.host, ep.port, db, None, ep.username, ep.password, ep.tls)


def judge_sentinels(view: View, service: str, answers: list[dict[str, Any]]
                     ) -> dict[str, Any]:
    named = [a for a in answers if a["reachable"]]
    primaries = sorted({a["primary"] for a in named})
    quorum = max((a["quorum"] for a in named), default=0)
    failover = any(a["failover"] for a in named)
    replicas: dict[str, dict[str, Any]] = {}
    for a in named:
        for r in a.get("replicas", []):
            replicas.setdefault(r["address"], r)
    if not named:
        view.findings.append(finding(
            "cachex.E012", f"no sentinel answered for service {service!r}",
            "Check the sentinel addresses in LOCATION and OPTIONS['sentinel'] credentials."))
    else:
        if failover:
            view.findings.append(finding(
                "cachex.W013", f"a failover of {service!r} is in progress",
                "Wait for it to finish; writes may fail for a moment (retries cover it)."))
        if len(primaries) > 1 or len(named) < len(answers) or len(named) < quorum:
            view.findings.append(finding(
                "cachex.W014", f"{len(named)} of {len(answers)} sentinels answered "
                f"(quorum {quorum}); primaries named: {', '.join(primaries)}",
                "Bring the sentinels back and check they monitor the same primary."))
        if any(a["down"] for a in named) and not failover:
            view.findings.append(finding(
                "cachex.E012", "sentinels see the primary as down",
                "Wait for the failover, or check the primary."))
        for r in replicas.values():
            if "s_down" in r["flags"] or "o_down" in r["flags"]:
                view.findings.append(finding(
                    "cachex.W010", f"replica {r['address']} is down ({','.join(r['flags'])})",
                    "Restart it; the cache works, with less redundancy.", r["address"]))
    return {"service": service, "quorum": quorum, "primary": primaries[0] if len(primaries) == 1
            else primaries, "failover_in_progress": failover,
            "replicas": list(replicas.values()),
            "sentinels": [{k: v for k, v in a.items() if k != "replicas"} for a in answers]}
