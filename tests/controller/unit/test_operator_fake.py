"""The operator's passes on the in-memory ECS: maxConcurrency, dependsOn, terminal errors."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetctl.controller.operator import Operator
from tests.controller.unit.conftest import fleet_doc
from tests.fakes.ecs import FakeAws


class Running:
    """An operator running on `fake` (Aws.for_target patched), with its in-flight peak sampled."""

    def __init__(self, op: Operator) -> None:
        self.op = op
        self.stop = asyncio.Event()
        self.peak_in_flight = 0

    async def until(self, predicate, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            self.peak_in_flight = max(self.peak_in_flight, len(self.op._in_flight))
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.002)


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    tasks: list[asyncio.Task[None]] = []
    runs: list[Running] = []

    async def start(fake: FakeAws, doc: dict[str, Any]) -> Running:
        monkeypatch.setattr("fleetctl.controller.operator.Aws.for_target", classmethod(lambda cls, target, **kw: fake))
        path = tmp_path / "fleet.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        op = Operator(path, interval=0.05, progress_interval=0.01, backoff_base=0.01)
        run = Running(op)
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(op.run(run.stop, ready)))
        await asyncio.wait_for(ready.wait(), 5)
        runs.append(run)
        return run

    yield start
    for r in runs:
        r.stop.set()


def _new_image_of(doc: dict[str, Any], name: str) -> None:
    svc = next(s for s in doc["spec"]["services"] if s["name"] == name)
    svc["image"] = svc["image"].replace("ab" * 32, "cd" * 32)


def _live(fake: FakeAws, name: str) -> bool:
    return name in fake.clusters["fleet"] and fake.service(name)["deployments"][0]["rolloutState"] == "COMPLETED"


async def test_operator_respects_max_concurrency(operator) -> None:
    fake = FakeAws(latency=0.01)
    names = [f"s{i}" for i in range(6)]
    run = await operator(fake, fleet_doc({n: [] for n in names}, max_concurrency=2))
    try:
        await run.until(lambda: all(_live(fake, n) for n in names))
    finally:
        run.stop.set()
    assert run.peak_in_flight <= 2
    assert fake.max_in_flight_writes <= 2
    assert fake.calls["ecs.CreateService"] == 6


async def test_operator_respects_depends_on(operator) -> None:
    fake = FakeAws()
    at_create: dict[str, str | None] = {}
    create = fake.ecs_create_service

    def spy(**params: Any) -> Any:
        if params["serviceName"] == "api":
            at_create["db"] = (fake.service("db")["deployments"][0]["rolloutState"]
                               if "db" in fake.clusters["fleet"] else None)
        return create(**params)
    fake.ecs_create_service = spy  # type: ignore[method-assign]

    run = await operator(fake, fleet_doc({"api": ["db"], "db": []}))
    try:
        await run.until(lambda: _live(fake, "api") and _live(fake, "db"))
    finally:
        run.stop.set()
    assert at_create == {"db": "COMPLETED"}  # api was created once db served, not in the same pass


async def test_operator_does_not_retry_a_terminal_error(operator, tmp_path: Path) -> None:
    fake = FakeAws()
    fake.inject("ecs.create_service", "InvalidParameterException", "subnet does not exist", times=-1,
                when=lambda p: p["serviceName"] == "bad")
    doc = fleet_doc({"bad": [], "good": []})
    run = await operator(fake, doc)
    try:
        await run.until(lambda: _live(fake, "good"))
        passes = run.op.stats.passes
        await run.until(lambda: run.op.stats.passes >= passes + 10)  # many passes, back-off long elapsed
        attempts = sum(1 for op, p in fake.log if op == "ecs.CreateService" and p["serviceName"] == "bad")
        assert attempts == 1
        assert run.op.stats.errors >= 1

        # a new spec is a new attempt
        fake.injected.clear()
        next(s for s in doc["spec"]["services"] if s["name"] == "bad")["desiredCount"] = 2
        (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        await run.until(lambda: _live(fake, "bad"))
    finally:
        run.stop.set()


async def test_operator_retries_a_transient_error(operator) -> None:
    fake = FakeAws()
    fake.inject("ecs.create_service", "ThrottlingException", "Rate exceeded", times=2, retryable=True)
    run = await operator(fake, fleet_doc({"api": []}))
    try:
        await run.until(lambda: _live(fake, "api"))
    finally:
        run.stop.set()
    assert fake.calls["ecs.CreateService"] == 3


def test_terminal_errors() -> None:
    from fleetctl.controller.errors import CloudError, FleetError, ManifestError
    from fleetctl.controller.policy import is_terminal

    assert is_terminal(CloudError("ecs:CreateService", "InvalidParameterException", "bad subnet"))
    assert is_terminal(ManifestError([]))
    assert not is_terminal(CloudError("ecs:CreateService", "ThrottlingException", "Rate exceeded"))
    assert not is_terminal(CloudError("ecs:UpdateService", "ServiceNotActiveException", "race with a delete"))
    assert not is_terminal(FleetError("lease held by another run"))


async def test_a_rollout_that_does_not_hold_is_retried_with_backoff_reusing_its_revision(operator, tmp_path) -> None:
    fake = FakeAws()
    doc = fleet_doc({"api": []})
    run = await operator(fake, doc)
    try:
        await run.until(lambda: _live(fake, "api"))
        fake.clusters["fleet"]["api"].fail_next = 100   # every new deployment crashes and is rolled back
        doc["spec"]["services"][0]["command"] = ["python", "-m", "services.typo"]
        (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        await run.until(lambda: fake.calls["ecs.UpdateService"] >= 3)
    finally:
        run.stop.set()
    assert [td["revision"] for td in fake.task_definitions["unit-api"]] == [1, 2]   # retries reuse revision 2
    fake.complete()
    assert fake.service("api")["taskDefinition"].endswith("unit-api:1")   # the rollback keeps the good one


async def test_the_revision_is_recorded_once_the_rollout_holds(operator, tmp_path: Path) -> None:
    from fleetctl.controller.tags import TASK_DEF_TAG

    fake = FakeAws()
    doc = fleet_doc({"api": []})
    at_tag: list[tuple[str, str]] = []
    tag = fake.ecs_tag_resource

    def spy(**params: Any) -> Any:
        tags = {t["key"]: t["value"] for t in params["tags"]}
        if TASK_DEF_TAG in tags:
            at_tag.append((tags[TASK_DEF_TAG], fake.service("api")["deployments"][0]["rolloutState"]))
        return tag(**params)
    fake.ecs_tag_resource = spy  # type: ignore[method-assign]

    run = await operator(fake, doc)
    try:
        await run.until(lambda: _live(fake, "api"))
        _new_image_of(doc, "api")
        (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        await run.until(lambda: fake.service_tags("api").get(TASK_DEF_TAG) == "unit-api:2")
    finally:
        run.stop.set()
    assert at_tag == [("unit-api:2", "COMPLETED")]   # written after the new deployment completed


async def test_shutdown_waits_a_bounded_grace_then_cancels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeAws()
    stuck = asyncio.Event()
    call = fake.call

    async def hanging(service: str, operation: str, /, **params: Any) -> Any:
        if operation == "create_service" and params.get("serviceName") == "slow":
            stuck.set()
            await asyncio.Event().wait()   # an AWS call that never answers
        return await call(service, operation, **params)
    fake.call = hanging  # type: ignore[method-assign]
    monkeypatch.setattr("fleetctl.controller.operator.Aws.for_target", classmethod(lambda cls, target, **kw: fake))
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet_doc({"slow": []}), sort_keys=False))
    op = Operator(path, interval=0.05, progress_interval=0.01, backoff_base=0.01, shutdown_grace=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(op.run(stop))
    await asyncio.wait_for(stuck.wait(), 5)
    in_flight = list(op._in_flight.values())
    assert len(in_flight) == 1

    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 5)
    waited = time.monotonic() - started
    assert 0.3 <= waited < 2.0, waited      # the grace, then no longer
    assert in_flight[0].cancelled()
    assert op._in_flight == {}
