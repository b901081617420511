"""``sandbox build``: one ECR image per service directory, digest = content hash.

An image here is a manifest in the sandbox ECR: its layer digest is a hash of the service's
source together with ``sdk/`` (which holds the contracts) and ``contracts/`` if present, and
its annotations record the local program it stands for. Unchanged sources give the same
digest, so re-running the build changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from fleetctl.sandbox.auth import Credentials
from fleetctl.sandbox.runner.preflight import COMMAND_ANNOTATION

SOURCE_ANNOTATION = "org.fleetctl.sandbox.source"
SHARED_DIRS = ("sdk", "contracts")
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", "build", "dist"}  # caches, package builds


def _skipped(path: Path) -> bool:
    return bool(SKIP_PARTS.intersection(path.parts)) or any(p.endswith(".egg-info") for p in path.parts)


@dataclass(frozen=True)
class ImageResult:
    service: str
    repository: str
    digest: str
    changed: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def discover(repo_root: Path) -> dict[str, Path]:
    """Every ``services/<name>/`` with a ``__main__.py``; none if the directory is absent."""
    root = repo_root / "services"
    if not root.is_dir():
        return {}
    return {
        d.name: d
        for d in sorted(root.iterdir())
        if d.is_dir() and (d / "__main__.py").is_file() and not d.name.startswith((".", "_"))
    }


def content_hash(paths: list[Path], repo_root: Path) -> str:
    """sha256 over the relative path and bytes of every source file under ``paths``."""
    digest = hashlib.sha256()
    files = sorted(
        f
        for p in paths
        if p.exists()
        for f in ([p] if p.is_file() else p.rglob("*"))
        if f.is_file() and not _skipped(f.relative_to(repo_root)) and f.suffix not in (".pyc", ".pyo")
    )
    for f in files:
        digest.update(str(f.relative_to(repo_root)).encode() + b"\0")
        digest.update(f.read_bytes() + b"\0")
    return digest.hexdigest()


def manifest(name: str, source_hash: str, fleet_dir: Path | None = None) -> str:
    command = ["python", "-m", f"services.{name}"]
    image_config: dict[str, object] = {"Cmd": command}
    if fleet_dir is not None:
        image_config["WorkingDir"] = str(fleet_dir)
    config = json.dumps({"config": image_config}, sort_keys=True)
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": "sha256:" + hashlib.sha256(config.encode()).hexdigest(),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 0,
                    "digest": f"sha256:{source_hash}",
                }
            ],
            "annotations": {
                COMMAND_ANNOTATION: json.dumps(command),
                SOURCE_ANNOTATION: f"services/{name}",
            },
        },
        sort_keys=True,
    )


def build(endpoint_url: str, credentials: Credentials, repo_root: Path) -> list[ImageResult]:
    """Create ``gaming/<name>`` repositories for the fleet checkout `repo_root` and push ``latest``
    where sources changed."""
    from fleetctl.sandbox.aws import client

    ecr = client("ecr", endpoint_url, credentials)
    shared = [repo_root / d for d in SHARED_DIRS]
    results = []
    for name, directory in discover(repo_root).items():
        repository = f"gaming/{name}"
        try:
            ecr.create_repository(repositoryName=repository)
        except ecr.exceptions.RepositoryAlreadyExistsException:
            pass
        body = manifest(name, content_hash([directory, *shared], repo_root), repo_root)
        try:
            current = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "latest"}])["images"]
        except ecr.exceptions.ImageNotFoundException:
            current = []
        if current and current[0].get("imageManifest") == body:
            results.append(ImageResult(name, repository, current[0]["imageId"]["imageDigest"], False))
            continue
        image = ecr.put_image(repositoryName=repository, imageManifest=body, imageTag="latest")["image"]
        results.append(ImageResult(name, repository, image["imageId"]["imageDigest"], True))
    return results
