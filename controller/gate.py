"""The serving gate: when a rollout counts as done, one implementation for apply, rollback and the operator.

A rollout of a service to a new revision succeeds when

1. ECS agrees: the PRIMARY deployment of that revision is COMPLETED and running == desired;
2. every task of the new revision is RUNNING and HEALTHY (where the task has a health check);
3. it holds: no task of the new revision stopped during `spec.rollout.minReadySeconds` after 1-2;
4. NATS agrees: `$SRV` discovery shows at least desiredCount instances whose version is the new
   image digest, and every declared subject has a responder.

The NATS part is one batched round per poll for the whole fleet (`NatsGate.round`): one
`$SRV.INFO` broadcast and one responder check for every declared subject
(`controller.probe.check_responders`: the servers' own subscription lists, no request to a
service subject), over one connection opened once.
`progressDeadlineSeconds` bounds the whole. `natsGate: auto` skips the NATS part with one
warning when NATS cannot be reached from here, `required` fails, `off` never connects.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from fleetctl.controller.conditions import deployment_verdict
from fleetctl.controller.errors import FleetError
from fleetctl.controller.manifest.models import Fleet
from fleetctl.controller.state import ServiceState, TaskState, family_revision

GateMode = Literal["auto", "required", "off"]

# Serving condition reasons
SERVING = "Serving"
NO_RESPONDERS = "NoResponders"
INSTANCES_MISSING = "InstancesMissing"
VERSION_SKEW = "VersionSkew"
NATS_UNREACHABLE = "NatsUnreachable"
NOT_CHECKED = "NotChecked"

RECONNECT_EVERY = 5.0
"""Seconds between attempts to reconnect a gate whose NATS connection was lost."""


@dataclass(frozen=True)
class GateTarget:
    """What NATS must show for one service: the instances, the version they report, the subjects."""

    service: str
    desired: int
    version: str | None          # the image digest of the revision; None: any version
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class ServingVerdict:
    service: str
    status: bool | None          # None: not checked
    reason: str
    message: str
    missing_subjects: tuple[str, ...] = ()
    instances: int = 0           # instances reporting the expected version
    other_versions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "serving": self.status, "reason": self.reason, "message": self.message,
                "missingSubjects": list(self.missing_subjects), "instances": self.instances,
                "otherVersions": list(self.other_versions)}


def not_checked(service: str, why: str) -> ServingVerdict:
    return ServingVerdict(service, None, NOT_CHECKED, why)


def unreachable(targets: list[GateTarget], why: str) -> dict[str, ServingVerdict]:
    return {t.service: ServingVerdict(t.service, False, NATS_UNREACHABLE, why) for t in targets}


def short(version: str) -> str:
    return version[:19] if version.startswith("sha256:") else version


def judge(target: GateTarget, infos: list[dict[str, Any]], missing: list[str]) -> ServingVerdict:
    """The verdict for one service from one round: $SRV.INFO replies and subjects without a responder."""
    mine = [i for i in infos if i.get("name") == target.service]
    versions = [str((i.get("metadata") or {}).get("service_version") or i.get("version", "")) for i in mine]
    current = sum(1 for v in versions if target.version is None or v == target.version)
    others = tuple(sorted({v for v in versions if target.version is not None and v != target.version}))
    if missing:
        return ServingVerdict(target.service, False, NO_RESPONDERS,
                              f"no responder on {', '.join(missing)}", tuple(missing), current, others)
    if current < target.desired:
        if others:
            return ServingVerdict(target.service, False, VERSION_SKEW,
                                  f"{current}/{target.desired} instances on {short(target.version or '')}; "
                                  f"still answering: {', '.join(short(v) for v in others)}", (), current, others)
        return ServingVerdict(target.service, False, INSTANCES_MISSING,
                              f"{current}/{target.desired} instances in $SRV discovery", (), current, others)
    message = f"{current}/{target.desired} instances" + (f" on {short(target.version)}" if target.version else "")
    if target.subjects:
        message += f", {len(target.subjects)} subjects answered"
    return ServingVerdict(target.service, True, SERVING, message, (), current, others)


class GateUnavailable(FleetError):
    """`natsGate: required` and NATS cannot be reached from here: a failed rollout gate, exit 1."""

    exit_code = 1


class NatsGate:
    """The NATS half of the gate: one connection, one batched round per poll for every service asked.

    `state` is `off`, `on`, `skipped` (auto, unreachable) or `unreachable` (required, unreachable).
    Credentials are the probe's (`ProbeAuth`) and are never printed."""

    def __init__(self, fleet: Fleet, mode: GateMode, auth: Any = None, tls: Any = None, *,
                 connect_timeout: float = 3.0, request_timeout: float = 1.0,
                 reconnect_every: float = RECONNECT_EVERY) -> None:
        self.fleet = fleet
        self.mode = mode
        self.auth = auth
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.state = "off" if mode == "off" else "new"
        self.error: str | None = None
        self.rounds = 0
        self._client: Any = None
        self._rtt = 0.001
        self.reconnect_every = reconnect_every
        self._retry_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return self.state == "on"

    def summary(self) -> str:
        """What the NATS part did, for `-o json`'s `natsGate`: checked, skipped, off, unused."""
        return {"on": "checked", "skipped": "skipped", "off": "off", "unreachable": "unreachable"}.get(self.state,
                                                                                                        "unused")

    async def open(self) -> str:
        """Connect once. auto: a failure skips the NATS part; required: raises GateUnavailable."""
        if self.mode == "off" or self.state in ("on", "skipped"):
            return self.state
        from fleetctl.controller.probe import ProbeAuth, ProbeConnectError, ProbeTls, connect

        try:
            self._client = await connect(list(self.fleet.spec.nats.urls), ProbeAuth.for_fleet(self.fleet, self.auth),
                                         self.tls or ProbeTls.for_fleet(self.fleet), self.connect_timeout)
        except ProbeConnectError as exc:
            self.error = f"{exc.classification.category}: {exc.detail}"
            if self.mode == "required":
                self.state = "unreachable"
                raise GateUnavailable(f"NATS gate required but NATS at {exc.url} is unreachable from here "
                                      f"({self.error})") from None
            self.state = "skipped"
            return self.state
        try:
            self._rtt = max(await self._client.rtt(), 0.0005)
        except Exception:
            pass
        self.state = "on"
        return self.state

    async def round(self, targets: list[GateTarget]) -> dict[str, ServingVerdict]:
        """One batched NATS round for `targets`: one $SRV.INFO broadcast and every declared subject at once.

        When the servers cannot be reached (the connection is down, a request fails, or nobody
        answers the subscription query) every target reads `NatsUnreachable`: nothing is known
        about its responders, which is not the same as `NoResponders`."""
        if not targets:
            return {}
        if self.state in ("off", "skipped", "new"):
            why = {"off": "NATS gate off", "skipped": "NATS not reachable from here; gate skipped",
                   "new": "NATS gate not opened"}[self.state]
            return {t.service: not_checked(t.service, why) for t in targets}
        async with self._lock:
            client = self._client
            if client is None or not client.is_connected:
                client = await self._reconnect()
            if client is None:
                return unreachable(targets, f"the gate's NATS connection is down ({self.error})")
            from nats.errors import Error as NatsError

            from fleetctl.controller.probe import fleet_round

            self.rounds += 1
            try:
                asked = [(t.service, t.desired, t.subjects) for t in targets]
                infos, missing, unknown = await fleet_round(client, asked, self._rtt, self.request_timeout)
            except (asyncio.TimeoutError, OSError, NatsError) as exc:
                return unreachable(targets, f"the NATS round failed: {type(exc).__name__}: {exc}")
            if unknown is not None or not client.is_connected:
                return unreachable(targets, f"the NATS servers did not answer the responder check: "
                                            f"{unknown or 'connection lost'}")
        return {t.service: judge(t, infos, missing.get(t.service, [])) for t in targets}

    async def collect(self, subject: str, expected: int) -> list[dict[str, Any]]:
        """Every reply to one `$SRV` request (e.g. `$SRV.STATS.<service>`, for a canary's verdict)."""
        if not self.active or self._client is None or not self._client.is_connected:
            return []
        from fleetctl.controller.probe import _collect_info

        async with self._lock:
            loop = asyncio.get_running_loop()
            return await _collect_info(self._client, expected, self._rtt, loop.time() + self.request_timeout, subject)

    async def _reconnect(self) -> Any:
        """A new connection once the gate's was lost (at most one attempt every few seconds), else None."""
        from fleetctl.controller.probe import ProbeAuth, ProbeConnectError, ProbeTls, connect

        now = monotonic()
        if now < self._retry_at:
            return None
        self._retry_at = now + self.reconnect_every
        old, self._client = self._client, None
        if old is not None:
            await asyncio.wait({asyncio.ensure_future(old.close())}, timeout=1.0)
        try:
            self._client = await connect(list(self.fleet.spec.nats.urls), ProbeAuth.for_fleet(self.fleet, self.auth),
                                         self.tls or ProbeTls.for_fleet(self.fleet), self.connect_timeout)
        except ProbeConnectError as exc:
            self.error = f"{exc.classification.category}: {exc.detail}"
            return None
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await asyncio.wait({asyncio.ensure_future(self._client.close())}, timeout=2.0)
            self._client = None


