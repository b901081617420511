"""The reliability matrix: fleetctl against the sandbox through the fault-injecting proxy.

    .venv/bin/python -m bench.faults.run [--services 23] [--runs 3] [--fuzz 10000] [--quick] [--only crash,fuzz]

Scenarios (each on a fleet of its own cluster, every apply a real `fleetctl` process):
  mixed-20      20 % of calls faulted (throttling, 500/503, latency, dropped before/after)
  dropped-20    20 % of calls dropped after the server acted
  crash@N       SIGKILL `apply` after its Nth write call was answered, then re-run (5 points)
  faults-50     50 % of calls faulted: exit code and account, then an apply without faults
  two-applies   a second apply while the first holds the lease (--lock-timeout 1s)
  controller    `controller run` holds the fleet; a user's apply of another manifest meanwhile
  fuzz          random manifest mutations loaded as the CLI loads them

Writes bench/results/reliability.md and .json (reliability-<scenarios>.* with --only): runs,
converged, duplicate revisions, extra rollouts (UpdateService beyond one per changed service),
tracebacks, exit codes, seconds per scenario. An extra rollout is an UpdateService that asks a
service for a second, different revision; a retried UpdateService naming the same revision (its
first reply was lost) starts no deployment and is listed in the notes.
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


def _extra(stats: dict[str, Any]) -> int:
    """Rollouts beyond one per service since the proxy's last reset: UpdateService calls asking a
    service for a second, different task definition (a retry naming the same one starts nothing)."""
    return sum(n - 1 for n in harness.rollouts_started(stats["updates"]).values() if n > 1)


def faulted_changes(sb: Any, url: str, args: Any, work: Path, name: str, **faults: Any) -> dict[str, Any]:
    fleet = Fleet(sb, url, args.services, work)
    try:
        assert fleet.apply().code == 0, "initial apply failed"
        converged = dup = extra = tb = retried = 0
        codes = []
        for i in range(args.runs):
            fleet.change_all(f"{name}-{i}")
            harness.control(url, "reset")
            harness.configure(url, **faults)
            res = fleet.apply()
            stats = harness.control(url, "stats")
            harness.configure(url)
            codes.append(res.code)
            tb += res.traceback
            extra += _extra(stats)
            retried += sum(n - 1 for n in harness.rollouts(stats["writes"]).values() if n > 1)
            if res.code != 0:  # faults beyond retries: a clean re-run must finish the job
                fleet.apply()
            converged += fleet.converged()
            dup = fleet.duplicates()
        return row(name, args.runs, converged, dup, extra, tb,
                   f"exit codes {codes}; {retried} UpdateService retried with the same revision (no new rollout)")
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
            extra += _extra(harness.control(url, "stats"))
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
            if res.traceback:  # keep the evidence next to the results
                RESULTS.mkdir(exist_ok=True)
                (RESULTS / f"traceback-half-{i}.txt").write_text(res.stderr[-20000:])
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
    """A second and a third apply while the first holds the lease: one waits (--lock-timeout 3m) and then
    finds nothing left to do, one gives up (--lock-timeout 1s) naming the holder."""
    fleet = Fleet(sb, url, args.services, work)
    try:
        assert fleet.apply().code == 0
        fleet.change_all("two")
        harness.control(url, "reset")
        harness.configure(url, latency=20.0, rules=[{"op": r"UpdateService$", "kind": "latency"}])  # holds the lease
        first = harness.start_fleetctl("apply", *fleet.args("--timeout", "5m"))
        while harness.run_fleetctl("lock", "status", *fleet.args()).code != 1 and first.poll() is None:
            time.sleep(0.2)
        waiting = harness.start_fleetctl("apply", *fleet.args("--lock-timeout", "3m", "--timeout", "5m"))
        refused = harness.run_fleetctl("apply", *fleet.args("--lock-timeout", "1s"))
        first_code = first.wait(timeout=900)
        _out, waited_err = waiting.communicate(timeout=900)
        harness.configure(url)
        # the holder is the first apply, or the waiting one when the first was already done
        named = refused.code == 2 and any(f"pid {p.pid} " in refused.stderr for p in (first, waiting))
        extra = _extra(harness.control(url, "stats"))
        tb = int(refused.traceback) + int("Traceback (most recent call last)" in waited_err)
        return row("three applies at once (one waits --lock-timeout 3m, one gives up after 1s)", 1,
                   int(fleet.converged()), fleet.duplicates(), extra, tb,
                   f"first exit {first_code}; waiting exit {waiting.returncode} ('in sync': {'in sync' in waited_err}); "
                   f"1s exit {refused.code}, holder named: {named}"
                   + ("" if named else f" ({refused.stderr.strip().splitlines()[-1:] or ['no stderr']})"))
    finally:
        fleet.delete()


def controller_and_apply(sb: Any, url: str, args: Any, work: Path) -> dict[str, Any]:
    """`controller run` keeps the fleet; a user applies another manifest of it meanwhile."""
    import signal

    fleet = Fleet(sb, url, args.services, work)
    controller = harness.start_fleetctl("controller", "run", *fleet.args("--interval", "1s", "--health-port", "0"))
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not fleet.converged():
            time.sleep(2)
        converged = fleet.converged()
        other = fleet.manifest.with_name(f"{fleet.name}-user.yaml")
        doc = json.loads(json.dumps(fleet.doc))
        for s in doc["spec"]["services"]:
            s["environment"] = {**s.get("environment", {}), "FROM_USER": "1"}
        other.write_text(yaml.safe_dump(doc, sort_keys=False))
        harness.control(url, "reset")
        user = harness.run_fleetctl("apply", str(other), "--tf-outputs", str(fleet.outputs), "--lock-timeout", "2s")
        time.sleep(3)  # a few more controller passes
        flips = sum(harness.rollouts_started(harness.control(url, "stats")["updates"]).values())
        named = user.code == 2 and "controller run" in user.stderr
    finally:
        controller.send_signal(signal.SIGTERM)
        try:
            code = controller.wait(timeout=60)
        except Exception:
            controller.kill()
            code = controller.wait()
        err = controller.stderr.read() if controller.stderr else ""
    try:
        return row("`controller run` + a user's apply of another manifest (--lock-timeout 2s)", 1,
                   int(converged and fleet.converged()), fleet.duplicates(), flips,
                   int(user.traceback) + int("Traceback (most recent call last)" in err),
                   f"user's apply exit {user.code}, controller named: {named}; {flips} UpdateService while both ran; "
                   f"controller exit {code} on SIGTERM")
    finally:
        fleet.delete()


SCENARIOS = ("mixed", "dropped", "crash", "half", "two", "controller", "fuzz")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=23)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fuzz", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="4 services, 1 run, 200 fuzzed manifests")
    ap.add_argument("--only", default=",".join(SCENARIOS),
                    help=f"comma-separated scenarios to run (default: all of {', '.join(SCENARIOS)})")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if only - set(SCENARIOS):
        ap.error(f"unknown scenario(s): {', '.join(sorted(only - set(SCENARIOS)))}")
    if args.quick:
        args.services, args.runs, args.fuzz = 4, 1, 200

    import boto3

    from fleetctl.sandbox import api
    from fleetctl.sandbox.auth import Credentials
    from fleetctl.sandbox.config import SandboxConfig

    rows = []
    started = time.monotonic()
    if only - {"fuzz"}:
        state = Path(tempfile.mkdtemp(prefix="fleetctl-rel-"))
        info = api.ensure_running(state, SandboxConfig(startup_grace=0.5, tick=0.1, default_stop_timeout=5.0,
                                                       shutdown_stop_timeout=2.0))
        proxy, url = start_proxy(info.endpoint_url)
        sb = {"outputs": json.loads(info.outputs_path.read_text()),
              "ecs": boto3.client("ecs", endpoint_url=info.endpoint_url, region_name="us-east-1",
                                  **Credentials.load(info.credentials_file).client_kwargs())}
        scenarios = [
            ("mixed", lambda: faulted_changes(sb, url, args, state, "mixed-20 (all kinds)", rate=0.2,
                                              kinds=list(KINDS), latency=0.2, seed=1)),
            ("dropped", lambda: faulted_changes(sb, url, args, state, "dropped-after-send 20%", rate=0.2,
                                                kinds=["drop_after"], seed=2)),
            ("crash", lambda: crash_points(sb, url, args, state)),
            ("half", lambda: half_faults(sb, url, args, state)),
            ("two", lambda: two_applies(sb, url, args, state)),
            ("controller", lambda: controller_and_apply(sb, url, args, state)),
        ]
        try:
            for name, scenario in scenarios:
                if name in only:
                    began = time.monotonic()
                    rows.append({**scenario(), "seconds": round(time.monotonic() - began)})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        finally:
            proxy.shutdown()
            api.stop(state)
    if "fuzz" in only:
        from bench.faults.fuzz import fuzz

        report = fuzz(args.fuzz)
        rows.append({**row(f"fuzzed manifests ({args.fuzz})", report.runs, report.accepted, 0, 0,
                           len(report.tracebacks), f"{report.rejected} rejected with exit 2, {report.accepted} valid"),
                     "seconds": round(report.seconds)})
    lines = [f"Reliability matrix: {args.services} services, {args.runs} run(s) per scenario, "
             f"{time.monotonic() - started:.0f} s", "",
             "| scenario | runs | converged | duplicate revisions | extra rollouts | tracebacks | notes | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['scenario']} | {r['runs']} | {r['converged']} | {r['duplicateRevisions']} | {r['extraRollouts']} "
              f"| {r['tracebacks']} | {r['notes']} | {r['seconds']} |" for r in rows]
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if args.quick else ("" if only == set(SCENARIOS) else "-" + "-".join(sorted(only)))
    (RESULTS / f"reliability{suffix}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"reliability{suffix}.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
