"""apply on the in-memory ECS: dependency waves, the concurrency bound, failed rollouts, tag after hold."""
from __future__ import annotations

from typing import Any

from fleetctl.controller.apply import ApplyOptions, apply
from fleetctl.controller.plan import TASK_DEF_TAG
from fleetctl.controller.reconcile import dependencies, reconcile_plan
from tests.controller.unit.conftest import fleet_doc, load
from tests.fakes.ecs import FakeAws

FAST = dict(poll_interval=0.005, timeout=10, overall_timeout=20)


async def _apply(fake: FakeAws, doc: dict[str, Any], **options: Any):
    fleet = load(doc).fleet
    rec = await reconcile_plan(fake, fleet)
    return await apply(rec.plan, fake, fleet_name=fleet.metadata.name, dependencies=dependencies(fleet),
                       observed=rec.observed.services, options=ApplyOptions(**{**FAST, **options}))


def _spy(fake: FakeAws, operation: str, record) -> None:
    """Call `record(params)` before the fake handles `operation`."""
    handler = getattr(fake, operation)

    def spy(**params: Any) -> Any:
        record(params)
        return handler(**params)
    setattr(fake, operation, spy)


def _new_image(doc: dict[str, Any], name: str) -> None:
    svc = next(s for s in doc["spec"]["services"] if s["name"] == name)
    svc["image"] = svc["image"].replace("ab" * 32, "cd" * 32)


async def test_creates_in_dependency_waves(fake: FakeAws) -> None:
    # api depends on db (being created, so not serving): api starts once db's rollout holds;
    # cache has no dependency and rolls in the first wave
    state_at_create: dict[str, dict[str, str]] = {}

    def record(params: dict[str, Any]) -> None:
        state_at_create[params["serviceName"]] = {
            n: fake.service(n)["deployments"][0]["rolloutState"] for n in ("db", "cache")
            if n in fake.clusters["fleet"]}
    _spy(fake, "ecs_create_service", record)

    result = await _apply(fake, fleet_doc({"db": [], "cache": [], "api": ["db"]}))

    assert result.ok, {n: o.message for n, o in result.outcomes.items()}
    assert {n: o.status for n, o in result.outcomes.items()} == {"db": "ready", "cache": "ready", "api": "ready"}
    assert state_at_create["api"]["db"] == "COMPLETED"
    assert "db" not in state_at_create["cache"] or state_at_create["cache"]["db"] == "IN_PROGRESS"
    assert fake.calls["ecs.CreateService"] == 3


async def test_a_dependency_that_fails_skips_its_dependents(fake: FakeAws) -> None:
    fake.inject("ecs.create_service", "InvalidParameterException", "bad subnet",
                when=lambda p: p["serviceName"] == "db")
    result = await _apply(fake, fleet_doc({"db": [], "api": ["db"]}))
    assert not result.ok
    assert result.outcomes["db"].status == "failed" and "bad subnet" in result.outcomes["db"].message
    assert result.outcomes["api"].status == "skipped"
    assert "api" not in fake.clusters["fleet"]  # nothing written for the dependent


async def test_concurrency_bound_is_respected(fake: FakeAws) -> None:
    fake.latency = 0.01  # every call stays in flight long enough to overlap
    services = {f"s{i}": [] for i in range(6)}
    result = await _apply(fake, fleet_doc(services), concurrency=2)
    assert result.ok
    assert fake.max_in_flight_writes == 2

    # the meter is honest: with a higher bound, more writes do overlap
    other = FakeAws(clusters=("fleet",), latency=0.01)
    assert (await _apply(other, fleet_doc(services), concurrency=6)).ok
    assert other.max_in_flight_writes > 2


async def test_failed_rollout_is_a_failure_and_records_nothing(fake: FakeAws) -> None:
    doc = fleet_doc({"api": []})
    assert (await _apply(fake, doc)).ok
    assert fake.service_tags("api")[TASK_DEF_TAG] == "unit-api:1"

    _new_image(doc, "api")
    fake.fail_rollout("api")  # the circuit breaker trips and rolls back to revision 1
    result = await _apply(fake, doc)

    assert not result.ok
    out = result.outcomes["api"]
    assert out.status == "failed"
    assert "unit-api:1" in out.message and ("failed" in out.message or "rolled back" in out.message)
    assert out.stopped_tasks and out.stopped_tasks[0].stop_code == "EssentialContainerExited"
    assert fake.service_tags("api")[TASK_DEF_TAG] == "unit-api:1"   # the failed revision was never recorded
    fake.complete()
    assert fake.service("api")["taskDefinition"].endswith("unit-api:1")


async def test_revision_tag_written_only_after_the_rollout_holds(fake: FakeAws) -> None:
    doc = fleet_doc({"api": []})
    assert (await _apply(fake, doc)).ok
    _new_image(doc, "api")
    at_tag: list[tuple[str, str]] = []

    def record(params: dict[str, Any]) -> None:
        tags = {t["key"]: t["value"] for t in params["tags"]}
        if TASK_DEF_TAG in tags and params["resourceArn"].endswith("/api"):
            primary = fake.service("api")["deployments"][0]
            at_tag.append((tags[TASK_DEF_TAG], primary["rolloutState"]))
    _spy(fake, "ecs_tag_resource", record)

    result = await _apply(fake, doc)

    assert result.ok, result.outcomes["api"].message
    assert at_tag == [("unit-api:2", "COMPLETED")]
    assert fake.service_tags("api")[TASK_DEF_TAG] == "unit-api:2"


async def test_no_changes_means_no_writes(fake: FakeAws) -> None:
    doc = fleet_doc({"a": [], "b": ["a"]})
    assert (await _apply(fake, doc)).ok
    writes = fake.write_calls
    result = await _apply(fake, doc)
    assert result.ok and {o.status for o in result.outcomes.values()} == {"unchanged"}
    assert fake.write_calls == writes
