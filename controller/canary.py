"""Canary rollouts judged by NATS `$SRV.STATS`: the pure half (state, plan step, verdict). No I/O.

A service with `rollout.strategy: canary` whose task definition changes is not rolled in place.
fleetctl starts `<name>-canary`, a second ECS service (owned by the fleet) running N tasks of the
new revision; their endpoints join the service's queue group, so they take a share of the real
traffic. The canary must pass the serving gate, then it bakes: one `$SRV.STATS` round at the
bake's start records every instance's counters (they are cumulative since the instance started),
one at its end reads them again. The difference per endpoint, for the instances whose version is
the new image digest (canary) and the others (stable), is the evidence:

- fewer canary requests than `minRequests`: inconclusive (never a silent pass);
- canary error rate above `maxErrorRate` (overall, or on an endpoint with at least
  `ENDPOINT_MIN_REQUESTS` canary requests), or its mean processing time above
  `maxMeanProcessingTimeRatio` x the stable one: fail;
- otherwise: pass.

pass: promote (the main service rolls to the revision through the serving gate, then the canary
is deleted) or wait for `fleetctl rollout promote`; fail: abort (the canary is deleted, the main
service keeps its revision, and the aborted revision's hash is recorded on the main service, so it
is not tried again until the manifest changes); inconclusive: wait or abort, as configured.

The state lives in tags on the canary service (phase, revision, the bake's start and baseline),
so apply, the operator and `fleetctl rollout` resume a canary wherever another process stopped.
`next_step` is the state machine; `controller.canary_run` carries its steps out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from fleetctl.controller.manifest.lint import parse_image
from fleetctl.controller.manifest.models import CanarySpec, Fleet, ServiceRolloutSpec
from fleetctl.controller.plan import Plan, RegisterTaskDefinitionAction, ServicePlan, TagServiceAction, UpdateServiceAction
from fleetctl.controller.render import RenderedService
from fleetctl.controller.settings import ServiceSettings
from fleetctl.controller.tags import (  # noqa: F401  (the canary's tags; their meaning: controller/tags.py)
    CANARY_ABORTED_TAG as ABORTED,
    CANARY_BAKE_START_TAG as BAKE_START,
    CANARY_BASELINE_TAG as BASELINE,
    CANARY_HASH_TAG as HASH,
    CANARY_OF_TAG as CANARY_OF,
    CANARY_PHASE_TAG as PHASE,
    CANARY_REVISION_TAG as REVISION,
    CANARY_STABLE_TAG as STABLE,
    CANARY_VERDICT_TAG as VERDICT,
    FLEET_TAG,
)
from fleetctl.controller.state import ObservedFleet, ServiceState, family_revision

SUFFIX = "-canary"
TAG_VALUE_MAX = 256
BASELINE_TAGS_MAX = 30                         # ECS allows 50 tags per resource
ENDPOINT_MIN_REQUESTS = 10

STARTING, BAKING, AWAITING, INCONCLUSIVE, PROMOTING, ABORTING = (
    "Starting", "Baking", "AwaitingPromotion", "Inconclusive", "Promoting", "Aborting")
PHASES = (STARTING, BAKING, AWAITING, INCONCLUSIVE, PROMOTING, ABORTING)
WAITING = (AWAITING, INCONCLUSIVE)


def canary_name(service: str) -> str:
    return service + SUFFIX


def rollout_of(fleet: Fleet, service: str) -> ServiceRolloutSpec:
    """The service's rollout strategy: its own `rollout`, else `spec.defaults.rollout`, else rolling."""
    spec = fleet.service(service)
    return spec.rollout or fleet.spec.defaults.rollout or ServiceRolloutSpec()


def tag_text(text: str) -> str:
    """`text` in the characters ECS allows in a tag value (letters, digits, spaces, + - = . _ : / @)."""
    text = text.replace("%", " pct").replace(">", " above ").replace("<", " below ")
    return re.sub(r"\s+", " ", re.sub(r"[^\w +\-=.:/@]", " ", text)).strip()[:TAG_VALUE_MAX]


# -- counters from $SRV.STATS --------------------------------------------------------------------

