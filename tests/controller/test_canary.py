"""Canaries end to end: the sandbox (moto + task runner), the real nats-server, the real `settings`
service, and a traffic generator sending requests through NATS while the canary bakes.

One fleet walks through the cases in order (one initial rollout, shared by all of them): a revision
that fails half its requests is aborted with the evidence (that it is not tried again is tested on
the in-memory ECS, test_canary_unit.py); a revision with too little traffic waits (inconclusive)
until `rollout promote`; `fleetctl apply` killed mid-bake is taken up by the operator and, run
again, resumes the same canary (its bake start and baseline) and promotes it. The stable service
never runs fewer tasks than desired, and no canary service is left behind.
"""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from typing import Any

import pytest

from fleetctl.controller import canary as c
from tests.conftest import REPO
from tests.controller.conftest import push_image

pytestmark = pytest.mark.timeout(300)

CANARY = {"strategy": "canary", "canary": {"instances": 1, "bakeTime": "3s", "minRequests": 10,
                                           "maxErrorRate": 0.05, "onInconclusive": "wait"}}


def traffic(sandbox_handle: Any) -> Any:
    """settings.get requests through NATS as the gateway sends them, ~40 a second (bench/canary_cost.py)."""
    from bench.canary_cost import gateway_password, settings_traffic

    password = gateway_password(sandbox_handle.client("secretsmanager"),
                                sandbox_handle.value("nats_credentials_secret_arn"))
    return settings_traffic(sandbox_handle.value("nats_url"), password, limit=4000)


