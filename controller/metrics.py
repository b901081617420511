"""Prometheus metrics of the operator (prometheus-client), served on `/metrics`.

Each `OperatorMetrics` owns its registry, so several operators in one process (tests) keep
their numbers apart. Names follow Prometheus conventions: `_total` counters, base units,
low-cardinality labels (service names, AWS operations, outcomes, condition types).
"""
from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONDITION_TYPES = ("Ready", "Progressing", "Degraded")


class ServiceSeries:
    """The per-service gauges (`fleetctl_service_condition`, `fleetctl_service_suspended`) kept
    as plain values and made into samples only when scraped: as prometheus-client children
    (a lock, a value object and a label dict each) 5 series of 5,000 services held ≈ 16 MB."""

    def __init__(self) -> None:
        self.conditions: dict[str, tuple[tuple[str, int], ...]] = {}
        self.suspended: dict[str, int] = {}

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(CONDITION, CONDITION_HELP, labels=["service", "condition"]),
                GaugeMetricFamily(SUSPENDED, SUSPENDED_HELP, labels=["service"])]

    def collect(self) -> list[GaugeMetricFamily]:
        condition, suspended = self.describe()
        for service, values in self.conditions.items():
            for type_, value in values:
                condition.add_metric([service, type_], value)
        for service, value in self.suspended.items():
            suspended.add_metric([service], value)
        return [condition, suspended]


CONDITION, CONDITION_HELP = "fleetctl_service_condition", "1 when the service's condition is True, else 0"
SUSPENDED, SUSPENDED_HELP = "fleetctl_service_suspended", "1 when reconcile of the service is suspended"


class OperatorMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.passes = Counter("fleetctl_reconcile_passes", "Reconcile passes over the whole fleet, by outcome",
                              ["outcome"], registry=r)
        self.pass_duration = Histogram("fleetctl_reconcile_duration_seconds",
                                       "Time to observe and plan the whole fleet in one pass", registry=r,
                                       buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.aws_calls = Counter("fleetctl_aws_calls", "AWS API calls, by operation and outcome (ok or the error code)",
                                 ["operation", "outcome"], registry=r)
        self.drift_healed = Counter("fleetctl_drift_healed", "Services changed by hand and put back to the manifest",
                                    ["service"], registry=r)
        self.rollouts = Counter("fleetctl_rollouts", "Changes applied to a service, by outcome (succeeded, failed)",
                                ["service", "outcome"], registry=r)
        self.per_service = ServiceSeries()
        r.register(self.per_service)
        self.fleet_suspended = Gauge("fleetctl_fleet_suspended", "1 when the whole fleet is suspended", registry=r)
        self.services = Gauge("fleetctl_services", "Services the manifest in force declares", registry=r)
        self.leader = Gauge("fleetctl_leader", "1 while this controller leads the fleet: it holds the fleet's lease "
                            "and may write (an operator embedded without leader election: always)", registry=r)
        self.lease_changes = Counter("fleetctl_lease_changes", "Changes of the fleet's lease seen by this controller: "
                                     "acquired, lost or released by it, or another holder seen while following",
                                     ["change"], registry=r)
        self.lease_token = Gauge("fleetctl_lease_token", "Fencing token of the fleet's lease as this controller last "
                                 "saw it", registry=r)
        self.source_reads = Counter("fleetctl_source_reads", "Reads of the manifest/terraform-outputs sources, by outcome"
                                    " (unchanged, updated, unreadable, invalid)", ["source", "outcome"], registry=r)
        self.source_ok = Gauge("fleetctl_source_ok", "1 when the last read of the source gave a valid spec", ["source"],
                               registry=r)
        self.source_last_good = Gauge("fleetctl_source_last_good_timestamp_seconds",
                                      "Unix time the spec in force was read", registry=r)
        self.leader.set(1)  # without leader election (Operator(leadership=None)) the operator writes

    def aws_call(self, operation: str, outcome: str) -> None:
        self.aws_calls.labels(operation, outcome).inc()

    def set_conditions(self, service: str, conditions: Iterable[tuple[str, bool | None]]) -> None:
        self.per_service.conditions[service] = tuple((type_, 1 if status else 0) for type_, status in conditions)

    def set_suspended(self, service: str, suspended: bool) -> None:
        self.per_service.suspended[service] = 1 if suspended else 0

    def forget_services(self, keep: set[str]) -> None:
        """Drop per-service series of services the manifest no longer declares."""
        for values in (self.per_service.conditions, self.per_service.suspended):
            for name in [n for n in values if n not in keep]:
                del values[name]

    def render(self) -> bytes:
        return generate_latest(self.registry)
