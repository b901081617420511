"""apply(plan): execute a Plan against ECS, then wait for each rollout.

Services run concurrently under a bound, in waves that respect dependsOn: a service's actions
start once every dependency is Ready. A deployment that fails or is rolled back by the circuit
breaker is a failure, never a success.

The parts: `controller.execute` runs one service's actions, `controller.waves` schedules the
services and waits for their rollouts (`controller.rollout`), `controller.outcome` is what is
reported, and `controller.policy.Policy` the rules, shared with rollback and the operator.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from fleetctl.controller.aws.protocol import AwsApi
from fleetctl.controller.execute import execute_service_plan, write_tags  # noqa: F401  (imported from here too)
from fleetctl.controller.outcome import (  # noqa: F401  (imported from here too)
    ApplyResult,
    ServiceOutcome,
    StoppedTaskSummary,
    stopped_tasks,
    summarize_stopped,
)
from fleetctl.controller.plan import OwnershipError, Plan
from fleetctl.controller.policy import Policy
from fleetctl.controller.rollout import (  # noqa: F401  (Reporter and friends are imported from here too)
    Reporter,
    RolloutResult,
    RolloutRow,
    RolloutWatcher,
    SilentReporter,
)
from fleetctl.controller.state import ServiceState
from fleetctl.controller.waves import Waves


@dataclass
class ApplyOptions:
    wait: bool = True
    timeout: float = 600.0          # per service rollout
    overall_timeout: float = 1800.0
    fail_fast: bool = False
    poll_interval: float = 2.0
    concurrency: int = 8
    min_ready: float = 0.0            # spec.rollout.minReadySeconds
    gate: Any = None                  # controller.gate.NatsGate, opened; None: ECS and health only
    rollback_on_failure: bool = True  # roll a service whose rollout failed back (if its breaker rolls back)
    fleet: Any = None                 # the resolved Fleet: gate targets, health checks, diagnosis
    canary_stats: Any = None          # where canaries read $SRV.STATS (default: the gate's NATS connection)

    def policy(self) -> Policy:
        """apply's policy: the shared one, with this run's bound, deadline and gate."""
        return Policy(concurrency=self.concurrency, min_ready=self.min_ready, deadline=self.timeout, gate=self.gate,
                      fleet=self.fleet, roll_back_failures=self.rollback_on_failure)


async def apply(
    plan: Plan,
    aws: AwsApi,
    *,
    fleet_name: str,
    dependencies: dict[str, list[str]],
    observed: dict[str, ServiceState],
    options: ApplyOptions | None = None,
    reporter: Reporter | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> ApplyResult:
    if plan.conflicts:  # another fleet's or an untagged service, not adopted: write nothing
        raise OwnershipError(plan.conflicts)
    options = options or ApplyOptions()
    waves = Waves(plan, aws, fleet_name=fleet_name, dependencies=dependencies, observed=observed,
                  options=options, reporter=reporter or SilentReporter(), since=clock())
    outcomes = await waves.run(overall_timeout=options.overall_timeout, fail_fast=options.fail_fast)
    return ApplyResult(outcomes, waves.watcher.polls, options.gate.rounds if options.gate is not None else 0)
