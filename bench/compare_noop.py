"""No-op reconcile cost, side by side: how many AWS calls and how long to confirm that every
service of a fleet runs what it should.

    .venv/bin/python bench/compare_noop.py [--services 23 500] [--repeat 5] [--cli-k 10]

- fleetctl: `reconcile_plan` (batched DescribeServices + ListServices; in-process, no start-up).
- ecs-deploy: its own read path per service (DescribeServices + DescribeTaskDefinition, as
  `ecs deploy` starts), in one process for the whole loop (bench/competitors/ecs_deploy_check.py).
- aws CLI: a sequential shell-style loop, per service `aws ecs describe-services` then
  `aws ecs describe-task-definition` (two processes per service). Run on K services and
  extrapolated linearly when the fleet is larger (said so in the output).

Calls are counted on the server side by the counting proxy, the same way for every tool.
Repetitions alternate the tools. Target for fleetctl: at most ceil(N/10) + 2 calls.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    BENCH_VENV, REPO, Bench, BenchFleet, ceil_div, log, ratio, run_timed, summary, tool_env,
)


def expected_images(fleet: BenchFleet) -> dict[str, tuple[str, str]]:
    return {s["name"]: (s["name"], s["image"]) for s in fleet.doc["spec"]["services"]}


async def _fleetctl_once(fleet: BenchFleet) -> tuple[float, dict[str, int], bool]:
    from fleetctl.controller.aws import Aws
    from fleetctl.controller.manifest import load_manifest
    from fleetctl.controller.reconcile import reconcile_plan

    spec = load_manifest(fleet.manifest, tf_outputs=fleet.outputs).fleet
    async with Aws.for_target(spec.spec.target) as aws:
        t0 = time.perf_counter()
        rec = await reconcile_plan(aws, spec)
        wall = time.perf_counter() - t0
        return wall, dict(aws.calls), rec.plan.is_empty


def fleetctl_once(bench: Bench, fleet: BenchFleet) -> dict:
    bench.reset_counts()
    wall, client_calls, empty = asyncio.run(_fleetctl_once(fleet))
    if not empty:
        raise RuntimeError(f"{fleet.cluster}: fleetctl plans changes on a fleet that should be in sync")
    counts = bench.counts()
    return {"seconds": wall, "calls": sum(counts.values()), "by_operation": counts,
            "client_side_calls": sum(client_calls.values())}


def ecs_deploy_once(bench: Bench, fleet: BenchFleet) -> dict:
    expect = bench.work / f"expect-{fleet.cluster}.json"
    expect.write_text(json.dumps(expected_images(fleet)))
    bench.reset_counts()
    _, proc = run_timed([str(BENCH_VENV / "bin" / "python"), str(REPO / "bench" / "competitors" / "ecs_deploy_check.py"),
                         "--cluster", fleet.cluster, "--expect", str(expect)], env=tool_env(bench.proxy_url, bench.credentials))
    if proc.returncode != 0:
        raise RuntimeError(f"ecs-deploy check failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["in_sync"] != out["services"]:
        raise RuntimeError(f"ecs-deploy check: only {out['in_sync']}/{out['services']} in sync")
    counts = bench.counts()
    return {"seconds": out["seconds"], "calls": sum(counts.values()), "by_operation": counts}


def aws_cli_once(bench: Bench, fleet: BenchFleet, k: int) -> dict:
    aws = str(BENCH_VENV / "bin" / "aws")
    env = tool_env(bench.proxy_url, bench.credentials)
    names = fleet.names[:k]
    expect = expected_images(fleet)
    bench.reset_counts()
    t0 = time.perf_counter()
    for name in names:
        td = subprocess.run([aws, "ecs", "describe-services", "--cluster", fleet.cluster, "--services", name,
                             "--query", "services[0].taskDefinition", "--output", "text"],
                            env=env, capture_output=True, text=True, check=True).stdout.strip()
        image = subprocess.run([aws, "ecs", "describe-task-definition", "--task-definition", td, "--query",
                                f"taskDefinition.containerDefinitions[?name=='{name}'].image | [0]", "--output", "text"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        if image != expect[name][1]:
            raise RuntimeError(f"aws cli check: {name} runs {image}, expected {expect[name][1]}")
    wall = time.perf_counter() - t0
    counts = bench.counts()
    return {"seconds": wall, "calls": sum(counts.values()), "by_operation": counts, "measured_services": len(names)}


def run(bench: Bench, fleets: list[BenchFleet], *, repeat: int, cli_k: int, competitors: bool) -> list[dict]:
    rows = []
    for fleet in fleets:
        n = len(fleet.names)
        k = min(n, cli_k)
        samples: dict[str, list[dict]] = {"fleetctl": [], "ecs-deploy": [], "aws-cli": []}
        tools = ["fleetctl"] + (["ecs-deploy", "aws-cli"] if competitors else [])
        log(f"no-op reconcile, {n} services: {repeat} repetitions of {', '.join(tools)}")
        for rep in range(repeat):
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]
            for tool in order:
                if tool == "fleetctl":
                    samples[tool].append(fleetctl_once(bench, fleet))
                elif tool == "ecs-deploy":
                    samples[tool].append(ecs_deploy_once(bench, fleet))
                else:
                    samples[tool].append(aws_cli_once(bench, fleet, k))
        row: dict = {"services": n, "target_calls": ceil_div(n, 10) + 2, "repeat": repeat, "tools": {}}
        for tool in tools:
            s = samples[tool]
            scale = n / k if tool == "aws-cli" else 1.0
            row["tools"][tool] = {
                "seconds": summary([x["seconds"] * scale for x in s]),
                "calls": round(s[-1]["calls"] * scale),
                "calls_by_operation": s[-1]["by_operation"],
                "extrapolated_from": k if scale != 1.0 else None,
            }
            if tool == "fleetctl":
                row["tools"][tool]["client_side_calls"] = s[-1]["client_side_calls"]
        for tool in tools[1:]:
            fc, other = row["tools"]["fleetctl"], row["tools"][tool]
            other["calls_ratio"] = ratio(other["calls"], fc["calls"])
            other["time_ratio"] = ratio(other["seconds"]["median"], fc["seconds"]["median"])
        if not competitors:
            row["competitors"] = "skipped"
        row["target_met"] = row["tools"]["fleetctl"]["calls"] <= row["target_calls"]
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, nargs="+", default=[23, 500])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cli-k", type=int, default=10, help="services the aws CLI loop runs on before extrapolating")
    ap.add_argument("--no-competitors", action="store_true")
    args = ap.parse_args()
    import tempfile

    from bench.harness import ensure_bench_venv

    if not args.no_competitors:
        ensure_bench_venv(log)
    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-") as tmp:
        bench = Bench.start(Path(tmp))
        try:
            fleets = []
            for n in args.services:
                fleet = bench.new_fleet(f"noop{n}", generated=None if n == 23 else n)
                bench.apply(fleet)
                fleets.append(fleet)
            rows = run(bench, fleets, repeat=args.repeat, cli_k=args.cli_k, competitors=not args.no_competitors)
        finally:
            bench.stop()
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
