"""Cold start of the sandbox: seconds from `sandbox up` until N services all run.

    .venv/bin/python bench/sandbox_cold_start.py [--services 23] [--dir DIR] [--keep]

Each generated service runs one `python -c` container that sleeps forever. Prints the
time to a ready sandbox, to all services created, and to all tasks RUNNING (target <= 15 s
for 23 services on 2 cores). Uses the default daemon settings (1 s start-up grace).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=23)
    parser.add_argument("--dir", type=Path, default=None, help="state directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running")
    args = parser.parse_args()
    state_dir = args.dir or Path(tempfile.mkdtemp(prefix="sandbox-bench-"))

    import boto3

    from fleetctl.sandbox import api

    t0 = time.perf_counter()
    up = subprocess.run(
        [sys.executable, "-m", "sandbox", "up", "--dir", str(state_dir)], cwd=REPO, capture_output=True, text=True
    )
    if up.returncode != 0:
        print(up.stderr, file=sys.stderr)
        return 1
    t_up = time.perf_counter() - t0
    try:
        info = api.status(state_dir).info
        assert info is not None
        out = {k: v["value"] for k, v in json.loads(info.outputs_path.read_text()).items()}
        kw = dict(endpoint_url=info.endpoint_url, region_name="us-east-1",
                  **info.credentials().client_kwargs())  # fmt: skip
        ecr, ecs = boto3.client("ecr", **kw), boto3.client("ecs", **kw)
        ecr.create_repository(repositoryName="bench/python")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "layers": [{"digest": "sha256:" + "be" * 32}]}  # fmt: skip
        ecr.put_image(repositoryName="bench/python", imageManifest=json.dumps(manifest), imageTag="latest")
        image = f"{out['ecr_registry']}/bench/python:latest"
        network = {"awsvpcConfiguration": {"subnets": out["private_subnet_ids"],
                                           "securityGroups": [out["tasks_security_group_id"]]}}  # fmt: skip
        names = [f"bench-{i:02d}" for i in range(args.services)]
        for name in names:
            td = ecs.register_task_definition(
                family=name, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
                containerDefinitions=[{
                    "name": name, "image": image,
                    "command": ["python", "-c", "import time\nwhile True: time.sleep(3600)"],
                    "logConfiguration": {"logDriver": "awslogs", "options": {
                        "awslogs-group": out["log_group_name"], "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "ecs"}},
                }],
            )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
            ecs.create_service(cluster=out["ecs_cluster_name"], serviceName=name, taskDefinition=td,
                               desiredCount=1, launchType="FARGATE", networkConfiguration=network)  # fmt: skip
        t_created = time.perf_counter() - t0
        while True:
            running = 0
            for i in range(0, len(names), 10):
                services = ecs.describe_services(cluster=out["ecs_cluster_name"], services=names[i : i + 10])
                running += sum(1 for s in services["services"] if s["runningCount"] == s["desiredCount"])
            if running == len(names):
                break
            if time.perf_counter() - t0 > 120:
                print(f"timeout: {running}/{len(names)} services running", file=sys.stderr)
                return 1
            time.sleep(0.1)
        t_running = time.perf_counter() - t0
    finally:
        if not args.keep:
            api.stop(state_dir)
    print(f"services:                 {args.services}")
    print(f"up (daemon ready):        {t_up:6.2f} s")
    print(f"services created:         {t_created:6.2f} s")
    print(f"all services RUNNING:     {t_running:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
