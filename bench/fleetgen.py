"""Generated fleets of any size, shaped like a real one, for the scale benchmarks.

    .venv/bin/python bench/fleetgen.py 5000 > /tmp/fleet5000.yaml

Every service has an image pinned by digest through `${tf:ecr_registry}`, a command, three
subjects (one of them a `>` wildcard under its own prefix), a shared health subject served by
every service in one queue group (all overlap, none conflicts), an environment variable and a
secret on every tenth service and dependencies on up to two earlier services. Defaults use
`${tf:...}` references like manifests/local.yaml, so validating resolves them from
tests/fixtures/local-tf-outputs.json.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TF_OUTPUTS = REPO / "tests" / "fixtures" / "local-tf-outputs.json"

HEADER = """\
apiVersion: fleetctl/v1
kind: Fleet
metadata:
  name: {name}
spec:
  target:
    kind: sandbox
    region: us-east-1
    cluster: ${{tf:ecs_cluster_name}}
    endpoint: ${{tf:aws_endpoint_url}}
    credentialsFile: ${{tf:sandbox_credentials_file}}
  nats:
    urls: ["${{tf:nats_url}}"]
  maxConcurrency: 32
  defaults:
    launchType: FARGATE
    cpu: 256
    memory: 512
    network:
      subnets: ${{tf:private_subnet_ids}}
      securityGroups: ["${{tf:tasks_security_group_id}}"]
    executionRoleArn: ${{tf:task_execution_role_arn}}
    taskRoleArn: ${{tf:task_role_arn}}
    logs:
      group: ${{tf:log_group_name}}
    environment:
      LOG_LEVEL: info
  services:
"""

SERVICE = """\
    - name: svc-{i:05d}
      image: ${{tf:ecr_registry}}/gaming/svc{i}@sha256:{digest}
      desiredCount: {count}
      command: [python, -m, services.svc{i}]
      subjects:
        - svc{i}.get
        - svc{i}.events.>
        - {{subject: fleet.health, queue: health}}
"""


def manifest(n: int, *, name: str = "gen", desired_count: int = 1) -> str:
    parts = [HEADER.format(name=name)]
    for i in range(n):
        digest = hashlib.sha256(f"svc{i}".encode()).hexdigest()
        parts.append(SERVICE.format(i=i, digest=digest, count=desired_count))
        if i % 10 == 9:
            parts.append(f"      environment: {{SHARD: \"{i % 16}\"}}\n"
                         f"      secrets: {{API_KEY: \"arn:aws:secretsmanager:us-east-1:123456789012:secret:svc{i}-key\"}}\n")
        deps = [d for d in (i - 1, i // 2) if 0 <= d < i]
        if deps:
            parts.append("      dependsOn: [{}]\n".format(", ".join(f"svc-{d:05d}" for d in sorted(set(deps)))))
    return "".join(parts)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    sys.stdout.write(manifest(n))


if __name__ == "__main__":
    main()
