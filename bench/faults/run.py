"""The reliability matrix: fleetctl against the sandbox through the fault-injecting proxy.

    .venv/bin/python -m bench.faults.run [--services 23] [--runs 3] [--fuzz 10000] [--quick]

Scenarios (each on a fleet of its own cluster, every apply a real `fleetctl` process):
  mixed-20      20 % of calls faulted (throttling, 500/503, latency, dropped before/after)
  dropped-20    20 % of calls dropped after the server acted
  crash@N       SIGKILL `apply` after its Nth write call was answered, then re-run (5 points)
  faults-50     50 % of calls faulted: exit code and account, then an apply without faults
  two-applies   a second apply while the first holds the lease (--lock-timeout 1s)
  fuzz          random manifest mutations loaded as the CLI loads them

Writes bench/results/reliability.md and .json: runs, converged, duplicate revisions, extra
rollouts (UpdateService beyond one per changed service), tracebacks, exit codes.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from bench.faults import harness  # noqa: E402
from bench.faults.proxy import KINDS, start as start_proxy  # noqa: E402

RESULTS = REPO / "bench" / "results"


class Fleet:
    def __init__(self, sandbox: Any, proxy_url: str, services: int, work: Path):
        self.name = f"rel-{uuid.uuid4().hex[:6]}"
        self.cluster = self.name
        self.sandbox = sandbox
        ecs = sandbox["ecs"]
        ecs.create_cluster(clusterName=self.cluster)
        outputs = json.loads(json.dumps(sandbox["outputs"]))
        outputs["ecs_cluster_name"]["value"] = self.cluster
        outputs["aws_endpoint_url"]["value"] = proxy_url
        self.outputs = work / f"{self.name}-outputs.json"
        self.outputs.write_text(json.dumps(outputs))
        doc = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
        doc["spec"].pop("terraformOutputs")
        doc["metadata"]["name"] = self.name
        keep = doc["spec"]["services"][:services]
        names = {s["name"] for s in keep}
        for s in keep:
            s["dependsOn"] = [d for d in s.get("dependsOn", []) if d in names]
            if not s["dependsOn"]:
                s.pop("dependsOn")
        doc["spec"]["services"] = keep
        self.doc = doc
        self.manifest = work / f"{self.name}.yaml"
        self.write()

    def write(self) -> None:
        self.manifest.write_text(yaml.safe_dump(self.doc, sort_keys=False))

    def change_all(self, run: str) -> None:
        for s in self.doc["spec"]["services"]:
            s["environment"] = {**s.get("environment", {}), "RELIABILITY_RUN": run}
        self.write()

    @property
    def services(self) -> list[str]:
        return [s["name"] for s in self.doc["spec"]["services"]]

    @property
    def families(self) -> list[str]:
        return [f"{self.name}-{s}" for s in self.services]

    def args(self, *extra: str) -> list[str]:
        return [str(self.manifest), "--tf-outputs", str(self.outputs), *extra]

    def apply(self, *extra: str) -> harness.Run:
        return harness.run_fleetctl("apply", *self.args("-o", "json", "--timeout", "5m", *extra), timeout=900)

    def converged(self) -> bool:
        return harness.run_fleetctl("plan", *self.args()).code == 0

    def duplicates(self) -> int:
        return harness.duplicate_revisions(self.sandbox["ecs"], self.families)

    def delete(self) -> None:
        ecs = self.sandbox["ecs"]
        for arn in ecs.list_services(cluster=self.cluster).get("serviceArns", []):
            ecs.delete_service(cluster=self.cluster, service=arn, force=True)


def row(name: str, runs: int, converged: int, dup: int, extra: int, tracebacks: int, notes: str) -> dict[str, Any]:
    return {"scenario": name, "runs": runs, "converged": converged, "duplicateRevisions": dup,
            "extraRollouts": extra, "tracebacks": tracebacks, "notes": notes}


def faulted_changes(sb: Any, url: str, args: Any, work: Path, name: str, **faults: Any) -> dict[str, Any]:
    fleet = Fleet(sb, url, args.services, work)
    try:
        assert fleet.apply().code == 0, "initial apply failed"
        converged = dup = extra = tb = 0
        codes = []
        for i in range(args.runs):
            fleet.change_all(f"{name}-{i}")
            harness.control(url, "reset")
            harness.configure(url, **faults)
            res = fleet.apply()
            writes = harness.control(url, "stats")["writes"]
            harness.configure(url)
            codes.append(res.code)
            tb += res.traceback
            extra += sum(n - 1 for n in harness.rollouts(writes).values() if n > 1)
            if res.code != 0:  # faults beyond retries: a clean re-run must finish the job
                fleet.apply()
            converged += fleet.converged()
            dup = fleet.duplicates()
        return row(name, args.runs, converged, dup, extra, tb, f"exit codes {codes}")
    finally:
        fleet.delete()


def crash_points(sb: Any, url: str, args: Any, work: Path) -> dict[str, Any]:
    n = args.services
    points = sorted({1, max(2, n // 2), n, n + max(1, n // 2), 2 * n + 1})[:5]
    fleet = Fleet(sb, url, args.services, work)
    try:
        assert fleet.apply().code == 0, "initial apply failed"
        converged = extra = tb = killed = 0
        for p in points:
            fleet.change_all(f"crash-{p}")
            harness.control(url, "reset")
            res = harness.run_with_kill(url, p, "apply", *fleet.args("-o", "json", "--timeout", "5m"), timeout=900)
            killed += res.code == -9
            again = fleet.apply()
            tb += res.traceback + again.traceback
            writes = harness.control(url, "stats")["writes"]
            extra += sum(n - 1 for n in harness.rollouts(writes).values() if n > 1)
            converged += again.code == 0 and fleet.converged()
        return row(f"crash@{','.join(map(str, points))} writes, then re-run", len(points), converged,
                   fleet.duplicates(), extra, tb, f"{killed} killed mid-apply")
    finally:
        fleet.delete()


def half_faults(sb: Any, url: str, args: Any, work: Path) -> dict[str, Any]:
    fleet = Fleet(sb, url, args.services, work)
    try:
        assert fleet.apply().code == 0, "initial apply failed"
        codes, honest, converged, tb = [], 0, 0, 0
        for i in range(args.runs):
            fleet.change_all(f"half-{i}")
            harness.control(url, "reset")
            harness.configure(url, rate=0.5, kinds=list(KINDS), latency=0.2, seed=i)
            res = fleet.apply()
            stats = harness.control(url, "stats")
            harness.configure(url)
            codes.append(res.code)
            tb += res.traceback
            wrote = any(op.startswith("ecs.") and status < 300 for op, _n, status in stats["writes"])
            if res.code == 2:
                honest += not wrote  # 2 is honest only when nothing was changed
            elif res.code == 1:
                try:
                    honest += all("done" in s and "notDone" in s for s in res.json()["services"])
                except ValueError:
                    pass
            else:
                honest += 1
            again = fleet.apply()
            converged += again.code == 0 and fleet.converged()
        return row("faults-50 (all kinds), then apply without faults", args.runs, converged, fleet.duplicates(), 0,
                   tb, f"exit codes {codes}; honest exit+account {honest}/{args.runs}")
    finally:
        fleet.delete()


def two_applies(sb: Any, url: str, args: Any, work: Path) -> dict[str, Any]:
    fleet = Fleet(sb, url, args.services, work)
    try:
        assert fleet.apply().code == 0
        fleet.change_all("two")
        harness.configure(url, rate=1.0, kinds=["latency"], latency=0.2)
        first = harness.start_fleetctl("apply", *fleet.args("--timeout", "5m"))
        while harness.run_fleetctl("lock", "status", *fleet.args()).code != 1 and first.poll() is None:
            time.sleep(0.2)
        second = harness.run_fleetctl("apply", *fleet.args("--lock-timeout", "1s"))
        first.wait(timeout=900)
        harness.configure(url)
        named = second.code == 2 and f"pid {first.pid}" in second.stderr
        return row("two applies at once (second: --lock-timeout 1s)", 1, int(fleet.converged()), fleet.duplicates(),
                   0, int(second.traceback), f"second exit {second.code}, holder named: {named}")
    finally:
        fleet.delete()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=23)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fuzz", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="4 services, 1 run, 200 fuzzed manifests")
    args = ap.parse_args()
    if args.quick:
        args.services, args.runs, args.fuzz = 4, 1, 200

    import boto3

    from fleetctl.sandbox import api
    from fleetctl.sandbox.auth import Credentials
    from fleetctl.sandbox.config import SandboxConfig

    state = Path(tempfile.mkdtemp(prefix="fleetctl-rel-"))
    info = api.ensure_running(state, SandboxConfig(startup_grace=0.5, tick=0.1, default_stop_timeout=5.0,
                                                   shutdown_stop_timeout=2.0))
    proxy, url = start_proxy(info.endpoint_url)
    sb = {"outputs": json.loads(info.outputs_path.read_text()),
          "ecs": boto3.client("ecs", endpoint_url=info.endpoint_url, region_name="us-east-1",
                              **Credentials.load(info.credentials_file).client_kwargs())}
    rows = []
    started = time.monotonic()
    try:
        rows.append(faulted_changes(sb, url, args, state, "mixed-20 (all kinds)", rate=0.2, kinds=list(KINDS),
                                    latency=0.2, seed=1))
        rows.append(faulted_changes(sb, url, args, state, "dropped-after-send 20%", rate=0.2, kinds=["drop_after"],
                                    seed=2))
        rows.append(crash_points(sb, url, args, state))
        rows.append(half_faults(sb, url, args, state))
        rows.append(two_applies(sb, url, args, state))
    finally:
        proxy.shutdown()
        api.stop(state)
    from bench.faults.fuzz import fuzz

    report = fuzz(args.fuzz)
    rows.append(row(f"fuzzed manifests ({args.fuzz})", report.runs, report.accepted, 0, 0, len(report.tracebacks),
                    f"{report.rejected} rejected with exit 2, {report.accepted} valid"))
    lines = [f"Reliability matrix: {args.services} services, {args.runs} run(s) per scenario, "
             f"{time.monotonic() - started:.0f} s", "",
             "| scenario | runs | converged | duplicate revisions | extra rollouts | tracebacks | notes |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['scenario']} | {r['runs']} | {r['converged']} | {r['duplicateRevisions']} | {r['extraRollouts']} "
              f"| {r['tracebacks']} | {r['notes']} |" for r in rows]
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if args.quick else ""
    (RESULTS / f"reliability{suffix}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"reliability{suffix}.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
