"""What the rollout gate adds to a fleet image bump: wall time and NATS rounds.

    .venv/bin/python bench/gate_cost.py [--repeat 3] [--min-ready 1] [--services N]

One sandbox, the local fleet (23 services) applied once (set-up). Then, alternating, a new
digest is pushed for every repository and `fleetctl apply` rolls the whole fleet:

- baseline: `--nats-gate off`, `minReadySeconds: 0`: ECS COMPLETED with healthy tasks (the
  sandbox completes a deployment only once its tasks pass their container health check);
- gated: `--nats-gate required`, `minReadySeconds: M`: the same, plus the stability window and
  the NATS agreement ($SRV version = the new digest, a responder on every subject).

The gate's added wall time is the difference of the medians. Target: at most M + 1 s, and at
most one NATS round per poll for the whole fleet (`natsRounds` / `polls` from `apply -o json`).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Bench, fleetctl_env, log, run_timed, summary  # noqa: E402

FLEETCTL = [sys.executable, "-m", "fleetctl.cli"]


def bump(bench: Bench, fleet, mode: str, min_ready: float) -> dict:
    tag = f"gate-{uuid.uuid4().hex[:8]}"
    for name in fleet.names:
        fleet.service(name)["image"] = bench.image_ref(name, bench.push_image(name, tag))
    fleet.doc["spec"]["rollout"] = {"minReadySeconds": min_ready, "progressDeadlineSeconds": 300, "natsGate": mode}
    fleet.write()
    seconds, proc = run_timed([*FLEETCTL, "apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                               "-o", "json", "--nats-gate", mode], env=fleetctl_env(), timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"apply ({mode}) exited {proc.returncode}: {proc.stderr[-2000:]}")
    body = json.loads(proc.stdout)
    gate = [s["gateSeconds"] for s in body["services"] if s.get("gateSeconds") is not None]
    return {"seconds": seconds, "polls": body.get("polls", 0), "natsRounds": body.get("natsRounds", 0),
            "natsGate": body.get("natsGate"), "gateSecondsMax": max(gate) if gate else None}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--min-ready", type=float, default=1.0)
    parser.add_argument("--services", type=int, default=0, help="only the first N services (0: all 23)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleetctl-gate-bench-"))
    bench = Bench.start(work)
    try:
        fleet = bench.new_fleet("gate")
        if args.services:
            keep = fleet.names[: args.services]
            fleet = bench.new_fleet("gate-small", services=keep)
        log(f"gate cost: applying {len(fleet.names)} services (set-up)")
        bench.apply(fleet)
        runs: dict[str, list[dict]] = {"baseline": [], "gated": []}
        load_before = os.getloadavg()
        for i in range(args.repeat):
            for label, mode, ready in (("baseline", "off", 0.0), ("gated", "required", args.min_ready)):
                r = bump(bench, fleet, mode, ready)
                log(f"run {i + 1}/{args.repeat} {label}: {r['seconds']:.2f} s, {r['polls']} polls, "
                    f"{r['natsRounds']} NATS rounds, gate wait after ECS (slowest service) {r['gateSecondsMax']}")
                runs[label].append(r)
        base = statistics.median(r["seconds"] for r in runs["baseline"])
        gated = statistics.median(r["seconds"] for r in runs["gated"])
        added = gated - base
        waits = [r["gateSecondsMax"] for r in runs["gated"] if r["gateSecondsMax"] is not None]
        per_poll = max(r["natsRounds"] / r["polls"] for r in runs["gated"] if r["polls"]) if runs["gated"] else None
        out = {
            "services": len(fleet.names),
            "minReadySeconds": args.min_ready,
            "baseline": summary([r["seconds"] for r in runs["baseline"]]),
            "gated": summary([r["seconds"] for r in runs["gated"]]),
            "addedSeconds": round(added, 3),
            # the gate's own wait after ECS was done, for the slowest service of each gated run
            "gateSecondsMax": summary(waits) if waits else None,
            "target": f"<= {args.min_ready + 1:g} s",
            "met": bool(waits) and max(waits) <= args.min_ready + 1,
            "natsRoundsPerPoll": per_poll,
            # 1-minute load average of the host before and after the runs (2 cores: above 2 is contention)
            "load": f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after",
            "runs": runs,
        }
        print(json.dumps(out, indent=2))
        return 0
    finally:
        bench.stop()


if __name__ == "__main__":
    sys.exit(main())
