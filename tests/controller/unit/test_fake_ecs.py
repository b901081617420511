"""The in-memory ECS keeps the API limits and semantics the controller relies on."""
from __future__ import annotations

from fleetctl.controller.aws import ecs
from tests.fakes.ecs import FakeAws


def _register(fake: FakeAws, family: str) -> str:
    resp = fake.ecs_register_task_definition(family, containerDefinitions=[{"name": "app", "image": "x"}])
    return resp["taskDefinition"]["taskDefinitionArn"]


async def test_fake_api_limits_and_paging() -> None:
    """The limits the controller's batching relies on hold in the fake as in ECS."""
    from fleetctl.controller.errors import CloudError

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
    from fleetctl.controller.aws.client import Aws
    from fleetctl.controller.aws.protocol import AwsApi

    assert isinstance(FakeAws(), AwsApi)
    assert isinstance(Aws("us-east-1"), AwsApi)


async def test_an_injected_lost_reply_takes_effect() -> None:
    from fleetctl.controller.errors import CloudError

    fake = FakeAws()
    fake.inject("ecs.register_task_definition", "RequestTimeout", "reply lost", applied=True, retryable=True)
    try:
        await fake.call("ecs", "register_task_definition", family="x", containerDefinitions=[{"name": "a"}])
    except CloudError as exc:
        assert exc.code == "RequestTimeout"
    else:
        raise AssertionError("the injected error was not raised")
    assert [td["revision"] for td in fake.task_definitions["x"]] == [1]   # registered all the same
