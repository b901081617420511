"""plan/apply never touch a service that is not this fleet's, unless --adopt names it."""
from __future__ import annotations

import dataclasses
import json
import random

from fleetctl.controller.plan import AdoptServiceAction, TagServiceAction, plan
from fleetctl.controller.render import FLEET_TAG
from tests.conftest import run_cli
from tests.controller.test_plan import RENDERED, observed_for


def _owned_by(owner: str | None):
    observed = observed_for(RENDERED, trusted=True, rng=random.Random(1))
    name = RENDERED[0].name
    svc = observed.services[name]
    tags = {k: v for k, v in svc.tags.items() if k != FLEET_TAG}
    if owner is not None:
        tags[FLEET_TAG] = owner
    observed.services[name] = dataclasses.replace(svc, tags=tags, desired=svc.desired + 1)
    return name, observed


def test_another_fleets_or_an_untagged_service_is_a_conflict_with_no_action():
    for owner in ("other-fleet", None):
        name, observed = _owned_by(owner)
        p = plan(RENDERED, observed, fleet_name="gaming-system")
        assert [(c.service, c.owner) for c in p.conflicts] == [(name, owner)]
        assert p.for_service(name).actions == ()
        assert name not in p.in_sync
        assert not p.is_empty  # plan exits 1
        body = p.as_dict()
        assert body["conflicts"] == [{"service": name, "owner": owner, "message": p.conflicts[0].message()}]
        assert f"--adopt {name}" in p.conflicts[0].message()


def test_adopt_tags_the_service_first_then_plans_as_usual():
    name, observed = _owned_by("other-fleet")
    p = plan(RENDERED, observed, fleet_name="gaming-system", adopt={name})
    assert not p.conflicts
    actions = p.for_service(name).actions
    assert isinstance(actions[0], AdoptServiceAction) and actions[0].owner == "other-fleet"
    assert any(isinstance(a, TagServiceAction) for a in actions)
    assert "scale" in [a.kind for a in actions]


def _services(ecs, cluster, names):
    return {s["serviceName"]: s for s in
            ecs.describe_services(cluster=cluster, services=names, include=["TAGS"])["services"]}


async def test_plan_and_apply_refuse_another_fleets_service_until_adopted(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings", "time_manager"])
    ecs = sandbox_handle.client("ecs")
    # services of the same names made by someone else: one another fleet's, one untagged
    td = ecs.register_task_definition(family="elsewhere", containerDefinitions=[
        {"name": "c", "image": "busybox", "memory": 64, "command": ["sleep", "3600"]}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=fleet.cluster, serviceName="settings", taskDefinition=td, desiredCount=0,
                       tags=[{"key": FLEET_TAG, "value": "other-fleet"}])
    ecs.create_service(cluster=fleet.cluster, serviceName="time_manager", taskDefinition=td, desiredCount=0)
    before = _services(ecs, fleet.cluster, ["settings", "time_manager"])
    families = ecs.list_task_definition_families()["families"]
    args = [str(fleet.manifest), "--tf-outputs", str(fleet.outputs)]

    text = run_cli("plan", *args)
    assert text.code == 1, text.stderr
    assert "CONFLICT service settings exists and is owned by fleet 'other-fleet'" in text.stdout
    assert "CONFLICT service time_manager exists and is not tagged fleetctl.io/fleet" in text.stdout
    body = json.loads(run_cli("plan", *args, "-o", "json").stdout)
    assert {(c["service"], c["owner"]) for c in body["conflicts"]} == {("settings", "other-fleet"), ("time_manager", None)}
    assert body["services"] == []

    refused = run_cli("apply", *args, "--adopt", "time_manager")
    assert refused.code == 2
    assert refused.stderr.strip().splitlines() == [
        "error: service settings exists and is owned by fleet 'other-fleet'; not touched (take it over with --adopt settings)"]
    after = _services(ecs, fleet.cluster, ["settings", "time_manager"])
    for name in before:  # nothing written: same revision, count and tags
        assert (after[name]["taskDefinition"], after[name]["desiredCount"], after[name].get("tags")) == \
               (before[name]["taskDefinition"], before[name]["desiredCount"], before[name].get("tags"))
    assert ecs.list_task_definition_families()["families"] == families

    adopted = run_cli("plan", *args, "--adopt", "settings", "--adopt", "time_manager", "-o", "json")
    assert adopted.code == 1
    kinds = {s["service"]: [a["type"] for a in s["actions"]] for s in json.loads(adopted.stdout)["services"]}
    assert kinds["settings"][0] == "adopt" and kinds["time_manager"][0] == "adopt"

    out = run_cli("apply", *args, "--adopt", "settings", "--adopt", "time_manager", "--no-wait", timeout=120)
    assert out.code == 0, out.stderr
    after = _services(ecs, fleet.cluster, ["settings", "time_manager"])
    for name in ("settings", "time_manager"):
        tags = {t["key"]: t["value"] for t in after[name].get("tags", [])}
        assert tags[FLEET_TAG] == fleet.name
        assert after[name]["taskDefinition"].rsplit("/", 1)[-1].startswith(f"{fleet.name}-{name}:")


async def test_adopt_must_name_a_service_of_the_manifest():
    import pytest

    from fleetctl.controller.errors import FleetError
    from fleetctl.controller.manifest import parse_manifest
    from fleetctl.controller.reconcile import reconcile_plan
    from tests.conftest import FIXTURES

    fleet = parse_manifest((FIXTURES / "manifests" / "small.yaml").read_text(), env={}).fleet
    with pytest.raises(FleetError, match="--adopt nosuch: the manifest has no such service"):
        await reconcile_plan(None, fleet, adopt=frozenset({"nosuch"}))  # refused before any AWS call