class Watch:
    """Samples the stable service's running count while a canary runs: it must never drop below desired."""

    def __init__(self, ecs: Any, cluster: str) -> None:
        self.ecs, self.cluster = ecs, cluster
        self.samples: list[tuple[int, int]] = []
        self._stop = asyncio.Event()

    async def __aenter__(self) -> "Watch":
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.wait_for(self._task, 30)

    async def _run(self) -> None:
        while not self._stop.is_set():
            svc = (await asyncio.to_thread(self.ecs.describe_services, cluster=self.cluster,
                                           services=["settings"]))["services"][0]
            self.samples.append((svc["runningCount"], svc["desiredCount"]))
            try:
                await asyncio.wait_for(self._stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass

    def never_below_desired(self) -> bool:
        return bool(self.samples) and all(running >= desired for running, desired in self.samples)


async def _cli(fleet: Any, *args: str, timeout: float = 150) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "fleetctl.cli", *args, cwd=REPO,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


async def _apply_in_process(fleet: Any) -> str:
    from fleetctl.controller.apply import ApplyOptions, apply
    from fleetctl.controller.aws import Aws
    from fleetctl.controller.manifest import load_manifest
    from fleetctl.controller.reconcile import dependencies, reconcile_plan

    spec = load_manifest(fleet.manifest, tf_outputs=fleet.outputs).fleet
    async with Aws.for_target(spec.spec.target) as aws:
        rec = await reconcile_plan(aws, spec)
        result = await apply(rec.plan, aws, fleet_name=spec.metadata.name, dependencies=dependencies(spec),
                             observed=rec.observed.services, options=ApplyOptions(poll_interval=0.5, timeout=60))
    return result.outcomes["settings"].status


def _apply_args(fleet: Any) -> list[str]:
    return ["apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json"]


def _services(ecs: Any, fleet: Any) -> dict[str, dict[str, Any]]:
    found = ecs.describe_services(cluster=fleet.cluster, services=["settings", "settings-canary"], include=["TAGS"])
    return {s["serviceName"]: {**s, "tagMap": {t["key"]: t["value"] for t in s.get("tags", [])}}
            for s in found["services"]}


def _new_image(sandbox_handle: Any, fleet: Any, tag: str, **env: str) -> None:
    push_image(sandbox_handle, "settings", tag)
    svc = fleet.service("settings")
    svc["image"] = svc["image"].rsplit(":", 1)[0] + f":{tag}"
    svc["environment"] = dict(env)
    fleet.write()


async def test_canaries_abort_wait_promote_and_resume(make_fleet, sandbox_handle):
    # no container health check: the serving gate's NATS half says when tasks serve (and it is faster)
    fleet = make_fleet(["settings"], settings={"rollout": CANARY, "healthCheck": False})
    fleet.doc["spec"]["rollout"] = {"minReadySeconds": 0, "progressDeadlineSeconds": 60, "natsGate": "required"}
    fleet.write()
    ecs = sandbox_handle.client("ecs")
    assert await _apply_in_process(fleet) == "ready"    # created in place: a new service needs no canary
    stable = _services(ecs, fleet)["settings"]["taskDefinition"]

    # 1. half of the new revision's requests fail: aborted, with the evidence for both sides
    _new_image(sandbox_handle, fleet, "faulty", FAULT_ERROR_RATE="0.5")
    async with traffic(sandbox_handle) as sent, Watch(ecs, fleet.cluster) as watch:
        code, out, err = await _cli(fleet, *_apply_args(fleet))
    assert code == 1, err
    outcome = json.loads(out)["services"][0]
    verdict = outcome["canary"]["verdict"]
    assert outcome["status"] == "failed" and "aborted" in outcome["message"], outcome["message"]
    assert verdict["outcome"] == "fail" and "error rate" in verdict["reason"]
    get = next(e for e in verdict["endpoints"] if e["subject"] == "settings.get")
    assert get["canary"]["errors"] > 0 and get["canary"]["errorRate"] > 0.3 and get["stable"]["errors"] == 0
    assert get["stable"]["requests"] > 0 and get["canary"]["meanProcessingMs"] is not None
    assert "settings.get: canary " in err and "| stable " in err          # explained inline
    live = _services(ecs, fleet)
    assert live["settings"]["taskDefinition"] == stable
    assert live["settings-canary"]["status"] != "ACTIVE"
    assert watch.never_below_desired(), watch.samples
    assert sent.ok > 0 and sent.errors > 0

    # 2. no traffic: inconclusive, the canary waits; `rollout status` shows it; `rollout promote` finishes it
    _new_image(sandbox_handle, fleet, "quiet")
    code, out, err = await _cli(fleet, *_apply_args(fleet))
    assert code == 1, err
    assert "fewer than minRequests" in json.loads(out)["services"][0]["message"]
    flags = ["-m", str(fleet.manifest), "--tf-outputs", str(fleet.outputs)]
    code, out, err = await _cli(fleet, "rollout", "status", "settings", *flags, "-o", "json")
    assert code == 0, err
    assert json.loads(out)["canary"]["phase"] == c.INCONCLUSIVE
    code, out, err = await _cli(fleet, "rollout", "promote", "settings", *flags, "-o", "json")
    assert code == 0, out + err
    assert json.loads(out)["status"] == "promoted"
    live = _services(ecs, fleet)
    assert live["settings"]["taskDefinition"] != stable and live["settings-canary"]["status"] != "ACTIVE"
    stable = live["settings"]["taskDefinition"]

    # 3. apply killed mid-bake; the operator picks the same canary up (and is stopped inside the bake);
    #    apply run again resumes it (the same canary service, bake start and baseline) and promotes it
    _new_image(sandbox_handle, fleet, "good")
    fleet.service("settings")["rollout"]["canary"]["bakeTime"] = "10s"   # room to stop the operator inside it
    fleet.write()
    async with traffic(sandbox_handle) as sent, Watch(ecs, fleet.cluster) as watch:
        created, bake_start = await _kill_apply_mid_bake(fleet, ecs)
        log = await _operator_resumes(fleet)
        code, out, err = await _cli(fleet, *_apply_args(fleet))
    assert code == 0, err
    assert any("canary settings-canary Baking" in line and "resume" in line for line in log), log
    assert any("canary stopped" in line for line in log), log
    outcome = json.loads(out)["services"][0]
    assert outcome["status"] == "ready" and "canary pass" in outcome["message"], outcome["message"]
    assert outcome["canary"]["record"]["bakeStart"] == float(bake_start)     # not baked again from the start
    assert watch.never_below_desired(), watch.samples
    canary = _services(ecs, fleet)["settings-canary"]
    assert canary["status"] != "ACTIVE" and canary["createdAt"] == created   # the same canary, not a second
    names = [n.rsplit("/", 1)[-1] for n in ecs.list_services(cluster=fleet.cluster)["serviceArns"]]
    assert [n for n, s in _services(ecs, fleet).items() if s["status"] == "ACTIVE" and n in names] == ["settings"]


async def _kill_apply_mid_bake(fleet: Any, ecs: Any) -> tuple[Any, str]:
    """SIGKILL a running apply once its canary bakes; returns the canary's createdAt and bake start."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "fleetctl.cli", *_apply_args(fleet), cwd=REPO,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            canary = (await asyncio.to_thread(_services, ecs, fleet)).get("settings-canary", {})
            if canary.get("tagMap", {}).get(c.PHASE) == c.BAKING:
                proc.send_signal(signal.SIGKILL)
                return canary["createdAt"], canary["tagMap"][c.BAKE_START]
            await asyncio.sleep(0.2)
        raise AssertionError("the canary never started baking")
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def _operator_resumes(fleet: Any) -> list[str]:
    """Run the operator until it takes the canary up, then stop it; its log lines."""
    from fleetctl.controller.operator import Operator

    class Seen(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.seen.append(record.getMessage())

    seen = Seen()
    logger = logging.getLogger("fleetctl.controller")
    logger.addHandler(seen)
    level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not the attribute: it clears the loggers' isEnabledFor cache
    op = Operator(fleet.manifest, tf_outputs=fleet.outputs, interval=1.0, progress_interval=0.5, health_port=None)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(op.run(stop, ready))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("resume" in line for line in seen.seen):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        logger.removeHandler(seen)
        logger.setLevel(level)
    return seen.seen
