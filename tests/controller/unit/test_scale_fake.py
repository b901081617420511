"""What keeps a 5,000-service plan near the rate floor and a 5,000-service operator small, on the
in-memory ECS: the service reads start before the services are rendered; per-service look-ups
are indexed; a steady fleet's conditions, back-offs and metrics allocate nothing per pass."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fleetctl.controller import reconcile
from fleetctl.controller.conditions import Condition, ConditionTracker
from fleetctl.controller.metrics import OperatorMetrics
from fleetctl.controller.plan import Plan, ServicePlan
from tests.controller.unit.conftest import CLUSTER, fleet_doc, load
from tests.fakes.ecs import FakeAws


class RecordingAws(FakeAws):
    """Notes how many services were rendered when the first DescribeServices went out."""

    def __init__(self, rendered: list[str]) -> None:
        super().__init__(clusters=(CLUSTER,), latency=0.001)
        self.rendered = rendered
        self.first_describe_after: int | None = None

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        if operation == "describe_services" and self.first_describe_after is None:
            self.first_describe_after = len(self.rendered)
        return await super().call(service, operation, **params)


async def test_service_reads_start_before_the_services_are_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[str] = []
    original = reconcile.render_service

    def render_service(fleet: Any, spec: Any) -> Any:
        rendered.append(spec.name)
        return original(fleet, spec)

    monkeypatch.setattr(reconcile, "render_service", render_service)
    n = 4 * reconcile.RENDER_TURN
    fleet = load(fleet_doc({f"svc-{i:03d}": [] for i in range(n)})).fleet
    aws = RecordingAws(rendered)
    rec = await reconcile.reconcile_plan(aws, fleet)
    assert aws.first_describe_after is not None and aws.first_describe_after < n  # overlapped, not after
    assert len(rec.rendered) == n and [r.name for r in rec.rendered] == [s.name for s in fleet.spec.services]
    assert aws.calls["ecs.DescribeServices"] == n // 10 and len(rec.plan.services) == n


async def test_a_failed_render_cancels_the_reads_under_way(monkeypatch: pytest.MonkeyPatch) -> None:
    def render_service(fleet: Any, spec: Any) -> Any:
        raise RuntimeError("render failed")

    monkeypatch.setattr(reconcile, "render_service", render_service)
    fleet = load(fleet_doc({f"svc-{i:03d}": [] for i in range(30)})).fleet
    aws = FakeAws(clusters=(CLUSTER,), latency=0.01)
    with pytest.raises(RuntimeError, match="render failed"):
        await reconcile.reconcile_plan(aws, fleet)
    calls = dict(aws.calls)
    await asyncio.sleep(0.05)
    assert dict(aws.calls) == calls  # nothing still reading


def test_plan_look_ups_are_indexed() -> None:
    plan = Plan(CLUSTER, tuple(ServicePlan(f"s{i}", ()) for i in range(1000)))
    assert plan.for_service("s999") is plan.services[999]
    assert plan.for_service("nosuch") is None
    assert "_by_service" not in {f for f in plan.__dataclass_fields__}  # not a field: equality unchanged
    assert plan == Plan(CLUSTER, plan.services)


def test_conditions_observed_again_unchanged_keep_their_objects() -> None:
    tracker = ConditionTracker()
    first = tracker.update("a", [Condition("Ready", True, "Ready", "ok")])
    again = tracker.update("a", [Condition("Ready", True, "Ready", "ok")])
    assert again[0] is first[0]
    reworded = tracker.update("a", [Condition("Ready", True, "Ready", "still ok")])
    assert reworded[0].message == "still ok" and reworded[0].last_transition_time == first[0].last_transition_time
    flipped = tracker.update("a", [Condition("Ready", False, "Scaling", "1 -> 2")])
    assert flipped[0].last_transition_time >= first[0].last_transition_time
    tracker.update("b", [Condition("Ready", True, "Ready", "ok")])
    assert tracker.snapshot("a") == {"Ready": False} and tracker.last("b")["Ready"].status is True
    tracker.forget({"b"})
    assert tracker.snapshot("a") == {} and tracker.snapshot("b") == {"Ready": True}
    assert not hasattr(first[0], "__dict__")  # slots: a 5,000-service fleet holds 20,000 of them


def test_per_service_metrics_are_exposed_and_forgotten() -> None:
    m = OperatorMetrics()
    m.set_conditions("a", [("Ready", True), ("Degraded", False), ("Serving", None)])
    m.set_conditions("b", [("Ready", False)])
    m.set_suspended("a", True)
    m.set_suspended("b", False)
    text = m.render().decode()
    assert 'fleetctl_service_condition{condition="Ready",service="a"} 1.0' in text
    assert 'fleetctl_service_condition{condition="Serving",service="a"} 0.0' in text
    assert 'fleetctl_service_condition{condition="Ready",service="b"} 0.0' in text
    assert 'fleetctl_service_suspended{service="a"} 1.0' in text
    assert "# TYPE fleetctl_service_condition gauge" in text
    m.forget_services({"b"})
    text = m.render().decode()
    assert 'service="a"' not in text and 'fleetctl_service_suspended{service="b"} 0.0' in text


def test_the_terraform_outputs_reference_is_read_without_pyyaml_s_python_loader() -> None:
    from fleetctl.controller.sources import _terraform_outputs_ref

    assert _terraform_outputs_ref(b"spec:\n  terraformOutputs: out.json\n  services: []\n") == "out.json"
    assert _terraform_outputs_ref(b"{spec: {terraformOutputs: s3://b/k.json}}") == "s3://b/k.json"
    assert _terraform_outputs_ref(b"spec:\n  services: []\n") is None
    assert _terraform_outputs_ref(b"spec: [") is None and _terraform_outputs_ref(b"\xff\xfe") is None
    assert _terraform_outputs_ref(b"- a\n- b\n") is None
