"""A circuit breaker for service-to-service requests.

Closed: requests pass; `failure_threshold` consecutive failures open the circuit.
Open: requests fail fast with `CircuitOpenError` until `reset_timeout` has passed.
Half-open: one probe request passes; success closes the circuit, failure opens it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class BreakerMetrics:
    requests: int = 0
    successes: int = 0
    failures: int = 0
    rejected: int = 0
    opened: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int = 5
    reset_timeout: float = 5.0
    clock: Callable[[], float] = time.monotonic
    metrics: BreakerMetrics = field(default_factory=BreakerMetrics)
    _state: BreakerState = BreakerState.CLOSED
    _consecutive_failures: int = 0
    _opened_at: float = 0.0
    _probe_in_flight: bool = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self.clock() - self._opened_at >= self.reset_timeout:
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """Whether a request may be sent now; a True in half-open state reserves the single probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            self.metrics.requests += 1
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = True
            self.metrics.requests += 1
            return True
        self.metrics.rejected += 1
        return False

    def record_success(self) -> None:
        self.metrics.successes += 1
        self._consecutive_failures = 0
        self._probe_in_flight = False
        self._state = BreakerState.CLOSED

    def record_failure(self) -> None:
        self.metrics.failures += 1
        self._consecutive_failures += 1
        probe_failed = self._probe_in_flight
        self._probe_in_flight = False
        if probe_failed or self._consecutive_failures >= self.failure_threshold:
            if self._state is not BreakerState.OPEN or probe_failed:
                self.metrics.opened += 1
            self._state = BreakerState.OPEN
            self._opened_at = self.clock()
