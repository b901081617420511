"""Shared plumbing for the benchmarks: one sandbox, a counting proxy in front of it, fleets on
clusters of their own, the competitors' virtualenv, and summary statistics.

Every AWS call of every tool (fleetctl, ecs-deploy, the aws CLI) goes through the same
counting proxy (bench/countproxy.py), so calls are counted the same way on the server side.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BENCH_VENV = REPO / ".venv-bench"
REQUIREMENTS = REPO / "bench" / "requirements.txt"
REGION = "us-east-1"


# -- statistics ----------------------------------------------------------------------------
def summary(values: list[float], digits: int = 3) -> dict[str, Any]:
    """Median and spread (min, max) of repeated measurements."""
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values), "values": [round(v, digits) for v in values]}


def ratio(a: float | None, b: float | None, digits: int = 1) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, digits)


def ceil_div(n: int, d: int) -> int:
    return math.ceil(n / d)


# -- the competitors' virtualenv ---------------------------------------------------------------
def bench_venv_ready(venv: Path = BENCH_VENV) -> bool:
    return (venv / "bin" / "ecs").exists() and (venv / "bin" / "aws").exists()


def ensure_bench_venv(log=print, venv: Path = BENCH_VENV) -> None:
    """Create .venv-bench (or `venv`) with ecs-deploy and awscli from bench/requirements.txt if missing.

    They pin botocore versions other than fleetctl's, hence a virtualenv of their own.
    """
    if bench_venv_ready(venv):
        return
    log(f"creating {venv.name} from {REQUIREMENTS.relative_to(REPO)} ...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-r", str(REQUIREMENTS)], check=True)


def tool_env(endpoint_url: str, credentials: Any) -> dict[str, str]:
    """Environment for a competitor CLI: the sandbox's credentials and the proxied sandbox endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(credentials.env(), AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_ENDPOINT_URL=endpoint_url, AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")
    env["PATH"] = f"{BENCH_VENV / 'bin'}:{env.get('PATH', '')}"
    return env


# -- the sandbox and the proxy ---------------------------------------------------------------
@dataclass
class BenchFleet:
    label: str
    cluster: str
    manifest: Path
    outputs: Path
    doc: dict[str, Any]

    @property
    def names(self) -> list[str]:
        return [s["name"] for s in self.doc["spec"]["services"]]

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.doc["spec"]["services"] if s["name"] == name)

    def write(self) -> None:
        self.manifest.write_text(yaml.safe_dump(self.doc, sort_keys=False))


