"""Client-side rate limits: one token bucket per AWS throttling category, shared by the process.

AWS throttles each account per Region with token buckets (ECS: one bucket per category of
actions, with a maximum capacity — the burst — and a refill rate — the sustained rate). A
process that sends more than that only collects ThrottlingExceptions and retries. Waiting for
a token here instead keeps a 5,000-service plan or a busy operator at the documented rate.

Every `Aws` in one process that talks to the same endpoint and Region draws from the same
buckets (`buckets_for`), whatever event loop it runs on. A bucket starts full, as AWS's does
when the account has been quiet; `share` leaves headroom for other clients of the account.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rate:
    burst: float    # bucket maximum capacity (requests at once)
    per_second: float  # bucket refill rate (sustained requests per second)


# Amazon ECS API Reference, "Request throttling for the Amazon ECS API" (bucket maximum
# capacity / bucket refill rate per action category, every Region).
ECS_CATEGORIES: dict[str, tuple[Rate, tuple[str, ...]]] = {
    "cluster-read": (Rate(50, 20), ("DescribeClusters", "ListClusters")),
    "cluster-modify": (Rate(20, 1), ("CreateCluster", "DeleteCluster", "PutClusterCapacityProviders",
                                     "UpdateCluster", "UpdateClusterSettings")),
    "task-definition-modify": (Rate(20, 1), ("DeregisterTaskDefinition", "RegisterTaskDefinition")),
    "task-definition-read": (Rate(50, 20), ("DescribeTaskDefinition", "ListTaskDefinitions",
                                            "ListTaskDefinitionFamilies")),
    "task-definition-delete": (Rate(5, 1), ("DeleteTaskDefinitions",)),
    "tag-modify": (Rate(20, 10), ("TagResource", "UntagResource")),
    "tag-read": (Rate(50, 20), ("ListTagsForResource",)),
    "cluster-resource-modify": (Rate(100, 40), ("DeleteAttributes", "DeregisterContainerInstance", "ExecuteCommand",
                                                "PutAttributes", "RunTask", "StartTask", "StopTask",
                                                "UpdateContainerAgent", "UpdateContainerInstancesState")),
    "cluster-resource-read": (Rate(100, 20), ("DescribeContainerInstances", "DescribeTasks", "ListAttributes",
                                              "ListContainerInstances", "ListTasks")),
    "service-modify": (Rate(50, 5), ("CreateService", "DeleteService", "UpdateService")),
    "service-read": (Rate(100, 20), ("DescribeServices", "ListServices")),
    "service-deployment": (Rate(50, 20), ("DescribeServiceDeployments", "ListServiceDeployments")),
    "service-revision": (Rate(50, 20), ("DescribeServiceRevisions",)),
    "namespace-read": (Rate(10, 1), ("ListServicesByNamespace",)),
}

# Amazon CloudWatch Logs quotas (transactions per second per account and Region; no burst
# is documented, so the bucket holds one second's worth).
LOGS_RATES: dict[str, Rate] = {
    "GetLogEvents": Rate(25, 25),
    "FilterLogEvents": Rate(5, 5),
    "DescribeLogStreams": Rate(25, 25),
    "DescribeLogGroups": Rate(10, 10),
}


def default_rates() -> dict[str, tuple[str, Rate]]:
    """`service.Operation` -> (bucket name, rate) for every limited operation."""
    out: dict[str, tuple[str, Rate]] = {}
    for category, (rate, actions) in ECS_CATEGORIES.items():
        for action in actions:
            out[f"ecs.{action}"] = (f"ecs:{category}", rate)
    for action, rate in LOGS_RATES.items():
        out[f"logs.{action}"] = (f"logs:{action}", rate)
    return out


ENV_MODE = "FLEETCTL_RATE_LIMITS"    # on | off (default: on for AWS, off for the sandbox)
ENV_SHARE = "FLEETCTL_RATE_SHARE"    # 0 < share <= 1 (default 1)


@dataclass(frozen=True)
class RateLimitSettings:
    """How fleetctl paces its AWS calls. Defaults are AWS's documented limits."""

    enabled: bool = True
    share: float = 1.0   # fraction of each documented rate (and burst) this process may use
    rates: Mapping[str, tuple[str, Rate]] = field(default_factory=default_rates)

    @classmethod
    def from_env(cls, *, default_enabled: bool, env: Mapping[str, str] | None = None) -> "RateLimitSettings":
        """Settings from FLEETCTL_RATE_LIMITS / FLEETCTL_RATE_SHARE. The sandbox (moto) does
        not throttle, so it is not paced unless asked (benchmarks behind a throttling proxy)."""
        from fleetctl.controller.errors import FleetError

        env = os.environ if env is None else env
        mode = env.get(ENV_MODE, "").strip().lower()
        if mode not in ("", "on", "off"):
            raise FleetError(f"{ENV_MODE} must be 'on' or 'off'")
        try:
            share = float(env.get(ENV_SHARE, "1"))
        except ValueError:
            share = -1.0
        if not 0 < share <= 1:
            raise FleetError(f"{ENV_SHARE} must be a number above 0 and at most 1")
        return cls(enabled=default_enabled if not mode else mode == "on", share=share)

    # Tokens of every burst left unused: requests leave here evenly spaced but reach AWS with
    # some jitter, and two that arrive closer together than the refill interval would find
    # AWS's bucket empty if this one ran it down to the last token.
    reserve: float = 0.1

    def rate_for(self, operation: str) -> tuple[str, Rate] | None:
        found = self.rates.get(operation)
        if found is None or not self.enabled:
            return None
        name, rate = found
        burst = rate.burst * self.share
        return name, Rate(max(1.0, burst - max(1.0, burst * self.reserve)), rate.per_second * self.share)


class TokenBucket:
    """A token bucket that hands out tokens in arrival order.

    `acquire` takes a token now if there is one; otherwise it reserves the next one (the
    level goes below zero) and sleeps until it has been refilled. Thread-safe, and not tied
    to an event loop, so every loop in the process shares it.
    """

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._level = rate.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self.waited = 0.0      # seconds callers spent waiting, for reports
        self.acquired = 0

    def reserve(self) -> float:
        """Take a token; returns how long to wait before using it."""
        with self._lock:
            now = time.monotonic()
            self._level = min(self.rate.burst, self._level + (now - self._stamp) * self.rate.per_second)
            self._stamp = now
            self._level -= 1
            self.acquired += 1
            wait = -self._level / self.rate.per_second if self._level < 0 else 0.0
            self.waited += wait
            return wait

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


_registry: dict[tuple[str, str, str], TokenBucket] = {}
_registry_lock = threading.Lock()


def bucket(scope: tuple[str, str], name: str, rate: Rate) -> TokenBucket:
    """The process-wide bucket `name` for one (endpoint, Region)."""
    key = (*scope, name)
    with _registry_lock:
        found = _registry.get(key)
        if found is None or found.rate != rate:
            found = _registry[key] = TokenBucket(rate)
        return found


def stats(scope: tuple[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Tokens taken and seconds waited per bucket (all scopes, or one)."""
    with _registry_lock:
        return {key[2]: {"acquired": b.acquired, "waited_s": round(b.waited, 3)}
                for key, b in _registry.items() if scope is None or key[:2] == scope}


def reset() -> None:
    """Forget every bucket (tests and benchmarks start from full buckets)."""
    with _registry_lock:
        _registry.clear()
