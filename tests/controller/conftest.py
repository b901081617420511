"""Fixtures for reconcile tests: the real sandbox, and fleets on clusters of their own."""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.conftest import REPO


@dataclass
class SandboxHandle:
    endpoint_url: str
    outputs: dict[str, Any]          # raw `terraform output -json` document
    state_dir: Path

    def client(self, service: str) -> Any:
        from fleetctl.sandbox.auth import Credentials

        credentials = Credentials.load(self.state_dir / "credentials.json")
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name="us-east-1",
                            **credentials.client_kwargs())

    def value(self, name: str) -> Any:
        return self.outputs[name]["value"]


@pytest.fixture(scope="session")
def sandbox_handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    from fleetctl.sandbox import api
    from fleetctl.sandbox.config import SandboxConfig

    state_dir = tmp_path_factory.mktemp("controller-sandbox")
    config = SandboxConfig(startup_grace=0.5, tick=0.1, backoff_base=0.2, backoff_max=2.0,
                           default_stop_timeout=5.0, shutdown_stop_timeout=2.0)
    info = api.ensure_running(state_dir, config)
    try:
        yield SandboxHandle(info.endpoint_url, json.loads(info.outputs_path.read_text()), state_dir)
    finally:
        report = api.stop(state_dir)
        assert not report.survivors


@dataclass
class TestFleet:
    manifest: Path
    outputs: Path
    cluster: str
    doc: dict[str, Any]

    @property
    def name(self) -> str:
        return self.doc["metadata"]["name"]

    def write(self) -> None:
        self.manifest.write_text(yaml.safe_dump(self.doc, sort_keys=False))

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.doc["spec"]["services"] if s["name"] == name)


def new_fleet(sandbox_handle: SandboxHandle, directory: Path, services: list[str],
              **service_overrides: dict[str, Any]) -> TestFleet:
    """A copy of manifests/local.yaml limited to some services, on a fresh cluster; files in `directory`."""
    cluster = f"test-{uuid.uuid4().hex[:8]}"
    sandbox_handle.client("ecs").create_cluster(clusterName=cluster)
    outputs = json.loads(json.dumps(sandbox_handle.outputs))
    outputs["ecs_cluster_name"]["value"] = cluster
    out_path = directory / "outputs.json"
    out_path.write_text(json.dumps(outputs))
    doc = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
    doc["spec"].pop("terraformOutputs")
    doc["metadata"]["name"] = cluster  # task definition families are per fleet: tests do not share them
    keep = [s for s in doc["spec"]["services"] if s["name"] in services]
    for s in keep:
        s["dependsOn"] = [d for d in s.get("dependsOn", []) if d in services]
        if not s["dependsOn"]:
            s.pop("dependsOn")
        s.update(service_overrides.get(s["name"], {}))
    doc["spec"]["services"] = keep
    fleet = TestFleet(directory / "fleet.yaml", out_path, cluster, doc)
    fleet.write()
    return fleet


def delete_services(sandbox_handle: SandboxHandle, clusters: list[str]) -> None:
    """Stop what a test started, so later tests do not share the machine with it."""
    ecs = sandbox_handle.client("ecs")
    for cluster in clusters:
        for arn in ecs.list_services(cluster=cluster).get("serviceArns", []):
            ecs.delete_service(cluster=cluster, service=arn, force=True)


@pytest.fixture
def make_fleet(sandbox_handle: SandboxHandle, tmp_path: Path):
    """A copy of manifests/local.yaml limited to some services, on a fresh cluster."""
    clusters: list[str] = []

    def make(services: list[str], **service_overrides: dict[str, Any]) -> TestFleet:
        fleet = new_fleet(sandbox_handle, tmp_path, services, **service_overrides)
        clusters.append(fleet.cluster)
        return fleet

    yield make
    delete_services(sandbox_handle, clusters)


def push_image(sandbox_handle: SandboxHandle, name: str, tag: str) -> str:
    """Register another image for `gaming/<name>` in the sandbox ECR; returns its digest.

    The layer is unique per tag: the registry derives the digest from the layers."""
    ecr = sandbox_handle.client("ecr")
    layer = "sha256:" + hashlib.sha256(f"{name}:{tag}".encode()).hexdigest()
    body = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                   "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": layer}],
    })
    try:
        resp = ecr.put_image(repositoryName=f"gaming/{name}", imageManifest=body, imageTag=tag)
    except ecr.exceptions.ImageAlreadyExistsException:  # pushed by another test on this sandbox
        found = ecr.describe_images(repositoryName=f"gaming/{name}", imageIds=[{"imageTag": tag}])
        return found["imageDetails"][0]["imageDigest"]
    return resp["image"]["imageId"]["imageDigest"]
