"""`render` prints what apply sends: every ECS write apply makes, captured on the in-memory ECS,
equals render's input for it, apart from what only apply can know (the revision registered)."""
from __future__ import annotations

from typing import Any

from fleetctl.controller.render import render
from fleetctl.controller.state import family_revision
from fleetctl.controller.tags import FLEET_TAG, PREVIOUS_TAG, TASK_DEF_TAG, TD_HASH_TAG
from tests.controller.unit.conftest import fleet_doc, load
from tests.controller.unit.test_apply_fake import _apply, _new_image
from tests.fakes.ecs import FakeAws

WRITES = ("ecs.RegisterTaskDefinition", "ecs.CreateService", "ecs.UpdateService", "ecs.TagResource")


async def _sent(fake: FakeAws, doc: dict[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], Any]:
    """Apply `doc`; the write requests it sent, by operation, and render's output for it."""
    start = len(fake.log)
    result = await _apply(fake, doc)
    assert result.ok, {n: o.message for n, o in result.outcomes.items()}
    sent: dict[str, list[dict[str, Any]]] = {op: [] for op in WRITES}
    for op, params in fake.log[start:]:
        if op in sent:
            sent[op].append(params)
    (rendered,) = render(load(doc).fleet)
    return sent, rendered


async def test_every_write_is_what_render_prints(fake: FakeAws) -> None:
    doc = fleet_doc({"api": []})

    # create: RegisterTaskDefinition as rendered; CreateService as rendered, on the revision registered
    sent, r = await _sent(fake, doc)
    (register,) = sent["ecs.RegisterTaskDefinition"]
    assert register == r.register_task_definition
    (create,) = sent["ecs.CreateService"]
    first = family_revision(create["taskDefinition"])
    assert first == "unit-api:1"
    assert create == {**r.create_service, "taskDefinition": create["taskDefinition"],
                      "tags": [*r.create_service["tags"], {"key": TASK_DEF_TAG, "value": first}]}
    assert r.create_service["taskDefinition"] == "unit-api"   # render names the family

    # update: a new image, count and deployment settings; UpdateService carries exactly the
    # changed fields of render's UpdateService input, on the revision registered
    _new_image(doc, "api")
    svc = doc["spec"]["services"][0]
    svc["desiredCount"] = 3
    svc["deployment"] = {"minimumHealthyPercent": 50, "maximumPercent": 150,
                         "circuitBreaker": {"enable": True, "rollback": True}}
    sent, r = await _sent(fake, doc)
    (register,) = sent["ecs.RegisterTaskDefinition"]
    assert register == r.register_task_definition
    (update,) = sent["ecs.UpdateService"]
    assert set(update) == {"cluster", "service", "taskDefinition", "desiredCount", "deploymentConfiguration"}
    assert family_revision(update["taskDefinition"]) == "unit-api:2"
    assert {k: v for k, v in update.items() if k != "taskDefinition"} == {
        k: r.update_service[k] for k in update if k != "taskDefinition"}
    assert r.update_service["deploymentConfiguration"]["minimumHealthyPercent"] == 50
    # the record written once the rollout holds: render's content hash, the new and the previous revision
    (tag,) = sent["ecs.TagResource"]
    assert {t["key"]: t["value"] for t in tag["tags"]} == {
        FLEET_TAG: "unit", TD_HASH_TAG: r.td_hash, TASK_DEF_TAG: "unit-api:2", PREVIOUS_TAG: first}

    # a count alone: one UpdateService of desiredCount, render's value
    svc["desiredCount"] = 1
    sent, r = await _sent(fake, doc)
    assert sent["ecs.RegisterTaskDefinition"] == [] and sent["ecs.TagResource"] == []
    assert sent["ecs.UpdateService"] == [{k: r.update_service[k] for k in ("cluster", "service", "desiredCount")}]

    # in sync: nothing is sent
    sent, _ = await _sent(fake, doc)
    assert all(not calls for calls in sent.values())
