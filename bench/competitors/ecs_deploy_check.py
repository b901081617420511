"""ecs-deploy's read path for N services: is each service running the expected image?

    .venv-bench/bin/python bench/competitors/ecs_deploy_check.py --cluster C --expect expect.json

Runs in the competitors' virtualenv. `ecs deploy` has no dry run (with unchanged images it
registers a new revision and redeploys), so this drives ecs-deploy's own library the way
`ecs deploy` starts: DeployAction (DescribeServices) and the current task definition
(DescribeTaskDefinition), then compares the container image. One process for the whole loop,
so no per-service start-up is counted. Prints {"seconds": ..., "in_sync": n, "services": n}.
`expect.json` maps service -> [container, image]. The endpoint comes from AWS_ENDPOINT_URL.
"""
import argparse
import json
import os
import time

from ecs_deploy.ecs import DeployAction, EcsClient


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--expect", required=True)
    args = ap.parse_args()
    expect = json.loads(open(args.expect).read())
    client = EcsClient(region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    in_sync = 0
    t0 = time.perf_counter()
    for service, (container, image) in expect.items():
        action = DeployAction(client, args.cluster, service)
        td = action.get_current_task_definition(action.service)
        current = {c["name"]: c["image"] for c in td.containers}
        in_sync += current.get(container) == image
    print(json.dumps({"seconds": time.perf_counter() - t0, "in_sync": in_sync, "services": len(expect)}))


if __name__ == "__main__":
    main()