@dataclass
class Bench:
    """A running sandbox with a counting proxy in front of it."""

    work: Path
    endpoint_url: str          # the sandbox itself
    proxy_url: str             # what every measured tool talks to
    outputs: dict[str, Any]    # raw terraform-shaped outputs of the sandbox
    credentials: Any           # sandbox.auth.Credentials every request is signed with
    proxy_proc: subprocess.Popen[str] | None = None
    fleets: list[BenchFleet] = field(default_factory=list)

    @classmethod
    def start(cls, work: Path, config: Any = None) -> "Bench":
        """`config`: the sandbox daemon's SandboxConfig (default: its defaults, as users run it)."""
        from fleetctl.sandbox import api

        work.mkdir(parents=True, exist_ok=True)
        info = api.ensure_running(work / "sandbox", config)
        proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "countproxy.py"), "--upstream", info.endpoint_url],
                                stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline().strip() if proc.stdout else ""
        if not line.startswith("listening "):
            proc.kill()
            api.stop(work / "sandbox")
            raise RuntimeError(f"counting proxy did not start: {line!r}")
        return cls(work, info.endpoint_url, line.split()[1], json.loads(info.outputs_path.read_text()),
                   info.credentials(), proc)

    def stop(self) -> None:
        from fleetctl.sandbox import api

        if self.proxy_proc is not None and self.proxy_proc.poll() is None:
            self.proxy_proc.terminate()
            try:
                self.proxy_proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proxy_proc.kill()
        api.stop(self.work / "sandbox")

    # counting
    def reset_counts(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.proxy_url}/_bench/reset", method="POST"), timeout=10).read()

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.proxy_url}/_bench/counts", timeout=10) as resp:
            return {k: v for k, v in sorted(json.loads(resp.read()).items())}

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION,
                            **self.credentials.client_kwargs())

    # images
    def latest_digest(self, name: str) -> str:
        ecr = self.client("ecr")
        return ecr.describe_images(repositoryName=f"gaming/{name}",
                                   imageIds=[{"imageTag": "latest"}])["imageDetails"][0]["imageDigest"]

    def push_image(self, name: str, tag: str) -> str:
        """A new tag (and digest) for gaming/<name> in the sandbox ECR; returns the digest."""
        layer = "sha256:" + hashlib.sha256(f"{name}:{tag}".encode()).hexdigest()
        body = json.dumps({  # moto derives the image digest from the layer digests
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                       "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest()},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2, "digest": layer}],
        })
        resp = self.client("ecr").put_image(repositoryName=f"gaming/{name}", imageManifest=body, imageTag=tag)
        return resp["image"]["imageId"]["imageDigest"]

    def image_ref(self, name: str, digest: str) -> str:
        return f"{self.outputs['ecr_registry']['value']}/gaming/{name}@{digest}"

    # fleets
    def new_fleet(self, label: str, *, services: list[str] | None = None, generated: int | None = None) -> BenchFleet:
        """A copy of manifests/local.yaml (or `generated` sleeping services, desiredCount 0) on a
        fresh cluster, images pinned by digest, fleet name = cluster name."""
        cluster = f"bench-{label}-{uuid.uuid4().hex[:6]}"
        self.client("ecs").create_cluster(clusterName=cluster)
        outputs = json.loads(json.dumps(self.outputs))
        outputs["ecs_cluster_name"]["value"] = cluster
        outputs["aws_endpoint_url"]["value"] = self.proxy_url
        out_path = self.work / f"outputs-{cluster}.json"
        out_path.write_text(json.dumps(outputs))
        doc = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
        doc["spec"].pop("terraformOutputs")
        doc["spec"]["allowImageTags"] = False
        doc["metadata"]["name"] = cluster
        digests: dict[str, str] = {}
        for svc in doc["spec"]["services"]:
            repo_name = svc["image"].split("/gaming/", 1)[1].rsplit(":", 1)[0]
            digests.setdefault(repo_name, self.latest_digest(repo_name))
            svc["image"] = self.image_ref(repo_name, digests[repo_name])  # literal, as AWS will report it
        if generated is not None:
            template = doc["spec"]["services"][0]
            doc["spec"]["services"] = [
                {"name": f"svc-{i:04d}", "image": template["image"], "desiredCount": 0,
                 "command": ["python", "-c", "import time; time.sleep(1e9)"], "subjects": [f"bench.svc{i}.ping"]}
                for i in range(generated)
            ]
            doc["spec"]["maxConcurrency"] = 32
        elif services is not None:
            keep = [s for s in doc["spec"]["services"] if s["name"] in services]
            for s in keep:
                s["dependsOn"] = [d for d in s.get("dependsOn", []) if d in services]
                if not s["dependsOn"]:
                    s.pop("dependsOn")
            doc["spec"]["services"] = keep
        fleet = BenchFleet(label, cluster, self.work / f"fleet-{cluster}.yaml", out_path, doc)
        fleet.write()
        self.fleets.append(fleet)
        return fleet

    def apply(self, fleet: BenchFleet, timeout: float = 600) -> float:
        """Bring a fleet to its manifest in-process (set-up, not measured); returns seconds."""
        return asyncio.run(_apply(fleet, timeout))


async def _apply(fleet: BenchFleet, timeout: float) -> float:
    from fleetctl.controller.apply import ApplyOptions, apply
    from fleetctl.controller.aws import Aws
    from fleetctl.controller.manifest import load_manifest
    from fleetctl.controller.reconcile import dependencies, reconcile_plan

    loaded = load_manifest(fleet.manifest, tf_outputs=fleet.outputs)
    spec = loaded.fleet
    t0 = time.perf_counter()
    async with Aws.for_target(spec.spec.target) as aws:
        rec = await reconcile_plan(aws, spec)
        result = await apply(rec.plan, aws, fleet_name=spec.metadata.name, dependencies=dependencies(spec),
                             observed=rec.observed.services,
                             options=ApplyOptions(timeout=timeout, overall_timeout=timeout * 3, poll_interval=0.5,
                                                  concurrency=32))
    if not result.ok:
        bad = [(o.service, o.message, [s.line() for s in o.stopped_tasks]) for o in result.outcomes.values() if o.failed]
        raise RuntimeError(f"set-up apply of {fleet.cluster} failed: {bad[:3]}")
    return time.perf_counter() - t0


def run_timed(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 900,
              cwd: Path = REPO) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - t0, proc


def fleetctl_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