async def open_gate(fleet: Fleet, mode: GateMode | None = None, auth: Any = None, tls: Any = None) -> NatsGate:
    """The NATS gate for `fleet` (mode: the flag, else spec.rollout.natsGate), connected unless off or skipped."""
    gate = NatsGate(fleet, mode or fleet.spec.rollout.nats_gate, auth, tls)
    await gate.open()
    return gate


def skip_warning(gate: NatsGate) -> str | None:
    """The one warning `auto` gives when it skips the NATS part (credentials never appear in it)."""
    if gate.state != "skipped":
        return None
    return (f"NATS gate skipped: NATS is not reachable from here ({gate.error}); rollouts are gated on ECS, "
            "container health and minReadySeconds only (--nats-gate required to fail instead)")


def targets_for(fleet: Fleet, services: list[str] | None = None) -> dict[str, GateTarget]:
    """Gate targets from a fleet whose image tags are resolved: the digest each service must report."""
    from fleetctl.controller.probe import expected_version

    out = {}
    for s in fleet.spec.services:
        if services is None or s.name in services:
            out[s.name] = GateTarget(s.name, s.desired_count, expected_version(s.image),
                                     tuple(sub.subject for sub in s.subjects))
    return out


# -- the ECS half -----------------------------------------------------------------------------

