"""One policy for every writer: `apply`, `rollback` and the operator follow the same `Policy`.

It holds the concurrency bound, dependency gating, tag-after-the-rollout-holds, the rollout gate
settings (minReadySeconds, progress deadline, the NATS gate, per-service health checks and
circuit-breaker rollback), back-off and which errors are terminal, plus how long the operator's
shutdown waits for work in flight. What differs between the callers is a parameter of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleetctl.controller.conditions import is_ready
from fleetctl.controller.errors import CloudError, FleetError, ManifestError
from fleetctl.controller.plan import CreateServiceAction, DeleteServiceAction, OwnershipError, Plan, UpdateServiceAction
from fleetctl.controller.state import ServiceState

# AWS error codes that say the request itself is wrong: sending it again cannot succeed.
TERMINAL_CODES = frozenset({
    "InvalidParameterException", "ClientException", "ValidationException", "ParamValidation",
    "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "PlatformUnknownException",
    "UnsupportedFeatureException", "ClusterNotFoundException",
})


def dependency_gates(plan: Plan, observed: dict[str, ServiceState], dep: str) -> bool:
    """A dependency gates its dependents while it is not serving: being created, not Ready now,
    or being replaced with no healthy minimum. A rolling update of a Ready service keeps it
    serving throughout, so dependents roll in the same wave."""
    dp = plan.for_service(dep)
    current = observed.get(dep)
    if dp is None or not dp.actions:
        return not is_ready(current)
    if any(isinstance(a, (CreateServiceAction, DeleteServiceAction)) for a in dp.actions) or not is_ready(current):
        return True
    floor = (current.deployment_configuration or {}).get("minimumHealthyPercent", 100) if current else 100
    return any(isinstance(a, UpdateServiceAction) for a in dp.actions) and floor == 0


def is_terminal(exc: FleetError) -> bool:
    """An error retrying the same spec cannot fix: the manifest or the ownership check refuses
    it, or AWS rejects the request itself (not throttling, timeouts, 5xx or a race). Any other
    error is retried with back-off."""
    if isinstance(exc, (ManifestError, OwnershipError)):
        return True
    if isinstance(exc, CloudError):
        return exc.code in TERMINAL_CODES and not getattr(exc, "retryable", False)
    return False


@dataclass(slots=True)
class Backoff:
    """Per-service back-off of the operator: after an error or a rollout that did not hold."""

    base: float = 5.0
    cap: float = 600.0
    failures: int = 0
    not_before: float = 0.0
    spec: str | None = None   # the spec last handed to a worker
    waited: bool = False      # the back-off for a retry of `spec` has elapsed
    terminal: str | None = None  # a spec that failed with a terminal error: not retried until it changes

    def fail(self, now: float) -> float:
        self.failures += 1
        delay = min(self.cap, self.base * 2 ** (self.failures - 1))
        self.not_before = now + delay
        return delay

    def reset(self) -> None:
        self.failures, self.not_before, self.spec, self.waited, self.terminal = 0, 0.0, None, False, None


@dataclass
class Policy:
    """The rules of one writer. Defaults are the operator's; `apply` sets what its options say."""

    concurrency: int = 8               # services written (and their rollouts gated) at once
    tag_after_hold: bool = True        # record the applied spec in the service's tags only once it holds
    min_ready: float = 0.0             # spec.rollout.minReadySeconds
    deadline: float = 600.0            # spec.rollout.progressDeadlineSeconds (apply: --timeout, if shorter)
    gate: Any = None                   # controller.gate.NatsGate, opened; None: ECS and container health only
    backoff_base: float = 5.0
    backoff_cap: float = 600.0
    shutdown_grace: float = 20.0       # the operator's wait for in-flight work on stop, then it is cancelled
    roll_back_failures: bool = True    # roll a failed rollout back (where the circuit breaker says rollback)
    fleet: Any = None                  # the resolved Fleet: per-service health checks, gate targets, breaker
    _effective: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _targets: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def for_fleet(cls, fleet: Any, **overrides: Any) -> "Policy":
        """The fleet's own settings: spec.maxConcurrency and spec.rollout."""
        rollout = fleet.spec.rollout
        settings: dict[str, Any] = {"concurrency": fleet.spec.max_concurrency, "min_ready": rollout.min_ready_seconds,
                                    "deadline": rollout.progress_deadline_seconds, "fleet": fleet}
        return cls(**{**settings, **overrides})

    # -- ordering ---------------------------------------------------------------------------
    @staticmethod
    def gates(plan: Plan, observed: dict[str, ServiceState], dep: str) -> bool:
        return dependency_gates(plan, observed, dep)

    def held_back_by(self, plan: Plan, observed: dict[str, ServiceState], deps: list[str],
                     busy: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """The dependencies a service must wait for: those still being written (`busy`) or not serving."""
        return [d for d in deps if d in busy or self.gates(plan, observed, d)]

    # -- errors -----------------------------------------------------------------------------
    @staticmethod
    def is_terminal(exc: FleetError) -> bool:
        return is_terminal(exc)

    def backoff(self) -> Backoff:
        return Backoff(base=self.backoff_base, cap=self.backoff_cap)

    # -- the rollout gate, per service ------------------------------------------------------
    def _service(self, name: str) -> Any:
        """The service's effective settings (spec.defaults applied); None without a fleet."""
        if self.fleet is None:
            return None
        if name not in self._effective:  # only the services asked about (a rollout's), not the fleet
            from fleetctl.controller.manifest.effective import effective

            try:
                self._effective[name] = effective(self.fleet, self.fleet.service(name))
            except KeyError:
                self._effective[name] = None
        return self._effective[name]

    def health_checked(self, name: str) -> bool:
        e = self._service(name)
        return e is not None and e.health_check is not None

    def gate_target(self, name: str) -> Any:
        """What NATS must show for `name` (the manifest's digest); None without a fleet."""
        if self.fleet is None:
            return None
        if name not in self._targets:
            from fleetctl.controller.gate import targets_for

            self._targets[name] = targets_for(self.fleet, [name]).get(name)
        return self._targets[name]

    def rolls_back(self, name: str, before: ServiceState | None = None) -> bool:
        """Whether a failed rollout is rolled back: the service's circuit breaker says so (from the
        manifest, else from the live service)."""
        if not self.roll_back_failures:
            return False
        e = self._service(name)
        if e is not None:
            return e.deployment.circuit_breaker.enable and e.deployment.circuit_breaker.rollback
        breaker = ((before.deployment_configuration if before else None) or {}).get("deploymentCircuitBreaker") or {}
        return bool(breaker.get("rollback", True))

    def watcher(self, aws: Any, cluster: str, reporter: Any, poll_interval: float) -> Any:
        """The rollout watcher every writer waits through, gated as this policy says."""
        from fleetctl.controller.rollout import RolloutWatcher

        return RolloutWatcher(aws, cluster, reporter, poll_interval, gate=self.gate, min_ready=self.min_ready)
