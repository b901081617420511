"""Ready / Progressing / Degraded from the in-memory ECS's states, step by step."""
from __future__ import annotations

from fleetctl.controller.aws import ecs
from fleetctl.controller.conditions import conditions, is_ready
from tests.fakes.ecs import FakeAws


def _register(fake: FakeAws, family: str) -> str:
    resp = fake.ecs_register_task_definition(family, containerDefinitions=[{"name": "app", "image": "x"}])
    return resp["taskDefinition"]["taskDefinitionArn"]


async def _conditions(fake: FakeAws, name: str = "api") -> dict[str, tuple[bool, str]]:
    svc = (await ecs.describe_services(fake, "fleet", [name])).get(name)
    found = {c.type: (c.status, c.reason) for c in conditions(svc)}
    assert found.pop("Serving") == (None, "NotChecked")  # no NATS verdict given: Serving is Unknown
    return found


async def test_conditions_follow_a_rollout() -> None:
    fake = FakeAws(auto_step=False)
    assert await _conditions(fake) == {"Ready": (False, "ServiceNotFound"), "Progressing": (False, "ServiceNotFound"),
                                       "Degraded": (False, "ServiceNotFound")}
    td1 = _register(fake, "api")
    fake.ecs_create_service("fleet", "api", td1, desiredCount=2, deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": True, "rollback": True}, "minimumHealthyPercent": 100})
    c = await _conditions(fake)
    assert c["Ready"] == (False, "RolloutInProgress") and c["Progressing"] == (True, "NewDeployment")
    assert c["Degraded"][0] is False

    fake.complete()
    c = await _conditions(fake)
    assert c == {"Ready": (True, "RolloutComplete"), "Progressing": (False, "Stable"),
                 "Degraded": (False, "Healthy")}

    # a new revision: the old deployment serves while the new one rolls out
    td2 = _register(fake, "api")
    fake.ecs_update_service("fleet", "api", taskDefinition=td2)
    fake.step()
    c = await _conditions(fake)
    assert c["Ready"] == (False, "RolloutInProgress") and c["Progressing"] == (True, "NewDeployment")
    fake.complete()
    svc = (await ecs.describe_services(fake, "fleet", ["api"]))["api"]
    assert is_ready(svc, "api:2") and not is_ready(svc, "api:1")

    # a scale outside a deployment
    fake.ecs_update_service("fleet", "api", desiredCount=3)
    c = await _conditions(fake)
    assert c["Ready"][0] is False and c["Progressing"] == (True, "Scaling")
    fake.complete()
    assert (await _conditions(fake))["Ready"] == (True, "RolloutComplete")


async def test_a_failed_rollout_is_degraded_then_rolled_back() -> None:
    fake = FakeAws(auto_step=False)
    fake.ecs_create_service("fleet", "api", _register(fake, "api"), desiredCount=1, deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    fake.complete()
    fake.fail_rollout("api")
    fake.ecs_update_service("fleet", "api", taskDefinition=_register(fake, "api"))
    fake.step()   # tasks placed
    fake.step()   # they fail to start: the circuit breaker trips and rolls back to revision 1
    svc = (await ecs.describe_services(fake, "fleet", ["api"]))["api"]
    assert [d.rollout_state for d in svc.deployments] == ["IN_PROGRESS", "FAILED", "COMPLETED"]
    c = {x.type: (x.status, x.reason) for x in conditions(svc)}
    assert c["Ready"][0] is False and c["Progressing"][0] is True
    assert c["Degraded"] == (True, "RolledBack")
    stopped = await ecs.list_task_arns(fake, "fleet", "api", desired_status="STOPPED")
    tasks = await ecs.describe_tasks(fake, "fleet", stopped)
    assert {t.stop_code for t in tasks} == {"EssentialContainerExited"}

    fake.complete()
    svc = (await ecs.describe_services(fake, "fleet", ["api"]))["api"]
    assert is_ready(svc, "api:1")
    assert svc.task_definition.endswith("api:1")


async def test_a_failed_rollout_without_rollback_is_not_ready() -> None:
    fake = FakeAws(auto_step=False)
    fake.ecs_create_service("fleet", "api", _register(fake, "api"), desiredCount=1, deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    fake.fail_rollout("api")
    fake.complete()
    c = await _conditions(fake)
    assert c["Ready"] == (False, "RolloutFailed")
    assert c["Progressing"] == (False, "RolloutFailed")
    assert c["Degraded"] == (True, "RolloutFailed")
