"""A circuit breaker per node: pure state, no I/O, clock injectable.

closed --(threshold consecutive failures)--> open --(cooldown elapsed)--> half-open
half-open --(the one probe succeeds)--> closed;  half-open --(the probe fails)--> open

Only nodes that failed recently have an entry in ``suspects``; a healthy alias keeps it
empty, which is all the router's hot path looks at (one truthiness check, no lock, no clock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class Circuit:
    """One node's record while it is a suspect."""

    failures: int = 0
    opened_at: float | None = None  # set while open or half-open
    probe_at: float | None = None   # set while half-open: when the probe was let through

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        return OPEN if self.probe_at is None else HALF_OPEN


class CircuitBreaker:
    """Per-node circuits for one alias.

    ``allow(node)`` before a call, then ``success(node)`` or ``failure(node)`` after it. A
    probe that never reports back (its task was cancelled) does not wedge the circuit: after
    another ``cooldown`` a new probe is let through.
    """

    def __init__(self, threshold: int, cooldown: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold}")
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.suspects: dict[Hashable, Circuit] = {}  # mutated in place, never rebound
        self._lock = threading.Lock()

    def allow(self, node: Hashable) -> bool:
        """True if a call may go to ``node`` now (closed, or this caller is the probe)."""
        circuit = self.suspects.get(node)
        if circuit is None or circuit.opened_at is None:
            return True
        with self._lock:
            circuit = self.suspects.get(node)
            if circuit is None or circuit.opened_at is None:  # closed meanwhile
                return True
            now = self.clock()
            since = circuit.opened_at if circuit.probe_at is None else circuit.probe_at
            if now - since < self.cooldown:
                return False
            circuit.probe_at = now
            return True

    def success(self, node: Hashable) -> bool:
        """Record an answer from ``node``; True if that closed an open circuit."""
        with self._lock:
            circuit = self.suspects.pop(node, None)
        return circuit is not None and circuit.opened_at is not None

    def failure(self, node: Hashable) -> bool:
        """Record a connection failure; True if it opened the circuit (or a probe failed)."""
        with self._lock:
            circuit = self.suspects.get(node)
            if circuit is None:
                circuit = self.suspects[node] = Circuit()
            now = self.clock()
            if circuit.opened_at is not None:
                if circuit.probe_at is None:
                    return False  # a call that started before the circuit opened: no news
                circuit.opened_at, circuit.probe_at = now, None  # the probe failed
                return True
            circuit.failures += 1
            if circuit.failures >= self.threshold:
                circuit.opened_at = now
                return True
            return False

    def state(self, node: Hashable) -> str:
        circuit = self.suspects.get(node)
        return CLOSED if circuit is None else circuit.state

    def open_nodes(self) -> frozenset[Hashable]:
        """Nodes that get no regular traffic now (open or half-open)."""
        with self._lock:
            return frozenset(n for n, c in self.suspects.items() if c.opened_at is not None)

    def retry_in(self, node: Hashable) -> float:
        """Seconds until ``node`` gets its next probe (0 when it may be tried now)."""
        circuit = self.suspects.get(node)
        if circuit is None or circuit.opened_at is None:
            return 0.0
        since = circuit.opened_at if circuit.probe_at is None else circuit.probe_at
        return max(0.0, self.cooldown - (self.clock() - since))