@dataclass
class EcsVerdict:
    done: bool                   # ECS COMPLETED, running == desired, every new task RUNNING and HEALTHY
    completed: bool = False      # the service-level half: COMPLETED and running == desired (tasks not judged)
    message: str = ""


def ecs_verdict(svc: ServiceState, target: str | None, tasks: list[TaskState] | None,
                health_checked: bool = True) -> EcsVerdict:
    """ECS's half from DescribeServices and the new revision's live tasks (None: not read yet).
    `health_checked`: the revision's essential container has a health check, so tasks must be HEALTHY."""
    done, message = deployment_verdict(svc, target)
    if not done:
        return EcsVerdict(False, message=message)
    if svc.desired > 0 and tasks is None:
        return EcsVerdict(False, True, message="reading task health")
    live = [t for t in tasks or [] if t.desired_status == "RUNNING"]
    unhealthy = [t for t in live if t.last_status != "RUNNING" or (health_checked and t.health_status != "HEALTHY")]
    if unhealthy:
        t = unhealthy[0]
        what = t.last_status if t.last_status != "RUNNING" else f"health {t.health_status}"
        return EcsVerdict(False, True, message=f"{len(unhealthy)}/{len(live)} new tasks not RUNNING and HEALTHY "
                                               f"(task {t.id[:8]}: {what})")
    if len(live) < svc.desired:
        return EcsVerdict(False, True, message=f"{len(live)}/{svc.desired} new tasks RUNNING")
    return EcsVerdict(True, True, message=f"{svc.running}/{svc.desired} tasks running" +
                      (" and healthy" if health_checked else ""))


