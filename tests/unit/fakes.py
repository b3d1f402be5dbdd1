"""A scripted topology for the executor's decisions: no sockets, no servers.

Nodes answer GET/MGET/SET/INCR from a dict, or fail with the exception the test queued for
them. Every call is logged as (side, node, command names), so a test can compare what the
sync and the async executor did.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from cachex.drivers import redis_driver
from cachex.policy import build_policy
from cachex.router import Router
from cachex.routing import Batch, single_batch
from cachex.topology.base import Topology
from cachex.topology.freshness import MapFreshness

DRIVER = redis_driver()
# A reset on a connection that was up: the command may have reached the server.
SENT = "Error while reading from {node}: Connection reset by peer"
# A refused connect: nothing was sent.
NOT_SENT = "Error 111 connecting to {node}. Connection refused."


async def _nothing() -> None:
    return None


class FakeTopology(Topology):
    """Keys live where ``owners`` says; ``fail[node]`` holds the errors its next calls raise."""

    name = "fake"

    def __init__(self, owners: dict[str, str], *, reroutable: bool = False,
                 moves_keys: bool = False) -> None:  # no super().__init__: nothing to open
        self.driver = DRIVER
        self.owners = dict(owners)
        self.data: dict[str, Any] = {}
        self.fail: dict[str, list[BaseException]] = {}
        self.log: list[tuple[str, str, tuple[str, ...]]] = []
        self.refreshes: list[str] = []
        self.dropped: list[tuple[str, str]] = []  # (side, node) of each idle-connection drop
        self.next_owners: dict[str, str] | None = None  # what a refresh installs
        self.reroutable = reroutable
        self.moves_keys = moves_keys
        self.freshness = MapFreshness() if moves_keys else None
        if self.freshness is not None:
            self.freshness.installed()
        self.reads_located = True

    # -- scripting -------------------------------------------------------------------------
    def down(self, node: str, times: int, text: str = SENT) -> None:
        self.fail.setdefault(node, []).extend(
            DRIVER.connection_error(text.format(node=node)) for _ in range(times))

    def _answer(self, side: str, node: str, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        self.log.append((side, node, tuple(str(c[0]) for c in commands)))
        queued = self.fail.get(node)
        if queued:
            raise queued.pop(0)
        out: list[Any] = []
        for name, *args in commands:
            if name == "GET":
                out.append(self.data.get(args[0]))
            elif name == "MGET":
                out.append([self.data.get(k) for k in args])
            elif name == "SET":
                self.data[args[0]] = args[1]
                out.append(True)
            elif name == "INCR":
                self.data[args[0]] = int(self.data.get(args[0], 0)) + 1
                out.append(self.data[args[0]])
            else:
                raise AssertionError(f"unexpected command {name}")
        return out

    # -- what the executor uses ------------------------------------------------------------
    def client(self, key: str, write: bool = True) -> Any:
        return _Client(self, self.locate(key), "sync")

    def aclient(self, key: str, write: bool = True) -> Any:
        return _AClient(self, self.locate(key), "async")

    def plan(self, keys: Sequence[str], write: bool = False) -> list[Batch[Any]]:
        return single_batch(self.locate(keys[0]), keys)

    def node_client(self, node: Any) -> Any:
        raise AssertionError("not used by these tests")

    anode_client = node_client

    def drop_idle(self, node: Any, asynchronous: bool = False) -> Any:
        self.dropped.append(("async" if asynchronous else "sync", node))
        return _nothing() if asynchronous else None

    def primaries(self) -> list[Any]:
        return sorted(set(self.owners.values()))

    def locate(self, key: str) -> Any:
        return self.owners[key]

    def execute(self, node: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        return self._answer("sync", node, commands)

    async def aexecute(self, node: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        return self._answer("async", node, commands)

    def _many(self, side: str, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]]
              ) -> list[list[Any] | BaseException]:
        out: list[list[Any] | BaseException] = []
        for node, commands in batches:
            try:
                out.append(self._answer(side, node, commands))
            except DRIVER.base_error as exc:
                out.append(exc)
        return out

    def execute_many(self, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]]
                     ) -> list[list[Any] | BaseException]:
        return self._many("sync", batches)

    async def aexecute_many(self, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]]
                            ) -> list[list[Any] | BaseException]:
        return self._many("async", batches)

    def wired(self, batches: Sequence[tuple[Any, list[tuple[Any, ...]]]]) -> bool:
        return True

    def refresh(self) -> None:
        self._install("sync")

    async def arefresh(self) -> None:
        self._install("async")

    def _install(self, side: str) -> None:
        self.refreshes.append(side)
        if self.next_owners is not None:
            self.owners = dict(self.next_owners)
        if self.freshness is not None:
            self.freshness.installed()

    def note_unreachable(self, node: Any) -> None:
        if self.freshness is not None:
            self.freshness.mark()

    def fallback_node(self, key: str, down: Collection[Any]) -> Any:
        alive = [n for n in self.primaries() if n not in down]
        return alive[0] if alive else None


class _Client:
    def __init__(self, topo: FakeTopology, node: str, side: str) -> None:
        self.topo, self.node, self.side = topo, node, side

    def execute_command(self, *args: Any) -> Any:
        return self.topo._answer(self.side, self.node, [args])[0]


class _AClient(_Client):
    async def execute_command(self, *args: Any) -> Any:  # type: ignore[override]
        return self.topo._answer(self.side, self.node, [args])[0]


def router(topology: FakeTopology, alias: str = "unit", **options: Any) -> Router:
    """A router with retries that do not sleep (backoff 0) unless ``options`` say else."""
    options.setdefault("retry", {"attempts": 3, "backoff": 0, "jitter": False})
    return Router(topology, build_policy(options, alias, "sharded"))
