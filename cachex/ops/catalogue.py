"""Every finding id cachex reports, with its severity, in one place.

The ids are stable: scripts may silence or alert on them (``SILENCED_SYSTEM_CHECKS`` for the
offline ones). docs/operations.md lists each one; a test keeps the two in step.
"""

from __future__ import annotations

# id -> (severity, title). E: cannot work; W: risky or degraded; I: for information.
CATALOGUE: dict[str, tuple[str, str]] = {
    # offline: LOCATION/OPTIONS only (manage.py check)
    "cachex.E001": ("error", "LOCATION or OPTIONS do not parse"),
    "cachex.E002": ("error", "an optional library the OPTIONS need is not installed"),
    "cachex.E003": ("error", "OPTIONS['metrics'] is invalid"),
    "cachex.W001": ("warning", "no socket timeout: a hung node blocks requests forever"),
    "cachex.W002": ("warning", "pickle on a shared (non-loopback) server without signing"),
    "cachex.W003": ("warning", "fail_open with the 'cachex' logger silenced"),
    "cachex.W004": ("warning", "read_from_replicas without wait_replicas: stale reads"),
    "cachex.W005": ("warning", "near cache or stampede protection without bounds"),
    "cachex.W006": ("warning", "MAX_ENTRIES/CULL_FREQUENCY set: Redis ignores them"),
    "cachex.W007": ("warning", "two aliases share a server, db and key prefix"),
    "cachex.W008": ("warning", "retries without a deadline and a long socket timeout"),
    # live: --deploy, status, doctor
    "cachex.E010": ("error", "a node holding data is unreachable"),
    "cachex.E011": ("error", "Cluster slots not served by any healthy primary"),
    "cachex.E012": ("error", "no sentinel names a usable primary"),
    "cachex.W010": ("warning", "a replica or sentinel is unreachable"),
    "cachex.W011": ("warning", "a node's circuit breaker is open in this process"),
    "cachex.W012": ("warning", "Cluster slot migration in progress"),
    "cachex.W013": ("warning", "Sentinel failover in progress"),
    "cachex.W014": ("warning", "sentinels disagree, or fewer are reachable than the quorum"),
    "cachex.W015": ("warning", "maxmemory-policy noeviction: writes fail when memory is full"),
    "cachex.W016": ("warning", "no maxmemory: the cache grows until the host runs out"),
    "cachex.W017": ("warning", "keys found on a shard the ring does not place them on"),
    "cachex.W018": ("warning", "a replica's link to its primary is down"),
}


def severity(check_id: str) -> str:
    return CATALOGUE[check_id][0]
