"""Fleet image bump, side by side: every service to a new image, wall time until every rollout
is complete, and the AWS calls it took.

    .venv/bin/python bench/image_bump.py [--repeat 3] [--ecs-deploy-k 6] [--aws-cli-k 3]
    .venv/bin/python bench/image_bump.py --cheap [--repeat 3]   # near-free containers, fleetctl only

Each tool gets a cluster of its own with the services applied from manifests/local.yaml
(desiredCount 1, images pinned by digest). Before each run a new tag (so a new digest) is
pushed to every repository involved, then:

- fleetctl: `fleetctl apply` of the whole fleet with the new digests (one process).
- fleetctl, one service: the same apply for a fleet of one service: the floor any fleet
  bump is compared with.
- ecs-deploy: `ecs deploy CLUSTER SERVICE --image CONTAINER IMAGE` per service, one after
  the other (it registers a revision, updates the service and waits for the deployment,
  polling every second, its default).
- aws CLI: per service `aws ecs describe-task-definition`, `register-task-definition`,
  `update-service` and `aws ecs wait services-stable` (which polls every 15 s).

The sequential loops run on K services and are extrapolated linearly to the whole fleet (the
output says so): a full aws CLI loop would take about 17 s per service. Calls are counted on
the server side by the counting proxy. Repetitions alternate the tools.
Targets: fleetctl <= 1.5x one service alone, >= 20x faster than the ecs-deploy loop, <= 70 calls.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    BENCH_VENV, Bench, BenchFleet, fleetctl_env, log, ratio, run_timed, summary, tool_env,
)

FLEETCTL_BIN = Path(sys.executable).parent / "fleetctl"
READ_ONLY_TD_FIELDS = ("taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
                       "registeredAt", "registeredBy", "deregisteredAt")


def bump_images(bench: Bench, fleet: BenchFleet, names: list[str], label: str) -> dict[str, str]:
    """Push a new tag for each service's repository; returns service -> new image (by digest)."""
    tag = f"{label}-{uuid.uuid4().hex[:8]}"
    return {name: bench.image_ref(name, bench.push_image(name, tag)) for name in names}


