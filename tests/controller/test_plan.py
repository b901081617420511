"""plan() is pure: observed state built the way AWS reports it plans to nothing; real changes do not."""
from __future__ import annotations

import copy
import random

from hypothesis import given, settings, strategies as st

from fleetctl.controller.manifest import load_manifest
from fleetctl.controller.plan import (
    TASK_DEF_TAG,
    CreateServiceAction,
    RegisterTaskDefinitionAction,
    ScaleServiceAction,
    TagServiceAction,
    UpdateServiceAction,
    plan,
)
from fleetctl.controller.render import FLEET_TAG, TD_HASH_TAG, render
from fleetctl.controller.state import DeploymentState, ObservedFleet, ServiceState
from tests.conftest import PROD_TF_OUTPUTS, REPO

FLEET = load_manifest(REPO / "manifests" / "prod.yaml", tf_outputs=PROD_TF_OUTPUTS).fleet
RENDERED = render(FLEET)


def as_aws_returns(td: dict, revision: int, rng: random.Random) -> dict:
    """A DescribeTaskDefinition result: read-only fields, AWS defaults, lists in another order."""
    out = copy.deepcopy(td)
    out.pop("tags", None)
    out.update(taskDefinitionArn=f"arn:aws:ecs:us-east-1:111122223333:task-definition/{td['family']}:{revision}",
               revision=revision, status="ACTIVE", compatibilities=["EC2", "FARGATE"],
               requiresAttributes=[{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
               registeredAt="2026-11-01T00:00:00Z", registeredBy="arn:aws:iam::111122223333:role/x",
               volumes=[], placementConstraints=[])
    for c in out["containerDefinitions"]:
        c.update(cpu=0, mountPoints=[], volumesFrom=[], systemControls=[])
        rng.shuffle(c["environment"])
        rng.shuffle(c.get("secrets", []))
        for p in c.get("portMappings", []):
            p["hostPort"] = p["containerPort"]
    return out


def observed_for(rendered, *, trusted: bool, rng: random.Random, revision: int = 3) -> ObservedFleet:
    services, tds = {}, {}
    for r in rendered:
        td = as_aws_returns(r.register_task_definition, revision, rng)
        arn = td["taskDefinitionArn"]
        tds[arn] = td
        tags = {FLEET_TAG: "gaming-system"}
        if trusted:
            tags.update({TD_HASH_TAG: r.td_hash, TASK_DEF_TAG: f"{td['family']}:{revision}"})
        net = copy.deepcopy(r.create_service["networkConfiguration"])
        rng.shuffle(net["awsvpcConfiguration"]["subnets"])
        services[r.name] = ServiceState(
            name=r.name, arn=f"arn:aws:ecs:us-east-1:111122223333:service/c/{r.name}", status="ACTIVE",
            task_definition=arn, desired=r.create_service["desiredCount"], running=r.create_service["desiredCount"],
            pending=0, launch_type="FARGATE", network=net,
            deployment_configuration={**r.create_service["deploymentConfiguration"], "alarms": {"enable": False}},
            tags=tags,
            deployments=(DeploymentState("ecs-svc/1", "PRIMARY", arn, 2, 2, 0, 0, "COMPLETED", None, None, None),),
        )
    return ObservedFleet(cluster="gaming-system-cluster", services=services, task_definitions=tds)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.booleans())
def test_state_as_aws_reports_it_plans_to_nothing(seed, trusted):
    p = plan(RENDERED, observed_for(RENDERED, trusted=trusted, rng=random.Random(seed)), fleet_name="gaming-system")
    if trusted:
        assert p.is_empty, p.as_dict()
    else:
        # contents match; only the ownership record is missing
        assert {type(a) for sp in p.services for a in sp.actions} == {TagServiceAction}


def test_empty_cluster_plans_register_and_create_everything():
    p = plan(RENDERED, ObservedFleet(cluster="c"), fleet_name="gaming-system")
    for sp in p.services:
        assert [type(a) for a in sp.actions] == [RegisterTaskDefinitionAction, CreateServiceAction]
    assert len(p.services) == 23 and not p.is_empty


def test_an_image_change_registers_and_updates_only_that_service():
    observed = observed_for(RENDERED, trusted=True, rng=random.Random(1))
    services = [s.model_copy(update={"image": s.image.split("@")[0] + "@sha256:" + "ab" * 32}) if s.name == "quest" else s
                for s in FLEET.spec.services]
    changed = FLEET.model_copy(update={"spec": FLEET.spec.model_copy(update={"services": services})})
    p = plan(render(changed), observed, fleet_name="gaming-system")
    touched = {sp.service: [type(a) for a in sp.actions] for sp in p.services if sp.actions}
    assert touched == {"quest": [RegisterTaskDefinitionAction, UpdateServiceAction, TagServiceAction]}
    update = next(a for a in p.for_service("quest").actions if isinstance(a, UpdateServiceAction))
    assert set(update.changes) == {"taskDefinition"} and update.uses_new_task_definition
    register = p.for_service("quest").actions[0]
    assert "+" in register.diff and "ab" * 32 in register.diff
    tag = p.for_service("quest").actions[-1]
    live = observed.services["quest"].task_definition.rsplit("/", 1)[-1]
    assert tag.previous == live and tag.task_definition is None  # filled in once registered


def test_hand_scaling_plans_a_scale_back():
    observed = observed_for(RENDERED, trusted=True, rng=random.Random(2))
    s = observed.services["auth"]
    observed.services["auth"] = ServiceState(**{**s.__dict__, "desired": 7})
    p = plan(RENDERED, observed, fleet_name="gaming-system")
    (scale,) = p.for_service("auth").actions  # the recorded spec still holds: no tag write
    assert isinstance(scale, ScaleServiceAction) and (scale.old, scale.new) == (7, 2)


def test_a_hand_edited_task_definition_is_drift():
    rng = random.Random(3)
    observed = observed_for(RENDERED, trusted=False, rng=rng)
    arn = observed.services["payment"].task_definition
    observed.task_definitions[arn]["containerDefinitions"][0]["environment"].append({"name": "DEBUG", "value": "1"})
    p = plan(RENDERED, observed, fleet_name="gaming-system")
    actions = p.for_service("payment").actions
    assert isinstance(actions[0], RegisterTaskDefinitionAction)
    assert "-  - name: DEBUG" in actions[0].diff or "- name: DEBUG" in actions[0].diff


def test_plan_does_no_io(monkeypatch):
    import socket

    def refuse(*a, **k):
        raise AssertionError("plan() opened a socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    plan(RENDERED, observed_for(RENDERED, trusted=False, rng=random.Random(4)), fleet_name="gaming-system")
