"""Diagnose cost: wall time and AWS calls to explain 100 stopped tasks on the sandbox.

    python bench/diagnose.py [--tasks 100] [--repeat 3]

Starts the sandbox in a private state dir, registers the task definitions of a two-service
fleet (no ECS services, so no scheduler interferes), then RunTask (group service:<name>) makes the stopped tasks: half fail to start on a missing
secret, half exit at once on a missing module. Times `diagnose` (network checks off).
Target: <= 2 s for 100 tasks, DescribeTasks batched by 100.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fleetctl.controller.aws import Aws  # noqa: E402
from fleetctl.controller.diagnose.online import diagnose  # noqa: E402
from fleetctl.controller.manifest import load_manifest  # noqa: E402

MISSING = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gaming/bench/missing-AbCdEf"


def write_fleet(tmp: Path, outputs: dict, cluster: str) -> tuple[Path, Path]:
    outputs = json.loads(json.dumps(outputs))
    outputs["ecs_cluster_name"]["value"] = cluster
    out_path = tmp / f"{cluster}-outputs.json"
    out_path.write_text(json.dumps(outputs))
    doc = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
    doc["spec"].pop("terraformOutputs")
    keep = [s for s in doc["spec"]["services"] if s["name"] in ("auth", "quest")]
    for s in keep:
        s.pop("dependsOn", None)
        s["desiredCount"] = 0
    keep[0 if keep[0]["name"] == "auth" else 1]["secrets"] = {"AUTH_SIGNING_KEY": MISSING}
    next(s for s in keep if s["name"] == "quest")["command"] = ["python", "-c", "import services.no_such_module"]
    doc["spec"]["services"] = keep
    manifest = tmp / f"{cluster}.yaml"
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    return manifest, out_path


async def make_stopped(endpoint: str, credentials: Any, manifest: Path, outputs: Path, n: int) -> None:
    import boto3

    from fleetctl.controller.render import render

    fleet = load_manifest(manifest, tf_outputs=outputs).fleet
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1", **credentials.client_kwargs())
    # task definitions only: no service exists, so no scheduler stops or replaces these tasks
    for rendered in render(fleet):
        td = dict(rendered.register_task_definition)
        td["containerDefinitions"] = [{**c, "image": c["image"]} for c in td["containerDefinitions"]]
        ecs.register_task_definition(**td)
    cluster = fleet.spec.target.cluster
    net = fleet.spec.defaults.network
    network = {"awsvpcConfiguration": {"subnets": list(net.subnets), "securityGroups": list(net.security_groups),
                                       "assignPublicIp": "DISABLED"}}
    for i in range(n):
        name = ("auth", "quest")[i % 2]
        ecs.run_task(cluster=cluster, taskDefinition=f"{fleet.metadata.name}-{name}", count=1, launchType="FARGATE",
                     group=f"service:{name}", networkConfiguration=network)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        arns = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
        done = sum(len([t for t in ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]
                        if t["lastStatus"] == "STOPPED" and t.get("stopCode")]) for i in range(0, len(arns), 100))
        if done >= n:
            return
        await asyncio.sleep(0.5)
    raise SystemExit(f"only {done}/{n} tasks stopped within 120 s")


async def measure(manifest: Path, outputs: Path) -> tuple[float, dict, int, int, list[str]]:
    fleet = load_manifest(manifest, tf_outputs=outputs).fleet
    async with Aws.for_target(fleet.spec.target) as aws:
        started = time.perf_counter()
        result = await diagnose(aws, fleet, network=False)
        wall = time.perf_counter() - started
        lines = [f"{f.service}: {f.category} x{len(f.tasks)}: {f.evidence[0][:90]}" for f in result.findings]
        return wall, dict(aws.calls), result.tasks_examined, len(result.findings), lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from fleetctl.sandbox import api
    from fleetctl.sandbox.config import SandboxConfig

    with tempfile.TemporaryDirectory(prefix="bench-diagnose-") as tmpdir:
        tmp = Path(tmpdir)
        info = api.ensure_running(tmp / "sandbox", SandboxConfig(startup_grace=0.2, tick=0.1))
        try:
            import boto3

            cluster = f"bench-{uuid.uuid4().hex[:6]}"
            boto3.client("ecs", endpoint_url=info.endpoint_url, region_name="us-east-1",
                         **info.credentials().client_kwargs()).create_cluster(clusterName=cluster)
            manifest, outputs = write_fleet(tmp, json.loads(info.outputs_path.read_text()), cluster)
            asyncio.run(make_stopped(info.endpoint_url, info.credentials(), manifest, outputs, args.tasks))
            runs = [asyncio.run(measure(manifest, outputs)) for _ in range(args.repeat)]
        finally:
            api.stop(tmp / "sandbox")
    walls = [r[0] for r in runs]
    wall, calls, examined, findings, categories = runs[-1]
    print(f"stopped tasks diagnosed: {examined}   findings: {findings}")
    for line in categories:
        print(f"  {line}")
    print(f"wall time: median {statistics.median(walls):.3f} s  (runs: {', '.join(f'{w:.3f}' for w in walls)})  target <= 2 s")
    print(f"AWS calls: {sum(calls.values())}  " + "  ".join(f"{k}={v}" for k, v in sorted(calls.items())))


if __name__ == "__main__":
    main()