def fleetctl_apply(bench: Bench, fleet: BenchFleet, images: dict[str, str]) -> dict:
    for name, image in images.items():
        fleet.service(name)["image"] = image
    fleet.write()
    bench.reset_counts()
    seconds, proc = run_timed([str(FLEETCTL_BIN), "apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                               "-o", "json"], env=fleetctl_env(), timeout=1200)
    counts = bench.counts()
    if proc.returncode != 0:
        raise RuntimeError(f"fleetctl apply on {fleet.cluster} exited {proc.returncode}: {proc.stderr[-3000:]}")
    result = json.loads(proc.stdout)
    not_ready = [(s["service"], s["status"], s["message"]) for s in result["services"] if s["status"] != "ready"]
    if not_ready:
        raise RuntimeError(f"fleetctl apply: not rolled out: {not_ready}")
    return {"seconds": seconds, "calls": sum(counts.values()), "by_operation": counts, "services": len(images)}


def ecs_deploy_loop(bench: Bench, fleet: BenchFleet, images: dict[str, str]) -> dict:
    env = tool_env(bench.proxy_url, bench.credentials)
    bench.reset_counts()
    per_service = []
    for name, image in images.items():
        seconds, proc = run_timed([str(BENCH_VENV / "bin" / "ecs"), "deploy", fleet.cluster, name,
                                   "--image", name, image, "--region", "us-east-1"], env=env, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"ecs deploy {name} exited {proc.returncode}: {(proc.stdout + proc.stderr)[-3000:]}")
        per_service.append(seconds)
    counts = bench.counts()
    return {"seconds": sum(per_service), "per_service": per_service, "calls": sum(counts.values()),
            "by_operation": counts, "services": len(images)}


def aws_cli_loop(bench: Bench, fleet: BenchFleet, images: dict[str, str]) -> dict:
    aws = str(BENCH_VENV / "bin" / "aws")
    env = tool_env(bench.proxy_url, bench.credentials)

    def cli(*args: str) -> str:
        proc = subprocess.run([aws, "ecs", *args], env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"aws ecs {args[0]} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc.stdout

    bench.reset_counts()
    per_service = []
    for name, image in images.items():
        t0 = time.perf_counter()
        td = json.loads(cli("describe-task-definition", "--task-definition", f"{fleet.cluster}-{name}",
                            "--query", "taskDefinition", "--output", "json"))
        for key in READ_ONLY_TD_FIELDS:
            td.pop(key, None)
        for c in td["containerDefinitions"]:
            if c["name"] == name:
                c["image"] = image
        spec = bench.work / f"td-{fleet.cluster}-{name}.json"
        spec.write_text(json.dumps(td))
        arn = cli("register-task-definition", "--cli-input-json", f"file://{spec}",
                  "--query", "taskDefinition.taskDefinitionArn", "--output", "text").strip()
        cli("update-service", "--cluster", fleet.cluster, "--service", name, "--task-definition", arn,
            "--query", "service.serviceName", "--output", "text")
        cli("wait", "services-stable", "--cluster", fleet.cluster, "--services", name)
        per_service.append(time.perf_counter() - t0)
    counts = bench.counts()
    return {"seconds": sum(per_service), "per_service": per_service, "calls": sum(counts.values()),
            "by_operation": counts, "services": len(images)}


def pick_services(names: list[str], k: int) -> list[str]:
    """K services spread over the fleet (the sequential loops' sample)."""
    if k >= len(names):
        return list(names)
    step = len(names) / k
    return [names[int(i * step)] for i in range(k)]


def setup(bench: Bench, fleet: BenchFleet | None, *, services: list[str] | None, ecs_deploy_k: int, aws_cli_k: int,
          competitors: bool) -> dict[str, BenchFleet]:
    """Clusters for every tool, applied and running (set-up, not measured)."""
    fleets: dict[str, BenchFleet] = {}
    fleets["fleetctl"] = fleet or bench.new_fleet("bump", services=services)
    names = fleets["fleetctl"].names
    alone = next(s["name"] for s in fleets["fleetctl"].doc["spec"]["services"] if not s.get("dependsOn"))
    fleets["fleetctl-one"] = bench.new_fleet("one", services=[alone])
    if competitors:
        fleets["ecs-deploy"] = bench.new_fleet("ecsdeploy", services=pick_services(names, ecs_deploy_k))
        fleets["aws-cli"] = bench.new_fleet("awscli", services=pick_services(names, aws_cli_k))
    for label, f in fleets.items():
        if f is not fleet:
            log(f"image bump set-up: applying {len(f.names)} services for {label}")
            bench.apply(f)
    return fleets


def run(bench: Bench, fleets: dict[str, BenchFleet], *, repeat: int) -> dict:
    n = len(fleets["fleetctl"].names)
    tools = list(fleets)
    samples: dict[str, list[dict]] = {t: [] for t in tools}
    log(f"image bump, {n} services: {repeat} repetitions of {', '.join(tools)}")
    for rep in range(repeat):
        order = tools[rep % len(tools):] + tools[:rep % len(tools)]
        for tool in order:
            fleet = fleets[tool]
            images = bump_images(bench, fleet, fleet.names, f"r{rep}")
            t0 = time.perf_counter()
            if tool.startswith("fleetctl"):
                samples[tool].append(fleetctl_apply(bench, fleet, images))
            elif tool == "ecs-deploy":
                samples[tool].append(ecs_deploy_loop(bench, fleet, images))
            else:
                samples[tool].append(aws_cli_loop(bench, fleet, images))
            log(f"  rep {rep + 1}/{repeat} {tool}: {time.perf_counter() - t0:.1f} s, {samples[tool][-1]['calls']} calls")
    out: dict = {"services": n, "repeat": repeat, "tools": {}}
    for tool in tools:
        s = samples[tool]
        k = s[-1]["services"]
        scale = n / k if tool in ("ecs-deploy", "aws-cli") else 1.0
        entry = {
            "services_measured": k,
            "seconds": summary([x["seconds"] * scale for x in s], 2),
            "calls": round(s[-1]["calls"] * scale),
            "calls_by_operation": s[-1]["by_operation"],
            "extrapolated_from": k if scale != 1.0 else None,
        }
        if "per_service" in s[-1]:
            entry["seconds_per_service"] = summary([v for x in s for v in x["per_service"]], 2)
        out["tools"][tool] = entry
    fc = out["tools"]["fleetctl"]
    fc_med = fc["seconds"]["median"]
    one = out["tools"].get("fleetctl-one")
    out["fleet_vs_one_service"] = ratio(fc_med, one["seconds"]["median"], 2) if one else None
    for tool in ("ecs-deploy", "aws-cli"):
        if tool in out["tools"]:
            out["tools"][tool]["time_ratio"] = ratio(out["tools"][tool]["seconds"]["median"], fc_med)
            out["tools"][tool]["calls_ratio"] = ratio(out["tools"][tool]["calls"], fc["calls"])
    out["targets"] = {
        "fleet_vs_one_service<=1.5": out["fleet_vs_one_service"] is not None and out["fleet_vs_one_service"] <= 1.5,
        "calls<=70": fc["calls"] <= 70,
    }
    if "ecs-deploy" in out["tools"]:
        out["targets"]["ecs_deploy_ratio>=20"] = (out["tools"]["ecs-deploy"]["time_ratio"] or 0) >= 20
    return out


# -- the same bump with containers that cost almost nothing to start ----------------------------
CHEAP_COMMAND = ["sleep", "86400"]   # a process the sandbox starts in milliseconds, that stays up


def make_cheap(fleet: BenchFleet, min_ready: float | None = None) -> BenchFleet:
    """The fleet with every container a `sleep`: no Python to start, no health check to pass,
    no NATS responder to wait for (natsGate off), and a concurrency bound as large as the
    fleet. What is left is fleetctl's own part (plan, writes, polling, dependency waves,
    minReadySeconds, tag writes) and the sandbox's scheduling. `min_ready` sets minReadySeconds
    (default: the manifest's default, 5 s; bench/run.py --quick shortens it)."""
    for svc in fleet.doc["spec"]["services"]:
        svc["command"] = list(CHEAP_COMMAND)
        svc["healthCheck"] = False
    fleet.doc["spec"]["defaults"]["healthCheck"] = False
    fleet.doc["spec"]["rollout"] = {"natsGate": "off"}
    if min_ready is not None:
        fleet.doc["spec"]["rollout"]["minReadySeconds"] = min_ready
    # every service rolls at once: with the default bound of 8, 23 services take three rounds
    fleet.doc["spec"]["maxConcurrency"] = max(1, min(64, len(fleet.doc["spec"]["services"])))
    fleet.write()
    return fleet


def setup_cheap(bench: Bench, *, services: list[str] | None, min_ready: float | None = None) -> dict[str, BenchFleet]:
    fleets = {"fleetctl": make_cheap(bench.new_fleet("cheap", services=services), min_ready)}
    alone = next(s["name"] for s in fleets["fleetctl"].doc["spec"]["services"] if not s.get("dependsOn"))
    fleets["fleetctl-one"] = make_cheap(bench.new_fleet("cheapone", services=[alone]), min_ready)
    for label, f in fleets.items():
        log(f"cheap image bump set-up: applying {len(f.names)} services for {label}")
        bench.apply(f)
    return fleets


def run_cheap(bench: Bench, fleets: dict[str, BenchFleet], *, repeat: int) -> dict:
    out = run(bench, fleets, repeat=repeat)
    spec = fleets["fleetctl"].doc["spec"]
    deps = {s["name"]: s.get("dependsOn", []) for s in spec["services"]}
    out["variant"] = "containers: " + " ".join(CHEAP_COMMAND) + ", no health check, natsGate off"
    out["where_time_goes"] = {
        "min_ready_seconds": spec["rollout"].get("minReadySeconds", 5),  # every new task must stay up this long
        "poll_interval_s": 2.0,          # ApplyOptions default: rollouts are observed every 2 s
        "dependency_depth": _depth(deps),
        "max_concurrency": spec.get("maxConcurrency"),
        "tag_writes": out["tools"]["fleetctl"]["calls_by_operation"].get("ecs.TagResource", 0),
    }
    out["targets"] = {"fleet_vs_one_service<=1.2": out["fleet_vs_one_service"] is not None
                      and out["fleet_vs_one_service"] <= 1.2}
    return out


def _depth(deps: dict[str, list[str]]) -> int:
    memo: dict[str, int] = {}

    def d(name: str) -> int:
        if name not in memo:
            memo[name] = 0
            memo[name] = 1 + max((d(x) for x in deps.get(name, []) if x in deps), default=0)
        return memo[name]

    return max((d(n) for n in deps), default=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ecs-deploy-k", type=int, default=6)
    ap.add_argument("--aws-cli-k", type=int, default=3)
    ap.add_argument("--services", nargs="*", help="only these services of manifests/local.yaml")
    ap.add_argument("--no-competitors", action="store_true")
    ap.add_argument("--cheap", action="store_true",
                    help="only the variant with near-free containers (fleetctl's own part; no competitors)")
    args = ap.parse_args()
    import os
    import tempfile

    from bench.harness import ensure_bench_venv

    if not args.no_competitors and not args.cheap:
        ensure_bench_venv(log)
    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-") as tmp:
        bench = Bench.start(Path(tmp))
        try:
            if args.cheap:
                result = run_cheap(bench, setup_cheap(bench, services=args.services), repeat=args.repeat)
            else:
                fleets = setup(bench, None, services=args.services, ecs_deploy_k=args.ecs_deploy_k,
                               aws_cli_k=args.aws_cli_k, competitors=not args.no_competitors)
                result = run(bench, fleets, repeat=args.repeat)
        finally:
            bench.stop()
    result["loadavg_end"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
