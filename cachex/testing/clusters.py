"""A Redis/Valkey Cluster on loopback, with the faults cluster clients must survive.

The cluster is wired with plain cluster commands (SET-CONFIG-EPOCH, ADDSLOTS, MEET, REPLICATE)
rather than ``redis-cli --cluster create``: no fixed one-second sleeps, no dependency on the cli,
and a known layout (node ``i`` of the replicas follows primary ``i % primaries``). Roles are never
remembered, always asked from the nodes, since failovers change them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster

from cachex.testing.errors import LabError
from cachex.testing.lab import Lab
from cachex.testing.node import Server

__all__ = ["SLOTS", "Cluster", "SlotMigration", "cluster"]

SLOTS = 16384
NODE_TIMEOUT_MS = 2000
_POLL = 0.05
_BAD_FLAGS = frozenset({"fail", "fail?", "handshake", "noaddr"})


@dataclass(frozen=True)
class NodeEntry:
    """One line of ``CLUSTER NODES``: a node as some node sees it."""

    id: str
    port: int
    flags: frozenset[str]
    master_id: str | None
    config_epoch: int
    slots: tuple[tuple[int, int], ...]

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    def owns(self, slot: int) -> bool:
        return any(lo <= slot <= hi for lo, hi in self.slots)

    def key(self) -> tuple[object, ...]:
        """What every node must agree on (flags aside: each node has its own ``myself``)."""
        return (self.id, self.port, self.is_primary, self.master_id, self.config_epoch, self.slots)


def parse_cluster_nodes(text: str) -> dict[str, NodeEntry]:
    """Parse a ``CLUSTER NODES`` reply into entries keyed by node id."""
    entries: dict[str, NodeEntry] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        node_id, address, flags, master = fields[:4]
        port = int(address.split("@", 1)[0].rsplit(":", 1)[1] or 0)
        slots: list[tuple[int, int]] = []
        for item in fields[8:]:
            if item.startswith("["):  # "[slot->-id]" / "[slot-<-id]": an open migration
                continue
            lo, _, hi = item.partition("-")
            slots.append((int(lo), int(hi or lo)))
        entries[node_id] = NodeEntry(
            id=node_id,
            port=port,
            flags=frozenset(flags.split(",")),
            master_id=None if master == "-" else master,
            config_epoch=int(fields[6]),
            slots=tuple(sorted(slots)),
        )
    return entries


def parse_info(text: str) -> dict[str, str]:
    """Parse a ``CLUSTER INFO`` reply (``key:value`` lines)."""
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


class Cluster:
    """A running cluster. Node objects are stable; their roles are asked live."""

    nodes: list[Server]

    def __init__(self, nodes: list[Server]) -> None:
        self.nodes = nodes

    def __repr__(self) -> str:
        return f"<Cluster {len(self.nodes)} nodes {self.url}>"

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...`` listing every node."""
        return "redis+cluster://" + ",".join(node.address for node in self.nodes)

    @property
    def startup_nodes(self) -> list[str]:
        """``host:port`` of every node, for clients that take a list."""
        return [node.address for node in self.nodes]

    def client(self, **kwargs: Any) -> RedisCluster:
        """A fresh ``redis.RedisCluster`` seeded with every node (socket_timeout default 5)."""
        options: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}
        options.update(kwargs)
        seeds = [ClusterNode(node.host, node.port) for node in self.nodes]
        return RedisCluster(startup_nodes=seeds, **options)

    def view(self, via: Server | None = None) -> dict[str, NodeEntry]:
        """The cluster as ``via`` (default: the first node that answers) sees it now."""
        if via is not None:
            return parse_cluster_nodes(via.execute("CLUSTER", "NODES"))
        errors = []
        for node in self._reachable():
            try:
                return parse_cluster_nodes(node.execute("CLUSTER", "NODES"))
            except redis.RedisError as exc:
                errors.append(f"{node.name}: {exc}")
        raise LabError(f"no cluster node answers: {'; '.join(errors) or 'none running'}")

    def node_id(self, node: Server) -> str:
        """The cluster node id of ``node``."""
        return str(node.execute("CLUSTER", "MYID"))

    def primaries(self) -> list[Server]:
        """Nodes that are primaries now (not failed), in ``nodes`` order."""
        return self._with_role(primary=True)

    def replicas(self) -> list[Server]:
        """Nodes that are replicas now (not failed), in ``nodes`` order."""
        return self._with_role(primary=False)

    def replicas_of(self, primary: Server) -> list[Server]:
        """Current replicas of ``primary``."""
        view = self.view()
        primary_id = self._id_in(view, primary)
        ports = {e.port for e in view.values() if e.master_id == primary_id and not e.is_primary}
        return [node for node in self.nodes if node.port in ports]

    def slot_owner(self, slot: int) -> Server:
        """The primary serving ``slot`` now."""
        _check_slot(slot)
        for entry in self.view().values():
            if entry.is_primary and entry.owns(slot) and "fail" not in entry.flags:
                return self._node_at(entry.port)
        raise LabError(f"no primary owns slot {slot}")

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until every running node says cluster_state:ok, all 16384 slots are served,
        all nodes agree on the configuration (members, roles, slots, epochs) and every replica's
        link is up. Paused and stopped nodes are left out of the check.
        """
        self._wait_until(self._not_ready, time.monotonic() + timeout, "cluster not ready")

    def failover(self, primary: Server, timeout: float = 30, *, force: bool = False) -> Server:
        """``CLUSTER FAILOVER`` on a replica of ``primary``; returns it once every node sees it
        as the primary and the cluster is ready again. ``force`` (``CLUSTER FAILOVER FORCE``)
        does not need the old primary's agreement, for a paused or dead primary.
        """
        deadline = time.monotonic() + timeout
        candidates = [n for n in self.replicas_of(primary) if n.is_running() and not n.paused]
        if not candidates:
            raise LabError(f"{primary.name} has no running replica to fail over to")
        chosen = candidates[0]
        chosen_id = self.node_id(chosen)
        chosen.execute("CLUSTER", "FAILOVER", *(["FORCE"] if force else []))
        self._wait_until(
            lambda: self._promotion_problem(chosen, chosen_id),
            deadline,
            f"failover to {chosen.name} not done",
        )
        self.wait_ready(max(deadline - time.monotonic(), 1.0))
        return chosen

    def wait_for_new_primary(self, old: Server, timeout: float = 60) -> Server:
        """After ``old`` (a primary) was killed or paused: wait for the cluster's own failover
        (node timeout 2 s); returns the node now serving ``old``'s slots, once the cluster is
        ready again. Call it before the failover completes: it reads ``old``'s slots first.
        """
        deadline = time.monotonic() + timeout
        entry = next((e for e in self.view().values() if e.port == old.port), None)
        if entry is None or not entry.is_primary or not entry.slots:
            raise LabError(f"{old.name} is not a primary serving slots (any more)")
        slot = entry.slots[0][0]
        found: list[Server] = []

        def problem() -> str | None:
            owners: set[int] = set()
            for node in self._reachable():
                for seen in self.view(node).values():
                    if seen.is_primary and seen.owns(slot) and "fail" not in seen.flags:
                        owners.add(seen.port)
            if len(owners) != 1 or old.port in owners:
                return f"slot {slot} is served by {sorted(owners) or 'nobody'}"
            found[:] = [self._node_at(owners.pop())]
            return None

        self._wait_until(problem, deadline, f"no new primary replaced {old.name}")
        self.wait_ready(max(deadline - time.monotonic(), 1.0))
        return found[0]

    def begin_slot_migration(self, slot: int, target: Server) -> SlotMigration:
        """Mark ``slot`` IMPORTING on ``target`` and MIGRATING on its owner; move keys with the
        returned :class:`SlotMigration`, then ``finish()`` it. Clients meanwhile get ASK.
        """
        _check_slot(slot)
        source = self.slot_owner(slot)
        if source is target:
            raise LabError(f"{target.name} already owns slot {slot}")
        source_id, target_id = self.node_id(source), self.node_id(target)
        target.execute("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source.execute("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        return SlotMigration(self, slot, source, target, source_id, target_id)

    # -- creation and checks -------------------------------------------------------------

    def create(self, primaries: int, timeout: float = 30) -> None:
        """Wire fresh nodes into a cluster: slots split evenly over the first ``primaries``."""
        deadline = time.monotonic() + timeout
        ids = [self.node_id(node) for node in self.nodes]
        for epoch, node in enumerate(self.nodes, start=1):
            node.execute("CLUSTER", "SET-CONFIG-EPOCH", epoch)  # distinct epochs: no collisions
        for index in range(primaries):
            lo, hi = index * SLOTS // primaries, (index + 1) * SLOTS // primaries
            self.nodes[index].execute("CLUSTER", "ADDSLOTS", *range(lo, hi))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            first.execute("CLUSTER", "MEET", node.host, node.port)
        self._wait_until(self._not_all_known, deadline, "nodes did not meet")
        for index, node in enumerate(self.nodes[primaries:]):
            node.execute("CLUSTER", "REPLICATE", ids[index % primaries])
        self.wait_ready(max(deadline - time.monotonic(), 1.0))

    def _not_all_known(self) -> str | None:
        total = len(self.nodes)
        for node in self.nodes:
            view = parse_cluster_nodes(node.execute("CLUSTER", "NODES"))
            if len(view) != total or any("handshake" in e.flags for e in view.values()):
                return f"{node.name} knows {len(view)}/{total} nodes"
        return None

    def _wait_until(self, problem_of: Callable[[], str | None], deadline: float, what: str) -> None:
        """Poll ``problem_of`` (None: done) until the deadline; the last problem is reported."""
        while True:
            try:
                problem = problem_of()
            except redis.RedisError as exc:  # a node restarting or mid-failover
                problem = f"{type(exc).__name__}: {exc}"
            if problem is None:
                return
            if time.monotonic() > deadline:
                raise LabError(f"{what}: {problem}")
            time.sleep(_POLL)

    def _not_ready(self) -> str | None:
        live = list(self._reachable())
        if not live:
            return "no node is running"
        running_ports = {node.port for node in live}
        views: dict[str, frozenset[tuple[object, ...]]] = {}
        epochs: set[str] = set()
        last: dict[str, NodeEntry] = {}
        for node in live:
            info = parse_info(node.execute("CLUSTER", "INFO"))
            last = parse_cluster_nodes(node.execute("CLUSTER", "NODES"))
            if info.get("cluster_state") != "ok":
                return f"{node.name}: cluster_state={info.get('cluster_state')}"
            for field in ("cluster_slots_assigned", "cluster_slots_ok"):
                if info.get(field) != str(SLOTS):
                    return f"{node.name}: {field}={info.get(field)}"
            if info.get("cluster_known_nodes") != str(len(self.nodes)):
                return f"{node.name}: knows {info.get('cluster_known_nodes')} nodes"
            for entry in last.values():
                bad = entry.flags & _BAD_FLAGS
                if bad and entry.port in running_ports:
                    return f"{node.name} sees {entry.port} as {','.join(sorted(bad))}"
            views[node.name] = frozenset(entry.key() for entry in last.values())
            epochs.add(info.get("cluster_current_epoch", ""))
        if len(set(views.values())) > 1:
            return "nodes disagree on the configuration"
        if len(epochs) > 1:
            return f"current epochs differ: {sorted(epochs)}"
        for entry in last.values():
            if not entry.is_primary and entry.port in running_ports:
                node = self._node_at(entry.port)
                link = node.execute("INFO", "replication").get("master_link_status")
                if link != "up":
                    return f"{node.name}: master_link_status={link}"
        return None

    def _promotion_problem(self, chosen: Server, chosen_id: str) -> str | None:
        role = chosen.execute("ROLE")[0]
        if role != "master":
            return f"{chosen.name} is still {role}"
        for node in self._reachable():
            entry = self.view(node).get(chosen_id)
            if entry is None or not entry.is_primary or not entry.slots:
                return f"{node.name} does not see {chosen.name} as a primary yet"
        return None

    def _reachable(self) -> Iterator[Server]:
        return (node for node in self.nodes if node.is_running() and not node.paused)

    def _with_role(self, *, primary: bool) -> list[Server]:
        ports = {
            entry.port
            for entry in self.view().values()
            if entry.is_primary == primary and "fail" not in entry.flags
        }
        return [node for node in self.nodes if node.port in ports]

    def _node_at(self, port: int) -> Server:
        for node in self.nodes:
            if node.port == port:
                return node
        raise LabError(f"no lab node listens on port {port}")

    def _id_in(self, view: dict[str, NodeEntry], node: Server) -> str:
        for entry in view.values():
            if entry.port == node.port:
                return entry.id
        raise LabError(f"{node.name} is not in the cluster")


class SlotMigration:
    """One slot being moved between primaries, for tests of ASK/MOVED/TRYAGAIN handling."""

    cluster: Cluster
    slot: int
    source: Server
    target: Server

    def __init__(
        self,
        cluster: Cluster,
        slot: int,
        source: Server,
        target: Server,
        source_id: str,
        target_id: str,
    ) -> None:
        self.cluster = cluster
        self.slot = slot
        self.source = source
        self.target = target
        self._source_id = source_id
        self._target_id = target_id
        self.finished = False

    def __repr__(self) -> str:
        return f"<SlotMigration {self.slot} {self.source.name} -> {self.target.name}>"

    def keys_left(self, count: int = 1000) -> list[bytes]:
        """Keys of the slot still on the source."""
        with self.source.client() as raw:
            keys: list[bytes] = raw.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, count)
        return keys

    def move_keys(
        self, keys: Iterable[str | bytes] | int | None = None, *, timeout_ms: int = 5000
    ) -> list[bytes | str]:
        """MIGRATE some keys to the target: the given ones, or up to ``keys`` (an int) / 1000
        of those left. Returns the keys sent. Keys not on the source are skipped by MIGRATE.
        """
        if keys is None or isinstance(keys, int):
            names: list[bytes | str] = list(self.keys_left(1000 if keys is None else keys))
        else:
            names = list(keys)
        if names:
            with self.source.client() as raw:
                raw.execute_command(
                    "MIGRATE", self.target.host, self.target.port, "", 0, timeout_ms, "KEYS", *names
                )
        return names

    def finish(self, timeout: float = 30) -> None:
        """Move the keys left, assign the slot to the target on the target, the source and the
        other primaries (in that order, as ``redis-cli --cluster reshard`` does) and wait ready.
        """
        while self.move_keys():
            pass
        setslot = ("CLUSTER", "SETSLOT", self.slot, "NODE", self._target_id)
        self.target.execute(*setslot)
        self.source.execute(*setslot)
        for node in self.cluster.primaries():
            if node is not self.target and node is not self.source and not node.paused:
                node.execute(*setslot)
        self.finished = True
        self.cluster.wait_ready(timeout)


@contextmanager
def cluster(
    primaries: int = 3,
    replicas_per_primary: int = 1,
    *,
    extra_config: dict[str, str] | None = None,
    timeout: float = 30,
    flavor: str | None = None,
) -> Iterator[Cluster]:
    """A cluster of ``primaries`` primaries with ``replicas_per_primary`` replicas each.

    ``cluster-node-timeout`` is 2 s, so a dead primary is replaced within a few seconds.
    ``flavor`` (``"redis"`` or ``"valkey"``) picks the server; default: ``CACHEX_FLAVOR``.
    """
    if primaries < 1 or replicas_per_primary < 0:
        raise LabError("cluster() needs primaries >= 1 and replicas_per_primary >= 0")
    lines = [
        "cluster-enabled yes",
        "cluster-config-file nodes.conf",
        f"cluster-node-timeout {NODE_TIMEOUT_MS}",
        "cluster-replica-validity-factor 0",  # a replica may always take over, however stale
    ]
    total = primaries * (1 + replicas_per_primary)
    with Lab("cluster", flavor=flavor) as lab:
        nodes = [
            lab.data_node(f"node{i}", lines=lines, extra_config=extra_config, cluster_bus=True)
            for i in range(total)
        ]
        lab.start(nodes)
        created = Cluster(nodes)
        created.create(primaries, timeout)
        yield created


def _check_slot(slot: int) -> None:
    if not 0 <= slot < SLOTS:
        raise LabError(f"slot {slot} is not in 0..{SLOTS - 1}")