@dataclass
class Stability:
    """The minReadySeconds window: starts when ECS's half holds, broken by any new-revision task stopping."""

    min_ready: float
    since: float | None = None
    seen: set[str] = field(default_factory=set)

    def observe(self, done: bool, tasks: list[TaskState], now: float,
                read_from: float | None = None) -> tuple[bool, list[str]]:
        """(window elapsed, ARNs of tasks that stopped within it).

        `now`: when this observation of `tasks` was complete; `read_from`: when it began (default
        `now`). The window runs from the first complete observation that held to the start of a
        later one, so it never counts time in which the tasks were not seen."""
        live = {t.arn for t in tasks if t.desired_status == "RUNNING" and t.last_status != "STOPPED"}
        gone = sorted(self.seen - live) if self.since is not None else []
        if gone:
            return False, gone
        if not done:
            self.since, self.seen = None, set()
            return False, []
        if self.since is None:
            self.since, self.seen = now, live
            return self.min_ready <= 0, []
        self.seen |= live
        return (now if read_from is None else read_from) - self.since >= self.min_ready, []


def monotonic() -> float:
    return time.monotonic()


# -- after the rollout: tasks of the current revision that keep stopping (Degraded/CrashLoop) ------

FAILED_STOP_CODES = ("EssentialContainerExited", "TaskFailedToStart")


def completed_at(svc: ServiceState) -> Any:
    """When ECS completed the PRIMARY deployment, from its own service event."""
    primary = svc.primary
    if primary is None:
        return None
    marker = f"(deployment {primary.id}) deployment completed"
    return next((e.created_at for e in svc.events if marker in e.message), None)


def crash_suspects(states: dict[str, ServiceState]) -> list[str]:
    """Services whose completed deployment shows failures or missing tasks: worth reading stopped tasks for."""
    out = []
    for name, svc in states.items():
        p = svc.primary if svc.status == "ACTIVE" else None
        if p is not None and p.rollout_state == "COMPLETED" and (p.failed_tasks > 0 or svc.running < svc.desired):
            out.append(name)
    return out


async def crash_loops(aws: Any, fleet: Fleet, states: dict[str, ServiceState]) -> dict[str, str]:
    """Service -> message, for services whose current-revision tasks keep stopping after the rollout
    completed, with the diagnose engine's category and summary in the message."""
    from fleetctl.controller.aws import ecs
    from fleetctl.controller.rollout import explain_stopped

    suspects = crash_suspects(states)
    if not suspects:
        return {}
    out: dict[str, str] = {}
    for name in suspects:
        svc = states[name]
        since = completed_at(svc)
        arns = await ecs.list_task_arns(aws, fleet.spec.target.cluster, name, desired_status="STOPPED")
        tasks = await ecs.describe_tasks(aws, fleet.spec.target.cluster, arns[:100]) if arns else []
        current = family_revision(svc.task_definition)
        failed = [t for t in tasks if family_revision(t.task_definition) == current and t.stopped_at is not None
                  and (since is None or t.stopped_at >= since)
                  and (t.stop_code in FAILED_STOP_CODES or "health checks" in (t.stopped_reason or ""))]
        if len(failed) >= 2 or (failed and svc.running < svc.desired):
            found = await explain_stopped(aws, fleet, name, 3600)
            cause = f": {found[0]['category']}: {found[0]['summary']}" if found else ""
            out[name] = f"{len(failed)} task(s) of {current} stopped after the rollout completed{cause}"
    return out