@dataclass(frozen=True)
class Counters:
    requests: int = 0
    errors: int = 0
    processing_us: int = 0       # total processing time, microseconds

    def __add__(self, other: "Counters") -> "Counters":
        return Counters(self.requests + other.requests, self.errors + other.errors,
                        self.processing_us + other.processing_us)

    def since(self, base: "Counters | None") -> "Counters":
        """The counters accumulated after `base`; a restarted instance (counters below the base) counts whole."""
        if base is None or self.requests < base.requests or self.errors < base.errors:
            return self
        return Counters(self.requests - base.requests, self.errors - base.errors,
                        max(self.processing_us - base.processing_us, 0))

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def mean_ms(self) -> float | None:
        return self.processing_us / self.requests / 1000 if self.requests else None

    def as_dict(self) -> dict[str, Any]:
        rate, mean = self.error_rate, self.mean_ms
        return {"requests": self.requests, "errors": self.errors,
                "errorRate": round(rate, 4) if rate is not None else None,
                "meanProcessingMs": round(mean, 3) if mean is not None else None}


@dataclass(frozen=True)
class InstanceStats:
    """One instance's `$SRV.STATS` reply: its id, version (the image digest) and per-endpoint counters."""

    id: str
    version: str
    endpoints: dict[str, Counters]
    subjects: dict[str, str] = field(default_factory=dict)   # endpoint name -> subject


