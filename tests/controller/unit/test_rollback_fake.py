"""rollback on the in-memory ECS: back to the recorded previous revision, through the rollout gate."""
from __future__ import annotations

import pytest

from fleetctl.controller.errors import FleetError
from fleetctl.controller.rollback import rollback
from fleetctl.controller.tags import PREVIOUS_TAG, TASK_DEF_TAG
from tests.controller.unit.conftest import CLUSTER, fleet_doc, load
from tests.controller.unit.test_apply_fake import _apply, _new_image
from tests.fakes.ecs import FakeAws


async def test_rollback_returns_to_the_previous_completed_revision(fake: FakeAws) -> None:
    doc = fleet_doc({"api": []})
    assert (await _apply(fake, doc)).ok
    _new_image(doc, "api")
    assert (await _apply(fake, doc)).ok
    assert fake.service_tags("api")[PREVIOUS_TAG] == "unit-api:1"

    result = await rollback(fake, CLUSTER, "api", poll_interval=0.005, timeout=10, fleet=load(doc).fleet)

    assert result.ok, result.message
    assert (result.from_revision, result.to_revision) == ("unit-api:2", "unit-api:1")
    assert fake.service("api")["taskDefinition"].endswith("unit-api:1")
    assert fake.service("api")["deployments"][0]["rolloutState"] == "COMPLETED"
    updates = [p for op, p in fake.log if op == "ecs.UpdateService"]
    assert updates[-1] == {"cluster": CLUSTER, "service": "api", "taskDefinition": "unit-api:1"}
    assert fake.service_tags("api")[TASK_DEF_TAG] == "unit-api:2"   # the record stays: plan sees the drift

    with pytest.raises(FleetError, match="no earlier revision of unit-api"):   # nothing before revision 1
        await rollback(fake, CLUSTER, "api", poll_interval=0.005, timeout=10)
