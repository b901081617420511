"""The operator gates its own rollouts like apply: NATS round each pass, rollback and back-off, flips logged."""
from __future__ import annotations

import asyncio
import logging

import pytest

from fleetctl.controller.operator import Operator
from tests.controller.conftest import push_image
from tests.controller.test_gate import SLEEP, dead_nats
from tests.controller.test_operator import _until

pytestmark = pytest.mark.timeout(300)  # sandbox rollouts on a shared 2-core machine


async def test_operator_rolls_back_a_rollout_nats_rejects_and_reports_serving_and_crash_loop(
        make_fleet, sandbox_handle, caplog):
    caplog.set_level(logging.INFO, logger="fleetctl.controller")
    fleet = make_fleet(["settings", "time_manager", "language_system"],
                       time_manager={"command": dead_nats("time_manager"), "healthCheck": False, "subjects": []})
    fleet.doc["spec"]["rollout"] = {"minReadySeconds": 30, "progressDeadlineSeconds": 120}
    fleet.write()
    ecs = sandbox_handle.client("ecs")

    def td(name):
        found = ecs.describe_services(cluster=fleet.cluster, services=[name])["services"]
        return found[0]["taskDefinition"] if found and found[0]["deployments"][0]["rolloutState"] == "COMPLETED" \
            and found[0]["runningCount"] == 1 else None

    op = Operator(fleet.manifest, tf_outputs=fleet.outputs, interval=1.0, progress_interval=0.3, health_port=None,
                  backoff_base=30.0)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(op.run(stop, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        good = await _until(lambda: td("settings"), 40)
        old = await _until(lambda: td("language_system"), 40)
        await _until(lambda: op.conditions.snapshot("settings").get("Serving") is True, 20)
        # tasks of time_manager run ~2 s then exit: the gate fails, there is nothing to roll back to
        await _until(lambda: "time_manager: rollout" in caplog.text and "failed the gate" in caplog.text, 120)
        await _until(lambda: "Degraded=True (CrashLoop" in caplog.text, 60)

        # at once: settings never joins NATS (NoResponders); language_system's new image never connects
        # while its old task keeps serving (VersionSkew)
        fleet.service("settings").update(command=SLEEP, healthCheck=False)
        push_image(sandbox_handle, "language_system", "never-connects")
        image = fleet.service("language_system")["image"].rsplit(":", 1)[0] + ":never-connects"
        fleet.service("language_system").update(image=image, command=SLEEP)
        fleet.doc["spec"]["rollout"]["progressDeadlineSeconds"] = 10
        fleet.write()
        await _until(lambda: "settings: rollout" in caplog.text and "NoResponders" in caplog.text, 60)
        await _until(lambda: "language_system:   NATS VersionSkew" in caplog.text, 60)
        await _until(lambda: td("settings") == good and td("language_system") == old
                     and "settings: rollout" in caplog.text and "rolled back to" in caplog.text, 40)
        # the operator records each failure once its own rollback is done, which can be a poll after
        # ECS shows the old revision again: stopping before that would discard it
        await _until(lambda: all(name in op._backoff and op._backoff[name].failures >= 1
                                 for name in ("settings", "language_system")), 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    text = caplog.text
    assert "nats_unreachable" in text  # the diagnosis of time_manager's stopped tasks, in the log
    assert "settings: Serving=False (NoResponders" in text  # the flip, seen by the per-pass NATS round
    assert "still answering" in text.split("language_system:   NATS VersionSkew", 1)[1].splitlines()[0]
    assert "language_system: rollout" in text and "failed the gate" in text
    assert op.gate.rounds >= 3
    assert op._backoff["settings"].failures >= 1  # backing off before retrying the spec that did not hold
    assert op._backoff["language_system"].failures >= 1