def parse_stats(replies: list[dict[str, Any]], service: str) -> list[InstanceStats]:
    out = []
    for r in replies:
        if r.get("name") != service or not r.get("id"):
            continue
        version = str((r.get("metadata") or {}).get("service_version") or r.get("version", ""))
        endpoints, subjects = {}, {}
        for e in r.get("endpoints") or []:
            name = str(e.get("name", ""))
            endpoints[name] = Counters(int(e.get("num_requests") or 0), int(e.get("num_errors") or 0),
                                       int(e.get("processing_time") or 0) // 1000)
            subjects[name] = str(e.get("subject", name))
        out.append(InstanceStats(str(r["id"]), version, endpoints, subjects))
    return out


Baseline = dict[str, dict[str, Counters]]    # instance id -> endpoint -> counters at the bake's start


def baseline_of(instances: list[InstanceStats]) -> Baseline:
    return {i.id: dict(i.endpoints) for i in instances}


def encode_baseline(baseline: Baseline) -> dict[str, str]:
    """The baseline as tag values: `<id>=<endpoint>:<requests>:<errors>:<us>/...`, instances separated
    by spaces, cut into tag-sized chunks under BASELINE.0, BASELINE.1, ..."""
    parts = [f"{iid}=" + "/".join(f"{ep}:{c.requests}:{c.errors}:{c.processing_us}" for ep, c in sorted(eps.items()))
             for iid, eps in sorted(baseline.items())]
    chunks, current = [], ""
    for part in parts:
        if len(part) > TAG_VALUE_MAX:
            raise ValueError("an instance's baseline does not fit one tag value")
        if current and len(current) + 1 + len(part) > TAG_VALUE_MAX:
            chunks.append(current)
            current = ""
        current = f"{current} {part}" if current else part
    if current:
        chunks.append(current)
    if len(chunks) > BASELINE_TAGS_MAX:
        raise ValueError(f"the baseline needs {len(chunks)} tags (at most {BASELINE_TAGS_MAX})")
    return {f"{BASELINE}.{i}": chunk for i, chunk in enumerate(chunks)}


def decode_baseline(tags: dict[str, str]) -> Baseline | None:
    keys = sorted((k for k in tags if k.startswith(BASELINE + ".")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if not keys:
        return None
    out: Baseline = {}
    for part in " ".join(tags[k] for k in keys).split():
        iid, _, rest = part.partition("=")
        eps: dict[str, Counters] = {}
        for item in filter(None, rest.split("/")):
            ep, req, err, us = item.split(":")
            eps[ep] = Counters(int(req), int(err), int(us))
        out[iid] = eps
    return out


@dataclass(frozen=True)
class Side:
    """One side of the comparison over the bake: instances that answered, counters per endpoint."""

    instances: int
    endpoints: dict[str, Counters]

    @property
    def total(self) -> Counters:
        return sum(self.endpoints.values(), Counters())


def bake_delta(baseline: Baseline, now: list[InstanceStats], canary_version: str) -> tuple[Side, Side, dict[str, str]]:
    """(canary, stable, endpoint -> subject): each instance's counters since the baseline, summed per side."""
    sides: dict[bool, dict[str, Counters]] = {True: {}, False: {}}
    counts = {True: 0, False: 0}
    subjects: dict[str, str] = {}
    for inst in now:
        canary = inst.version == canary_version
        counts[canary] += 1
        base = baseline.get(inst.id, {})
        for ep, c in inst.endpoints.items():
            sides[canary][ep] = sides[canary].get(ep, Counters()) + c.since(base.get(ep))
            subjects.setdefault(ep, inst.subjects.get(ep, ep))
    return Side(counts[True], sides[True]), Side(counts[False], sides[False]), subjects


# -- the verdict --------------------------------------------------------------------------------

PASS, FAIL, UNDECIDED = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class Verdict:
    outcome: str                     # pass | fail | inconclusive
    reason: str
    canary: Side
    stable: Side
    subjects: dict[str, str]

    def evidence(self) -> list[dict[str, Any]]:
        names = sorted(set(self.canary.endpoints) | set(self.stable.endpoints))
        return [{"endpoint": n, "subject": self.subjects.get(n, n),
                 "canary": self.canary.endpoints.get(n, Counters()).as_dict(),
                 "stable": self.stable.endpoints.get(n, Counters()).as_dict()} for n in names]

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "canaryInstances": self.canary.instances,
                "stableInstances": self.stable.instances, "endpoints": self.evidence()}

    def lines(self) -> list[str]:
        return format_evidence(self.evidence())


def format_evidence(evidence: list[dict[str, Any]]) -> list[str]:
    """Per endpoint, both sides: requests, errors, error rate, mean processing time."""
    def side(c: dict[str, Any]) -> str:
        rate = f"{c['errorRate'] * 100:.1f}%" if c["errorRate"] is not None else "-"
        mean = f"{c['meanProcessingMs']:.2f} ms" if c["meanProcessingMs"] is not None else "-"
        return f"{c['requests']} req, {c['errors']} err ({rate}), mean {mean}"
    return [f"{e['subject']}: canary {side(e['canary'])} | stable {side(e['stable'])}" for e in evidence]


def evidence_lines(result: dict[str, Any] | None) -> list[str]:
    """The evidence lines of a canary result's dict (`CanaryResult.as_dict`), for a failure's explanation."""
    verdict = (result or {}).get("verdict")
    if not verdict:
        return []
    return [f"canary verdict {verdict['outcome']}: {verdict['reason']}"] + format_evidence(verdict["endpoints"])


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def judge(spec: CanarySpec, canary: Side, stable: Side, subjects: dict[str, str]) -> Verdict:
    """The verdict over one bake (see the module's docstring)."""
    def verdict(outcome: str, reason: str) -> Verdict:
        return Verdict(outcome, reason, canary, stable, subjects)

    if canary.instances == 0:
        return verdict(FAIL, "no canary instance answered $SRV.STATS")
    total = canary.total
    if total.requests < spec.min_requests:
        return verdict(UNDECIDED, f"{total.requests} canary requests during the bake, fewer than minRequests "
                                  f"{spec.min_requests}")
    stable_rate = stable.total.error_rate
    beside = f" (stable {_pct(stable_rate)})" if stable_rate is not None else ""
    if (total.error_rate or 0.0) > spec.max_error_rate:
        return verdict(FAIL, f"canary error rate {_pct(total.error_rate or 0.0)} above maxErrorRate "
                             f"{_pct(spec.max_error_rate)}{beside}")
    for ep, c in sorted(canary.endpoints.items()):
        if c.requests >= ENDPOINT_MIN_REQUESTS and (c.error_rate or 0.0) > spec.max_error_rate:
            return verdict(FAIL, f"canary error rate on {subjects.get(ep, ep)} {_pct(c.error_rate or 0.0)} above "
                                 f"maxErrorRate {_pct(spec.max_error_rate)}")
    ratio = spec.max_mean_processing_time_ratio
    if ratio is not None:
        mine, theirs = total.mean_ms, stable.total.mean_ms
        if theirs is None or theirs <= 0:
            return verdict(UNDECIDED, "no stable requests during the bake to compare processing time with")
        if mine is not None and mine > ratio * theirs:
            return verdict(FAIL, f"canary mean processing time {mine:.2f} ms is {mine / theirs:.2f}x the stable "
                                 f"{theirs:.2f} ms (maxMeanProcessingTimeRatio {ratio:g})")
    return verdict(PASS, f"{total.requests} canary requests, error rate {_pct(total.error_rate or 0.0)}{beside}"
                         f" within maxErrorRate {_pct(spec.max_error_rate)}")


def after_verdict(spec: CanarySpec, verdict: Verdict) -> str:
    """The phase a verdict leads to."""
    if verdict.outcome == PASS:
        return PROMOTING if spec.on_verdict == "promote" else AWAITING
    if verdict.outcome == UNDECIDED:
        return INCONCLUSIVE if spec.on_inconclusive == "wait" else ABORTING
    return ABORTING


# -- the record on the canary service ------------------------------------------------------------

@dataclass(frozen=True)
class CanaryRecord:
    service: str                 # the main service
    phase: str
    td_hash: str                 # the rendered task definition the canary runs
    revision: str                # its family:revision
    stable: str                  # the main service's family:revision when the canary started
    bake_start: float | None = None      # epoch seconds
    baseline: Baseline | None = None
    verdict: str = ""

    def tags(self) -> dict[str, str]:
        out = {CANARY_OF: self.service, PHASE: self.phase, HASH: self.td_hash, REVISION: self.revision,
               STABLE: self.stable}
        if self.bake_start is not None:
            out[BAKE_START] = f"{self.bake_start:.3f}"
        if self.verdict:
            out[VERDICT] = tag_text(self.verdict)
        if self.baseline is not None:
            out.update(encode_baseline(self.baseline))
        return out

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> "CanaryRecord | None":
        if tags.get(PHASE) not in PHASES or not tags.get(CANARY_OF):
            return None
        start = tags.get(BAKE_START)
        return cls(tags[CANARY_OF], tags[PHASE], tags.get(HASH, ""), tags.get(REVISION, ""), tags.get(STABLE, ""),
                   float(start) if start else None, decode_baseline(tags), tags.get(VERDICT, ""))

    def bake_end(self, spec: CanarySpec) -> float | None:
        return self.bake_start + spec.bake_time if self.bake_start is not None else None

    def as_dict(self, spec: CanarySpec | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"canary": canary_name(self.service), "phase": self.phase, "revision": self.revision,
                               "stable": self.stable, "taskDefinitionHash": self.td_hash, "bakeStart": self.bake_start,
                               "verdict": self.verdict or None}
        if spec is not None:
            out.update({"instances": spec.instances, "bakeSeconds": spec.bake_time, "bakeEnd": self.bake_end(spec)})
        return out


def aborted_hash(main: ServiceState | None) -> tuple[str, str] | None:
    """(hash, why) of the revision whose canary was aborted, from the main service's tag."""
    value = main.tags.get(ABORTED) if main is not None else None
    if not value:
        return None
    h, _, why = value.partition(" ")
    return h, why


def aborted_tag(td_hash: str, why: str) -> dict[str, str]:
    return {ABORTED: tag_text(f"{td_hash} {why}")}


# -- the state machine ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    kind: str            # create | replace | gate | bake | judge | promote | abort | wait | blocked
    until: float | None = None
    reason: str = ""


def next_step(record: CanaryRecord | None, *, want_hash: str, aborted: str | None, now: float,
              spec: CanarySpec) -> Step:
    """What to do next for a canary of the revision with content hash `want_hash`. Pure."""
    if record is None:
        if aborted == want_hash:
            return Step("blocked", reason="the canary of this revision was aborted")
        return Step("create")
    if record.td_hash != want_hash:
        return Step("replace", reason=f"the manifest changed during the canary of {record.revision}")
    if record.phase == ABORTING or aborted == record.td_hash:
        return Step("abort", reason=record.verdict or "aborted")
    if record.phase == PROMOTING:
        return Step("promote")
    if record.phase == AWAITING:
        return Step("wait", reason=f"verdict: pass ({record.verdict}); waiting for `fleetctl rollout promote "
                                   f"{record.service}`")
    if record.phase == INCONCLUSIVE:
        return Step("wait", reason=f"verdict: inconclusive ({record.verdict}); waiting for `fleetctl rollout "
                                   f"promote {record.service}` or `fleetctl rollout abort {record.service}`")
    if record.phase == BAKING and record.bake_start is not None and record.baseline is not None:
        end = record.bake_start + spec.bake_time
        return Step("bake", until=end) if now < end else Step("judge")
    return Step("gate")


def decide(record: CanaryRecord, command: str) -> str:
    """The phase a person's `promote` or `abort` leads to; ValueError when it cannot apply now."""
    if command == "promote":
        if record.phase == ABORTING:
            raise ValueError(f"the canary of {record.service} is being aborted")
        return PROMOTING
    if record.phase == PROMOTING:
        raise ValueError(f"{record.service} is being promoted; to go back use `fleetctl rollback {record.service}`")
    return ABORTING


# -- the plan step --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CanaryAction:
    """A canary instead of an in-place rollout (or, `cleanup`, deleting a canary nothing needs)."""

    service: str
    td_hash: str
    version: str | None              # the new image digest: how canary instances are told apart
    settings: CanarySpec
    record: CanaryRecord | None
    canary: ServiceState | None      # the live canary service
    create: ServiceSettings          # the canary service's settings (CreateService on the revision when run)
    update: UpdateServiceAction | None   # the main service's update at promotion
    tag: TagServiceAction | None     # what the main service records after the promotion
    blocked: str | None = None       # why it is not tried (this revision's canary was aborted)
    cleanup: bool = False

    kind = "canary"

    @property
    def name(self) -> str:
        return canary_name(self.service)

    @property
    def waiting(self) -> bool:
        """Nothing to do until a person decides (or the manifest changes)."""
        return self.blocked is not None or (self.record is not None and self.record.phase in WAITING
                                            and self.record.td_hash == self.td_hash)

    def summary(self) -> str:
        s = self.settings
        if self.cleanup:
            return f"delete {self.name} (no canary needed)"
        if self.blocked:
            return f"canary aborted for this revision ({self.blocked}); not retried until the manifest changes"
        if self.record is not None and self.record.td_hash == self.td_hash:
            if self.record.phase == AWAITING:
                return (f"canary {self.name} passed ({self.record.revision}): waits for "
                        f"`fleetctl rollout promote {self.service}`")
            if self.record.phase == INCONCLUSIVE:
                return (f"canary {self.name} inconclusive ({self.record.revision}): waits for "
                        f"`fleetctl rollout promote {self.service}` or `fleetctl rollout abort {self.service}`")
            return f"canary {self.name} {self.record.phase} ({self.record.revision}): resume"
        then = "promote" if s.on_verdict == "promote" else "wait for `rollout promote`"
        return (f"canary {self.name}: {s.instances} task(s) of the new revision, bake {s.bake_time:g}s, "
                f"judge $SRV.STATS, then {then}")


def canary_action(sp: ServicePlan | None) -> CanaryAction | None:
    return next((a for a in sp.actions if isinstance(a, CanaryAction)), None) if sp is not None else None


def canary_status(plan: Plan, service: str) -> dict[str, Any] | None:
    """A service's canary for `status`: its record (phase, revisions, bake), or None when none runs."""
    step = canary_action(plan.for_service(service))
    if step is None or step.record is None:
        return None
    return {**step.record.as_dict(step.settings), "summary": step.summary()}


def plan_canaries(plan: Plan, fleet: Fleet, rendered: list[RenderedService], observed: ObservedFleet,
                  canaries: dict[str, ServiceState]) -> Plan:
    """Replace the in-place rollout of every canary service whose revision changes by a canary step;
    a canary no longer needed gets a cleanup step. Canary services are never orphans. Pure."""
    by_name = {r.name: r for r in rendered}
    services = []
    for sp in plan.services:
        r = by_name.get(sp.service)
        if r is None or rollout_of(fleet, sp.service).strategy != "canary":
            services.append(sp)
            continue
        live = canaries.get(canary_name(sp.service))
        live = live if live is not None and live.status == "ACTIVE" else None
        services.append(_plan_one(sp, r, rollout_of(fleet, sp.service).canary, observed.services.get(sp.service), live,
                                  fleet.spec.target.cluster))
    orphans = tuple(o for o in plan.orphans if not o.endswith(SUFFIX) or o[:-len(SUFFIX)] not in by_name)
    return replace(plan, services=tuple(services), orphans=orphans)


def _plan_one(sp: ServicePlan, r: RenderedService, spec: CanarySpec, main: ServiceState | None,
              live: ServiceState | None, cluster: str) -> ServicePlan:
    record = CanaryRecord.from_tags(live.tags) if live is not None else None
    update = next((a for a in sp.actions if isinstance(a, UpdateServiceAction) and a.uses_new_task_definition), None)
    if update is None or main is None or main.status != "ACTIVE":
        if live is None:
            return sp
        cleanup = CanaryAction(sp.service, r.td_hash, None, spec, record, live, {}, None, None, cleanup=True)
        return ServicePlan(sp.service, (*sp.actions, cleanup))
    tag = next((a for a in sp.actions if isinstance(a, TagServiceAction)), None)
    aborted = aborted_hash(main)
    blocked = (aborted[1] or "aborted") if aborted and aborted[0] == r.td_hash and record is None else None
    create = replace(r.settings, name=canary_name(sp.service), desired_count=spec.instances,
                     tags=tuple((k, v) for k, v in r.settings.tags if k == FLEET_TAG), client_token="")
    action = CanaryAction(sp.service, r.td_hash,
                          parse_image(r.register_task_definition["containerDefinitions"][0]["image"])[2],
                          spec, record, live, create, update, tag, blocked)
    keep_register = record is None or record.td_hash != r.td_hash
    rest = [a for a in sp.actions if not isinstance(a, (UpdateServiceAction, TagServiceAction))
            and (keep_register and not blocked or not isinstance(a, RegisterTaskDefinitionAction))]
    return ServicePlan(sp.service, (*rest, action))
