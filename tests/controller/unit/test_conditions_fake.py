"""Ready / Progressing / Degraded from the in-memory ECS's states, step by step."""
from __future__ import annotations

from controller.aws import ecs
from controller.conditions import conditions, is_ready
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
    assert {t.stop_code for t in tasks} == {"TaskFailedToStart"}

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


async def test_fake_api_limits_and_paging() -> None:
    """The limits the controller's batching relies on hold in the fake as in ECS."""
    from controller.errors import CloudError

    fake = FakeAws()
    td = _register(fake, "s")
    for i in range(230):
        fake.ecs_create_service("fleet", f"s{i}", td, desiredCount=0)
    names = await ecs.list_service_names(fake, "fleet")
    assert len(names) == 230 and fake.calls["ecs.ListServices"] == 3   # pages of 100
    states = await ecs.describe_services(fake, "fleet", names + ["gone"])
    assert len(states) == 230 and fake.calls["ecs.DescribeServices"] == 24  # batches of 10
    try:
        await fake.call("ecs", "describe_services", cluster="fleet", services=names[:11])
    except CloudError as exc:
        assert exc.code == "InvalidParameterException"
    else:
        raise AssertionError("11 services in one DescribeServices were accepted")
    # CreateService is idempotent per clientToken, and refuses a second create without it
    first = await fake.call("ecs", "create_service", cluster="fleet", serviceName="x", taskDefinition=td,
                            clientToken="t-1")
    again = await fake.call("ecs", "create_service", cluster="fleet", serviceName="x", taskDefinition=td,
                            clientToken="t-1")
    assert first["service"]["serviceArn"] == again["service"]["serviceArn"]
    try:
        await fake.call("ecs", "create_service", cluster="fleet", serviceName="x", taskDefinition=td)
    except CloudError as exc:
        assert exc.code == "InvalidParameterException"
    else:
        raise AssertionError("a second CreateService without the token was accepted")
    # an injected error is raised once, as the real client raises it
    fake.inject("ecs.update_service", "ThrottlingException", "Rate exceeded")
    try:
        await fake.call("ecs", "update_service", cluster="fleet", service="x", desiredCount=1)
    except CloudError as exc:
        assert exc.code == "ThrottlingException" and exc.operation == "ecs:UpdateService"
    else:
        raise AssertionError("the injected error was not raised")
    await fake.call("ecs", "update_service", cluster="fleet", service="x", desiredCount=1)


def test_aws_and_the_fake_implement_the_protocol() -> None:
    from controller.aws.client import Aws
    from controller.aws.protocol import AwsApi

    assert isinstance(FakeAws(), AwsApi)
    assert isinstance(Aws("us-east-1"), AwsApi)
