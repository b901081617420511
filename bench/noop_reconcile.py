"""No-op reconcile cost: AWS calls and wall time to confirm a fleet is in sync.

    python bench/noop_reconcile.py [--services 23 500] [--repeat 5] [--json]

Runs against the sandbox (started in a private state dir unless --endpoint is given). Each
size gets a fresh cluster; the fleet is applied once (desiredCount 0 for generated fleets, so
no processes run), then `reconcile_plan` is timed and its calls counted. Target: at most
ceil(N/10) + 2 calls.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from controller.apply import ApplyOptions, apply  # noqa: E402
from controller.aws import Aws  # noqa: E402
from controller.manifest import load_manifest  # noqa: E402
from controller.reconcile import dependencies, reconcile_plan  # noqa: E402


def fleet_doc(n: int, cluster: str, outputs: dict, ecr) -> dict:
    """manifests/local.yaml for n=23; otherwise n generated services with desiredCount 0.

    Images are pinned by digest, as in production: tag resolution is a per-repository ECR call.
    """
    doc = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
    doc["spec"].pop("terraformOutputs")
    doc["spec"]["allowImageTags"] = False
    for svc in doc["spec"]["services"]:
        repo = svc["image"].split("/", 1)[1].rsplit(":", 1)[0]
        digest = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "latest"}])["imageDetails"][0]["imageDigest"]
        svc["image"] = svc["image"].rsplit(":", 1)[0] + "@" + digest
    if n != 23:
        template = doc["spec"]["services"][0]
        doc["spec"]["services"] = [
            {"name": f"svc-{i:04d}", "image": template["image"], "desiredCount": 0,
             "command": ["python", "-c", "import time; time.sleep(1e9)"], "subjects": [f"bench.svc{i}.ping"]}
            for i in range(n)
        ]
    doc["spec"]["maxConcurrency"] = 32
    return doc


async def measure(manifest: Path, outputs: Path, repeat: int) -> dict:
    loaded = load_manifest(manifest, tf_outputs=outputs)
    fleet = loaded.fleet
    async with Aws.for_target(fleet.spec.target) as aws:
        rec = await reconcile_plan(aws, fleet)
        t0 = time.perf_counter()
        result = await apply(rec.plan, aws, fleet_name=fleet.metadata.name, dependencies=dependencies(fleet),
                             observed=rec.observed.services,
                             options=ApplyOptions(timeout=600, overall_timeout=1800, poll_interval=0.5, concurrency=32))
        apply_s = time.perf_counter() - t0
        if not result.ok:
            bad = [(o.service, o.message, [s.line() for s in o.stopped_tasks]) for o in result.outcomes.values() if o.failed]
            raise SystemExit(f"apply failed: {bad[:3]}")
    walls, calls = [], []
    for _ in range(repeat):
        async with Aws.for_target(fleet.spec.target) as aws:
            t0 = time.perf_counter()
            rec = await reconcile_plan(aws, fleet)
            walls.append(time.perf_counter() - t0)
            calls.append(dict(aws.calls))
            assert rec.plan.is_empty, "fleet not in sync after apply"
    n = len(fleet.spec.services)
    total = [sum(c.values()) for c in calls]
    return {
        "services": n,
        "initial_apply_s": round(apply_s, 2),
        "calls": calls[-1],
        "calls_total": total[-1],
        "target_calls": math.ceil(n / 10) + 2,
        "wall_s_median": round(statistics.median(walls), 4),
        "wall_s_min": round(min(walls), 4),
        "wall_s_max": round(max(walls), 4),
        "repeat": repeat,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, nargs="+", default=[23, 500])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from sandbox import api

    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-") as tmp:
        info = api.ensure_running(Path(tmp) / "sandbox")
        try:
            import boto3

            outputs = json.loads(info.outputs_path.read_text())
            ecs, ecr = (boto3.client(name, endpoint_url=info.endpoint_url, region_name="us-east-1",
                                     aws_access_key_id="x", aws_secret_access_key="x") for name in ("ecs", "ecr"))
            rows = []
            for n in args.services:
                cluster = f"bench-{uuid.uuid4().hex[:6]}"
                ecs.create_cluster(clusterName=cluster)
                outputs["ecs_cluster_name"]["value"] = cluster
                out_path = Path(tmp) / f"outputs-{n}.json"
                out_path.write_text(json.dumps(outputs))
                manifest = Path(tmp) / f"fleet-{n}.yaml"
                manifest.write_text(yaml.safe_dump(fleet_doc(n, cluster, outputs, ecr), sort_keys=False))
                rows.append(asyncio.run(measure(manifest, out_path, args.repeat)))
        finally:
            api.stop(Path(tmp) / "sandbox")
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'services':>8} {'calls':>6} {'target':>6} {'wall median s':>14} {'min':>7} {'max':>7}  calls by operation")
    for r in rows:
        ops = ", ".join(f"{k}={v}" for k, v in sorted(r["calls"].items()))
        print(f"{r['services']:>8} {r['calls_total']:>6} {r['target_calls']:>6} {r['wall_s_median']:>14.3f} "
              f"{r['wall_s_min']:>7.3f} {r['wall_s_max']:>7.3f}  {ops}")


if __name__ == "__main__":
    main()
