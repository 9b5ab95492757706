"""A circuit breaker for the CSP: N failures within a window open it; one probe closes it.

closed ──(failure_threshold failures within window_s)──▶ open
open ──(cooldown_s elapsed)──▶ half-open: exactly one call (the probe) goes through,
                               every other call fails fast while it is in flight
half-open ──probe succeeds──▶ closed (failures forgotten)
half-open ──probe fails──▶ open (a fresh cool-down)

Why not ``purgatory`` (DESIGN.md's suggestion; 3.0.1 was tried): it counts *consecutive*
failures with no time window (five failures spread over a day open it, one success in
between resets it), it lets every request through while half-open instead of one probe, it
reads ``time.time()`` directly so cool-downs can only be tested by sleeping or patching its
module, and it raises its own shared state object as the exception. What we need is about
sixty lines, so it lives here.

Single event loop, no locks: no method awaits, so each runs to completion.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum


class CircuitState(IntEnum):
    """Values are the ``broker_csp_circuit_state`` gauge's."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpenError(Exception):
    """A call was refused without being made; ``retry_after`` is the cool-down left (s)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"circuit open, retry in {retry_after:.1f}s")
        self.retry_after = retry_after


class CircuitBreaker:
    """Admit calls, record how each ended, refuse calls while the upstream looks down."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        window_s: float = 60.0,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> CircuitState:
        """Closed, open, or half-open (the cool-down is over, or a probe is in flight)."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._probe_in_flight or self._clock() >= self._opened_at + self.cooldown_s:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def admit(self) -> bool:
        """Let a call through or raise ``CircuitOpenError``; True when the call is the probe.

        Every admitted call must end in exactly one of ``record_success``,
        ``record_failure`` or ``release`` with the same ``probe`` flag.
        """
        if self._opened_at is None:
            return False
        remaining = self._opened_at + self.cooldown_s - self._clock()
        if self._probe_in_flight or remaining > 0:
            raise CircuitOpenError(max(remaining, 0.0))
        self._probe_in_flight = True
        return True

    def record_success(self, *, probe: bool) -> None:
        if probe:
            self._probe_in_flight = False
            self._opened_at = None
            self._failures.clear()

    def record_failure(self, *, probe: bool) -> None:
        now = self._clock()
        if probe:
            self._probe_in_flight = False
            self._opened_at = now
            return
        if self._opened_at is not None:
            return  # a call admitted before the circuit opened; it is open already
        self._failures.append(now)
        while self._failures and self._failures[0] <= now - self.window_s:
            self._failures.popleft()
        if len(self._failures) >= self.failure_threshold:
            self._opened_at = now
            self._failures.clear()

    def release(self, *, probe: bool) -> None:
        """The call ended without a verdict (cancelled): let the next call probe instead."""
        if probe:
            self._probe_in_flight = False
