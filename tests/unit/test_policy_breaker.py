"""The circuit breaker state machine, driven by a fake clock."""

from __future__ import annotations

import threading

import pytest

from cachex.policy.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(threshold=3, cooldown=5.0, clock=clock)


def test_healthy_nodes_leave_no_trace(breaker: CircuitBreaker) -> None:
    assert breaker.allow("a")
    assert not breaker.success("a")
    assert breaker.suspects == {}  # the router's hot path relies on this staying empty


def test_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    assert not breaker.failure("a")
    assert not breaker.failure("a")
    assert breaker.state("a") == CLOSED and breaker.allow("a")
    assert breaker.failure("a")  # the third one opens it
    assert breaker.state("a") == OPEN
    assert not breaker.allow("a")
    assert breaker.allow("b")  # per node
    assert breaker.open_nodes() == frozenset({"a"})


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    breaker.failure("a")
    breaker.failure("a")
    assert not breaker.success("a")  # was not open
    assert "a" not in breaker.suspects
    breaker.failure("a")
    breaker.failure("a")
    assert breaker.state("a") == CLOSED


def test_one_probe_after_cooldown_then_closed_on_success(breaker: CircuitBreaker,
                                                         clock: Clock) -> None:
    for _ in range(3):
        breaker.failure("a")
    clock.now += 4.9
    assert not breaker.allow("a")
    assert breaker.retry_in("a") == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.allow("a")       # the probe
    assert breaker.state("a") == HALF_OPEN
    assert not breaker.allow("a")   # only one
    assert breaker.success("a")     # True: this closed an open circuit
    assert breaker.state("a") == CLOSED and breaker.suspects == {}


def test_a_failed_probe_reopens_for_a_full_cooldown(breaker: CircuitBreaker,
                                                    clock: Clock) -> None:
    for _ in range(3):
        breaker.failure("a")
    clock.now += 5
    assert breaker.allow("a")
    assert breaker.failure("a")  # reported as (re)opening
    assert breaker.state("a") == OPEN
    clock.now += 4
    assert not breaker.allow("a")
    clock.now += 1
    assert breaker.allow("a")


def test_stragglers_do_not_extend_the_cooldown(breaker: CircuitBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.failure("a")
    clock.now += 4
    assert not breaker.failure("a")  # a call that started before it opened
    clock.now += 1
    assert breaker.allow("a")


def test_a_probe_that_never_reports_does_not_wedge_the_circuit(breaker: CircuitBreaker,
                                                               clock: Clock) -> None:
    for _ in range(3):
        breaker.failure("a")
    clock.now += 5
    assert breaker.allow("a")  # the probe's task gets cancelled: no success, no failure
    clock.now += 4.9
    assert not breaker.allow("a")
    clock.now += 0.1
    assert breaker.allow("a")  # a new probe


def test_threshold_one_opens_at_once() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=1.0)
    assert breaker.failure("x")
    assert not breaker.allow("x")


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(threshold=0, cooldown=1.0)


def test_exactly_one_probe_under_contention(breaker: CircuitBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.failure("a")
    clock.now += 5
    allowed: list[bool] = []
    start = threading.Barrier(16)

    def worker() -> None:
        start.wait()
        allowed.append(breaker.allow("a"))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 1
