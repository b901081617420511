"""Canaries on the in-memory ECS and as pure functions: the verdict, the record in tags, the state
machine, and apply driving it (promote, abort, resume after a stop mid-bake, inconclusive, no canary
for a change that keeps the image digest). $SRV.STATS comes from a scripted source here; the sandbox
tests (test_canary.py) read it from real services over a real nats-server."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fleetctl.controller import canary as c
from fleetctl.controller.apply import ApplyOptions, apply
from fleetctl.controller.canary_run import CanaryContext, drive, record_decision
from fleetctl.controller.manifest.models import CanarySpec
from fleetctl.controller.plan import TASK_DEF_TAG
from fleetctl.controller.reconcile import dependencies, reconcile_plan
from fleetctl.controller.rollout import RolloutWatcher, SilentReporter
from tests.controller.unit.conftest import CLUSTER, DIGEST, fleet_doc, load
from tests.fakes.ecs import FakeAws

NEW = "sha256:" + "cd" * 32
FAST = dict(poll_interval=0.005, timeout=10, overall_timeout=20)


@pytest.fixture
def fake() -> FakeAws:
    return FakeAws(clusters=(CLUSTER,))


def _counters(req: int, err: int = 0, us: int = 1000) -> c.Counters:
    return c.Counters(req, err, req * us)


def _inst(iid: str, version: str, get: c.Counters, set_: c.Counters | None = None) -> c.InstanceStats:
    eps = {"get": get, **({"set": set_} if set_ is not None else {})}
    return c.InstanceStats(iid, version, eps, {e: f"api.{e}" for e in eps})


# -- pure ---------------------------------------------------------------------------------------

def test_baseline_round_trips_through_tags_in_allowed_characters() -> None:
    baseline = {f"inst{i:02d}abcdefghijklmnop": {"get": _counters(10 ** 6 + i, i), "set": _counters(7, 0, 3)}
                for i in range(20)}
    tags = c.encode_baseline(baseline)
    assert len(tags) > 1 and all(len(v) <= c.TAG_VALUE_MAX for v in tags.values())
    assert all(ch.isalnum() or ch in " +-=._:/@" for v in tags.values() for ch in v)
    assert c.decode_baseline(tags) == baseline
    record = c.CanaryRecord("api", c.BAKING, "h1", "unit-api:2", "unit-api:1", 12.5, baseline, "pass: 12% > 5%")
    assert c.CanaryRecord.from_tags(record.tags()) == record.__class__(**{**record.__dict__,
                                                                        "verdict": c.tag_text(record.verdict)})


def test_delta_counts_each_side_since_the_baseline_and_a_restarted_instance_whole() -> None:
    base = c.baseline_of([_inst("s1", DIGEST, _counters(100, 1)), _inst("s2", DIGEST, _counters(500, 5)),
                          _inst("k1", NEW, _counters(3))])
    now = [_inst("s1", DIGEST, _counters(150, 1)), _inst("s2", DIGEST, _counters(40, 0)),  # s2 restarted
           _inst("k1", NEW, _counters(53, 5)), _inst("s3", DIGEST, _counters(10))]         # s3 started since
    canary, stable, subjects = c.bake_delta(base, now, NEW)
    assert (canary.instances, stable.instances) == (1, 3)
    assert canary.endpoints["get"] == c.Counters(50, 5, 50_000)
    assert stable.endpoints["get"].requests == 50 + 40 + 10
    assert subjects == {"get": "api.get"}


@pytest.mark.parametrize("canary, stable, spec, outcome, words", [
    (_counters(5), _counters(100), {}, c.UNDECIDED, "fewer than minRequests"),
    (_counters(50, 10), _counters(100, 1), {}, c.FAIL, "error rate 20.0% above maxErrorRate 5.0%"),
    (_counters(50, 1), _counters(100), {}, c.PASS, "within maxErrorRate"),
    (_counters(50, 0, 9000), _counters(100, 0, 1000), {"max_mean_processing_time_ratio": 2}, c.FAIL, "9.00x"),
    (_counters(50), c.Counters(), {"max_mean_processing_time_ratio": 2}, c.UNDECIDED, "no stable requests"),
])
def test_judge(canary: c.Counters, stable: c.Counters, spec: dict[str, Any], outcome: str, words: str) -> None:
    settings = CanarySpec(min_requests=20, max_error_rate=0.05, **spec)
    verdict = c.judge(settings, c.Side(1, {"get": canary}), c.Side(2, {"get": stable}), {"get": "api.get"})
    assert verdict.outcome == outcome and words in verdict.reason, verdict.reason
    assert verdict.lines()[0].startswith("api.get: canary ") and " | stable " in verdict.lines()[0]


def test_state_machine() -> None:
    spec = CanarySpec(bake_time=60)
    rec = c.CanaryRecord("api", c.STARTING, "h1", "f:2", "f:1")

    def step(record: c.CanaryRecord | None, now: float = 100.0, aborted: str | None = None) -> str:
        return c.next_step(record, want_hash="h1", aborted=aborted, now=now, spec=spec).kind

    assert step(None) == "create" and step(None, aborted="h1") == "blocked"
    assert step(rec) == "gate"
    baking = c.CanaryRecord("api", c.BAKING, "h1", "f:2", "f:1", 50.0, {})
    assert step(baking, now=100.0) == "bake" and step(baking, now=111.0) == "judge"
    assert step(c.CanaryRecord("api", c.BAKING, "h0", "f:2", "f:1")) == "replace"
    assert step(baking, aborted="h1") == "abort"
    for phase, kind in ((c.AWAITING, "wait"), (c.INCONCLUSIVE, "wait"), (c.PROMOTING, "promote"),
                        (c.ABORTING, "abort")):
        assert step(c.CanaryRecord("api", phase, "h1", "f:2", "f:1")) == kind
    assert c.decide(baking, "promote") == c.PROMOTING and c.decide(baking, "abort") == c.ABORTING
    with pytest.raises(ValueError):
        c.decide(c.CanaryRecord("api", c.PROMOTING, "h1", "f:2", "f:1"), "abort")
    assert c.after_verdict(CanarySpec(on_verdict="wait"), c.Verdict(c.PASS, "", c.Side(1, {}), c.Side(1, {}), {})) \
        == c.AWAITING
    assert c.after_verdict(CanarySpec(on_inconclusive="abort"),
                           c.Verdict(c.UNDECIDED, "", c.Side(1, {}), c.Side(1, {}), {})) == c.ABORTING


# -- apply on the in-memory ECS ---------------------------------------------------------------------

class ScriptedStats:
    """$SRV.STATS answers: the stable instance and the canary's, at the bake's start and then its end."""

    def __init__(self, canary_end: c.Counters, on_sample: Any = None) -> None:
        self.rounds = 0
        self.canary_end = canary_end
        self.on_sample = on_sample

    @property
    def available(self) -> bool:
        return True

    async def sample(self, service: str, expected: int) -> list[c.InstanceStats]:
        self.rounds += 1
        if self.on_sample is not None:
            self.on_sample(self.rounds)
        if self.rounds == 1:
            return [_inst("s1", DIGEST, _counters(1000, 2)), _inst("k1", NEW, _counters(2))]
        return [_inst("s1", DIGEST, _counters(1100, 2)),
                _inst("k1", NEW, self.canary_end + _counters(2))]


def _doc(**canary: Any) -> dict[str, Any]:
    doc = fleet_doc({"api": []})
    doc["spec"]["services"][0]["rollout"] = {"strategy": "canary", "canary": {
        "bakeTime": 0.05, "minRequests": 20, "maxErrorRate": 0.05, **canary}}
    return doc


async def _apply(fake: FakeAws, doc: dict[str, Any], stats: Any = None):
    fleet = load(doc).fleet
    rec = await reconcile_plan(fake, fleet)
    result = await apply(rec.plan, fake, fleet_name=fleet.metadata.name, dependencies=dependencies(fleet),
                         observed=rec.observed.services,
                         options=ApplyOptions(**FAST, fleet=rec.fleet, canary_stats=stats))
    return rec, result.outcomes["api"]


def _bump(doc: dict[str, Any]) -> dict[str, Any]:
    svc = doc["spec"]["services"][0]
    svc["image"] = svc["image"].replace(DIGEST, NEW)
    return doc


async def test_a_good_canary_is_promoted_and_deleted(fake: FakeAws) -> None:
    await _apply(fake, _doc())
    stable = fake.service("api")["taskDefinition"]
    rec, outcome = await _apply(fake, _bump(_doc()), ScriptedStats(_counters(60, 1)))
    assert [a.kind for a in rec.plan.for_service("api").actions] == ["register-task-definition", "canary"]
    assert outcome.status == "ready", outcome.message
    assert "promoted" in outcome.message and outcome.canary["verdict"]["outcome"] == "pass"
    assert fake.service("api")["taskDefinition"] != stable
    assert fake.service_tags("api")[TASK_DEF_TAG] == fake.service("api")["taskDefinition"].rsplit("/", 1)[-1]
    assert fake.service("api-canary")["status"] == "INACTIVE"
    rec, _ = await _apply(fake, _bump(_doc()))
    assert rec.plan.is_empty


async def test_a_failing_canary_is_aborted_with_evidence_and_not_retried(fake: FakeAws) -> None:
    await _apply(fake, _doc())
    stable = fake.service("api")["taskDefinition"]
    _, outcome = await _apply(fake, _bump(_doc()), ScriptedStats(_counters(60, 12)))
    assert outcome.status == "failed" and "aborted" in outcome.message and "20.0%" in outcome.message
    lines = outcome.explanation()
    assert any(line.startswith("api.get: canary 60 req, 12 err (20.0%)") and "stable 100 req, 0 err" in line
               for line in lines), lines
    assert fake.service("api")["taskDefinition"] == stable
    assert fake.service("api-canary")["status"] == "INACTIVE"
    assert fake.service_tags("api")[c.ABORTED].startswith(outcome.canary["record"]["taskDefinitionHash"])
    creates = fake.calls["ecs.CreateService"]
    rec, outcome = await _apply(fake, _bump(_doc()), ScriptedStats(_counters(60)))
    assert outcome.status == "failed" and "not retried" in outcome.message
    assert fake.calls["ecs.CreateService"] == creates and not rec.plan.is_empty


async def test_stopped_mid_bake_resumes_the_same_canary_from_its_tags(fake: FakeAws) -> None:
    await _apply(fake, _doc())
    fleet = load(_bump(_doc(bakeTime=0.3))).fleet
    rec = await reconcile_plan(fake, fleet)
    action = c.canary_action(rec.plan.for_service("api"))
    from fleetctl.controller.aws.ecs import register_task_definition_once

    register = rec.plan.for_service("api").actions[0]
    revision = await register_task_definition_once(fake, register.task_definition, candidate=register.reuse_candidate)
    stop = asyncio.Event()
    stats = ScriptedStats(_counters(60), on_sample=lambda n: stop.set())   # "killed" right after the baseline
    result = await _drive(fake, rec.fleet, action, stats, stop, revision)
    assert result.status == "stopped"
    tags = fake.service_tags("api-canary")
    assert tags[c.PHASE] == c.BAKING and c.BASELINE + ".0" in tags
    creates = fake.calls["ecs.CreateService"]

    rec, outcome = await _apply(fake, _bump(_doc(bakeTime=0.3)), stats)
    assert outcome.status == "ready", outcome.message
    assert fake.calls["ecs.CreateService"] == creates      # the same canary, not a second one
    assert stats.rounds == 2                                 # the stored baseline, one more round at the end


async def _drive(fake: FakeAws, fleet: Any, action: Any, stats: Any, stop: asyncio.Event, revision: Any = None):
    halt = asyncio.Event()
    watcher = RolloutWatcher(fake, "fleet", SilentReporter(), 0.005)
    task = asyncio.create_task(watcher.run(halt))
    try:
        return await drive(CanaryContext(fake, fleet, watcher, stats, SilentReporter(), stop, 10, 0), action, revision)
    finally:
        halt.set()
        watcher.wake()
        await task


async def test_too_little_traffic_waits_then_a_person_promotes(fake: FakeAws) -> None:
    await _apply(fake, _doc())
    _, outcome = await _apply(fake, _bump(_doc()), ScriptedStats(_counters(3)))
    assert outcome.status == "failed" and "inconclusive" in outcome.message and "fewer than minRequests" in outcome.message
    assert fake.service_tags("api-canary")[c.PHASE] == c.INCONCLUSIVE
    rec, outcome = await _apply(fake, _bump(_doc()), ScriptedStats(_counters(3)))   # still waiting: nothing done
    assert outcome.status == "failed" and fake.service("api-canary")["status"] == "ACTIVE"
    step = rec.plan.as_dict()["services"][0]["actions"][-1]
    assert step["type"] == "canary" and "waits for `fleetctl rollout promote api`" in step["summary"]
    from fleetctl.controller.reconcile import fleet_status

    _, rows = await fleet_status(fake, rec.fleet)
    assert rows[0].as_dict()["canary"]["phase"] == c.INCONCLUSIVE
    action = await record_decision(fake, rec.fleet, "api", c.canary_action(rec.plan.for_service("api")), "promote")
    result = await _drive(fake, rec.fleet, action, ScriptedStats(_counters(3)), asyncio.Event())
    assert result.status == "promoted", result.message
    assert fake.service("api-canary")["status"] == "INACTIVE"


async def test_a_decision_needs_a_canary(fake: FakeAws) -> None:
    from fleetctl.controller.errors import FleetError

    await _apply(fake, _doc())
    rec = await reconcile_plan(fake, load(_doc()).fleet)
    with pytest.raises(FleetError, match="no canary to abort"):
        await record_decision(fake, rec.fleet, "api", c.canary_action(rec.plan.for_service("api")), "abort")


async def test_inconclusive_aborts_when_configured(fake: FakeAws) -> None:
    await _apply(fake, _doc(onInconclusive="abort"))
    _, outcome = await _apply(fake, _bump(_doc(onInconclusive="abort")), ScriptedStats(_counters(3)))
    assert outcome.status == "failed" and "aborted" in outcome.message
    assert fake.service("api-canary")["status"] == "INACTIVE"


async def test_a_change_that_keeps_the_image_digest_rolls_without_a_canary(fake: FakeAws) -> None:
    await _apply(fake, _doc())
    doc = _doc()
    doc["spec"]["services"][0]["environment"] = {"MODE": "new"}
    _, outcome = await _apply(fake, doc, ScriptedStats(_counters(60)))
    assert outcome.status == "ready" and "same image digest" in outcome.message
    assert "api-canary" not in fake.clusters["fleet"]


def test_manifest_errors_name_the_field_in_one_line() -> None:
    from fleetctl.controller.errors import FleetError

    for canary, words in (({"maxErrorRate": 2}, "rollout.canary.maxErrorRate: "),
                          ({"bakeTime": "soon"}, "rollout.canary.bakeTime: expected seconds or a duration"),
                          ({"onVerdict": "maybe"}, "rollout.canary.onVerdict: ")):
        doc = _doc(**canary)
        with pytest.raises(FleetError) as exc:
            load(doc)
        assert words in str(exc.value) and "\n" not in str(exc.value), str(exc.value)
    doc = fleet_doc({"api": [], "api-canary": []})
    doc["spec"]["defaults"]["rollout"] = {"strategy": "canary"}
    with pytest.raises(FleetError, match="api-canary is the name of api's canary service"):
        load(doc)
    assert load(_doc(bakeTime="1m30s")).fleet.service("api").rollout.canary.bake_time == 90


async def test_a_promotion_that_fails_the_gate_goes_back_to_stable_and_is_recorded(fake: FakeAws) -> None:
    await _apply(fake, _doc())
    stable = fake.service("api")["taskDefinition"]
    fake.fail_rollout("api")     # the main service's next deployment (the promotion) fails
    _, outcome = await _apply(fake, _bump(_doc()), ScriptedStats(_counters(60)))
    assert outcome.status == "failed" and "the promotion did not pass the serving gate" in outcome.message
    assert fake.service("api")["taskDefinition"] == stable
    assert fake.service("api-canary")["status"] == "INACTIVE"
    assert c.ABORTED in fake.service_tags("api")
