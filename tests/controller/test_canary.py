"""Canaries end to end: the sandbox (moto + task runner), the real nats-server, the real `settings`
service, and a traffic generator sending requests through NATS while the canary bakes.

One fleet walks through the cases in order (one initial rollout, shared by all of them):
a revision that fails half its requests is aborted with the evidence; the same revision is not
tried again; a revision with too little traffic waits (inconclusive) until `rollout promote`;
`fleetctl apply` killed mid-bake is resumed by the operator, which promotes the same canary. The
stable service never runs fewer tasks than desired, and no canary service is left behind.
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
from fleetctl.controller.plan import TASK_DEF_TAG
from tests.conftest import REPO, run_cli
from tests.controller.conftest import push_image

pytestmark = pytest.mark.timeout(300)

CANARY = {"strategy": "canary", "canary": {"instances": 1, "bakeTime": "4s", "minRequests": 20,
                                           "maxErrorRate": 0.05, "onInconclusive": "wait"}}


class Traffic:
    """settings.get requests as the gateway would send them, ~`rate` per second, until stopped (bounded)."""

    def __init__(self, sandbox_handle: Any, rate: float = 40.0, limit: int = 4000) -> None:
        self.sandbox, self.rate, self.limit = sandbox_handle, rate, limit
        self.sent = self.ok = self.errors = 0
        self.min_running: int | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Traffic":
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await asyncio.wait_for(self._task, 30)

    async def _run(self) -> None:
        import nats

        from fleetctl.controller.natsperms import inbox_prefix
        from sdk.proto import settings_pb2 as pb

        sm = self.sandbox.client("secretsmanager")
        password = json.loads(sm.get_secret_value(SecretId=self.sandbox.value("nats_credentials_secret_arn"))
                              ["SecretString"])["gateway"]
        client = await nats.connect(self.sandbox.value("nats_url"), user="gateway", password=password,
                                    inbox_prefix=inbox_prefix("gateway"), connect_timeout=5)
        body = pb.GetRequest(key="canary-drill").SerializeToString()
        try:
            while not self._stop.is_set() and self.sent < self.limit:
                self.sent += 1
                try:
                    reply = await client.request("settings.get", body, timeout=1.0)
                    failed = bool(reply.headers and reply.headers.get("Nats-Service-Error-Code"))
                    self.errors += failed
                    self.ok += not failed
                except Exception:
                    self.errors += 1
                try:
                    await asyncio.wait_for(self._stop.wait(), 1.0 / self.rate)
                except asyncio.TimeoutError:
                    pass
        finally:
            await client.close()


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
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", *args, cwd=REPO,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


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


async def test_canaries_abort_wait_promote_and_resume(make_fleet, sandbox_handle, caplog):
    fleet = make_fleet(["settings"], settings={"rollout": CANARY})
    fleet.doc["spec"]["rollout"] = {"minReadySeconds": 1, "progressDeadlineSeconds": 60, "natsGate": "required"}
    fleet.write()
    ecs = sandbox_handle.client("ecs")
    code, out, err = await _cli(fleet, *_apply_args(fleet))
    assert code == 0, err                              # created in place: a new service needs no canary
    stable = _services(ecs, fleet)["settings"]["taskDefinition"]

    # 1. half of the new revision's requests fail: aborted, with the evidence for both sides
    _new_image(sandbox_handle, fleet, "faulty", FAULT_ERROR_RATE="0.5")
    async with Traffic(sandbox_handle) as traffic, Watch(ecs, fleet.cluster) as watch:
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
    assert traffic.ok > 0

    # 2. the aborted revision is not tried again until the manifest changes
    code, out, err = await _cli(fleet, *_apply_args(fleet))
    assert code == 1 and "not retried" in json.loads(out)["services"][0]["message"]

    # 3. no traffic: inconclusive, the canary waits; `rollout status` shows it; `rollout promote` finishes it
    _new_image(sandbox_handle, fleet, "quiet")
    code, out, err = await _cli(fleet, *_apply_args(fleet))
    assert code == 1, err
    assert "fewer than minRequests" in json.loads(out)["services"][0]["message"]
    flags = ["-m", str(fleet.manifest), "--tf-outputs", str(fleet.outputs)]
    code, out, err = await _cli(fleet, "rollout", "status", "settings", *flags, "-o", "json")
    assert code == 0, err
    assert json.loads(out)["canary"]["phase"] == c.INCONCLUSIVE
    code, out, err = await _cli(fleet, "rollout", "promote", "settings", *flags)
    assert code == 0, out + err
    live = _services(ecs, fleet)
    assert live["settings"]["taskDefinition"] != stable and live["settings-canary"]["status"] != "ACTIVE"
    stable = live["settings"]["taskDefinition"]

    # 4. apply killed mid-bake: the operator resumes the same canary (same bake start) and promotes it
    _new_image(sandbox_handle, fleet, "good")
    async with Traffic(sandbox_handle) as traffic, Watch(ecs, fleet.cluster) as watch:
        created = await _kill_apply_mid_bake(fleet, ecs)
        with caplog.at_level(logging.INFO, logger="fleetctl.controller"):
            await _operator_until_promoted(fleet, ecs, stable)
    assert watch.never_below_desired(), watch.samples
    promoted = [r.getMessage() for r in caplog.records if "canary promoted" in r.getMessage()]
    assert promoted and "pass" in promoted[0], [r.getMessage() for r in caplog.records]
    canary = _services(ecs, fleet)["settings-canary"]
    assert canary["status"] != "ACTIVE" and canary["createdAt"] == created   # the same canary, not a second
    names = [n.rsplit("/", 1)[-1] for n in ecs.list_services(cluster=fleet.cluster)["serviceArns"]]
    assert [n for n, s in _services(ecs, fleet).items() if s["status"] == "ACTIVE" and n in names] == ["settings"]


async def _kill_apply_mid_bake(fleet: Any, ecs: Any) -> Any:
    """SIGKILL a running apply once its canary bakes; returns the canary's createdAt."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", *_apply_args(fleet), cwd=REPO,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            canary = (await asyncio.to_thread(_services, ecs, fleet)).get("settings-canary", {})
            if canary.get("tagMap", {}).get(c.PHASE) == c.BAKING:
                proc.send_signal(signal.SIGKILL)
                return canary["createdAt"]
            await asyncio.sleep(0.2)
        raise AssertionError("the canary never started baking")
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def _operator_until_promoted(fleet: Any, ecs: Any, stable: str) -> None:
    from fleetctl.controller.operator import Operator

    op = Operator(fleet.manifest, tf_outputs=fleet.outputs, interval=1.0, progress_interval=0.5, health_port=None)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(op.run(stop, ready))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            live = await asyncio.to_thread(_services, ecs, fleet)
            if live["settings"]["taskDefinition"] != stable and live["settings-canary"]["status"] != "ACTIVE" \
                    and TASK_DEF_TAG in live["settings"]["tagMap"] \
                    and live["settings"]["tagMap"][TASK_DEF_TAG] == live["settings"]["taskDefinition"].rsplit("/", 1)[-1]:
                return
            await asyncio.sleep(0.3)
        raise AssertionError("the operator did not promote the canary")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
