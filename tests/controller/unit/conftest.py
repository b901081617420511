"""Unit tests on the in-memory ECS (tests/fakes/ecs.py): no sandbox, no network, no NATS."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetctl.controller.manifest import LoadedManifest
from fleetctl.controller.manifest.load import parse_manifest
from tests.fakes.ecs import FakeAws

DIGEST = "sha256:" + "ab" * 32
CLUSTER = "fleet"


def fleet_doc(services: dict[str, list[str]], *, max_concurrency: int = 8, desired: int = 1,
              rollback: bool = True) -> dict[str, Any]:
    """A fleet of services named by `services` (name -> dependsOn), pinned images, natsGate off."""
    return {
        "apiVersion": "fleetctl/v1", "kind": "Fleet", "metadata": {"name": "unit"},
        "spec": {
            "target": {"kind": "aws", "region": "us-east-1", "cluster": CLUSTER},
            "nats": {"urls": ["nats://127.0.0.1:4222"]},
            "maxConcurrency": max_concurrency,
            "rollout": {"minReadySeconds": 0, "progressDeadlineSeconds": 30, "natsGate": "off"},
            "defaults": {
                "launchType": "FARGATE", "cpu": 256, "memory": 512,
                "network": {"subnets": ["subnet-0a1b2c3d4e5f60001"], "securityGroups": ["sg-0c0ffee0000000001"],
                            "assignPublicIp": False},
                "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                "deployment": {"circuitBreaker": {"enable": True, "rollback": rollback},
                               "minimumHealthyPercent": 100, "maximumPercent": 200},
            },
            "services": [
                {"name": name, "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/gaming/{name}@{DIGEST}",
                 "desiredCount": desired, "command": ["python", "-m", f"services.{name}"],
                 "subjects": [f"{name}.get"], **({"dependsOn": deps} if deps else {})}
                for name, deps in services.items()
            ],
        },
    }


def load(doc: dict[str, Any]) -> LoadedManifest:
    return parse_manifest(yaml.safe_dump(doc, sort_keys=False), require_tf_outputs=False)


@pytest.fixture
def fake() -> FakeAws:
    return FakeAws(clusters=(CLUSTER,))


@pytest.fixture
def write_manifest(tmp_path: Path):
    def write(doc: dict[str, Any]) -> Path:
        path = tmp_path / "fleet.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path
    return write
