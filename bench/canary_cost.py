"""What a canary costs: AWS calls and NATS rounds of an image bump rolled through a canary,
beside the same bump rolled in place.

    .venv/bin/python bench/canary_cost.py [--repeat 2] [--bake 5]

One sandbox with a counting proxy in front of it (calls are counted on the server side), one
service (`settings`, desiredCount 1), natsGate required, minReadySeconds 1, and a traffic
generator sending `settings.get` through NATS as the gateway would (~40 requests/s) the whole
time. Alternating, a new digest is pushed and `fleetctl apply -o json` rolls it:

- rolling: `rollout.strategy: rolling` (the serving gate only);
- canary: `rollout.strategy: canary` (1 instance, bakeTime --bake, then promote).

Printed per run: wall time, AWS calls by operation, the gate's NATS rounds (`natsRounds`, one per
poll) and the canary's `$SRV.STATS` rounds (`canary.statsRounds`); and the medians of both and
their difference: the canary's own cost.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Bench, fleetctl_env, log, run_timed, summary  # noqa: E402

FLEETCTL = [sys.executable, "-m", "fleetctl.cli"]


class Traffic:
    """Requests to `subject` as `user`, ~`rate` per second, until stopped or `limit` were sent.
    Counts answers, error answers (a `Nats-Service-Error-Code` header) and failures (timeouts)."""

    def __init__(self, url: str, user: str, password: str, subject: str, body: bytes, *, rate: float = 40.0,
                 limit: int = 20000) -> None:
        self.url, self.user, self.password, self.subject, self.body = url, user, password, subject, body
        self.rate, self.limit = rate, limit
        self.sent = self.ok = self.errors = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Traffic":
        self._task = asyncio.create_task(self.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        import nats

        from fleetctl.controller.natsperms import inbox_prefix

        client = await nats.connect(self.url, user=self.user, password=self.password,
                                    inbox_prefix=inbox_prefix(self.user), connect_timeout=5)
        try:
            while not self._stop.is_set() and self.sent < self.limit:
                self.sent += 1
                try:
                    reply = await client.request(self.subject, self.body, timeout=1.0)
                    failed = bool(reply.headers and reply.headers.get("Nats-Service-Error-Code"))
                    self.errors += failed
                    self.ok += not failed
                except Exception:
                    self.errors += 1
                try:
                    await asyncio.wait_for(self._stop.wait(), 1.0 / self.rate)
                except asyncio.TimeoutError:
                    pass
        finally:
            await client.close()


def settings_traffic(url: str, password: str, **kwargs: Any) -> Traffic:
    from sdk.proto import settings_pb2 as pb

    return Traffic(url, "gateway", password, "settings.get", pb.GetRequest(key="canary-drill").SerializeToString(),
                   **kwargs)


def gateway_password(secretsmanager: Any, secret_arn: str) -> str:
    return json.loads(secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"])["gateway"]


def bump(bench: Bench, fleet: Any, strategy: str, bake: float) -> dict[str, Any]:
    digest = bench.push_image("settings", f"canary-{uuid.uuid4().hex[:8]}")
    svc = fleet.service("settings")
    svc["image"] = bench.image_ref("settings", digest)
    svc["rollout"] = {"strategy": strategy, "canary": {"instances": 1, "bakeTime": bake, "minRequests": 20,
                                                       "maxErrorRate": 0.05}}
    fleet.write()
    bench.reset_counts()
    seconds, proc = run_timed([*FLEETCTL, "apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                               "-o", "json"], env=fleetctl_env(), timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"apply ({strategy}) exited {proc.returncode}: {proc.stderr[-2000:]}")
    calls = bench.counts()
    body = json.loads(proc.stdout)
    outcome = body["services"][0]
    canary = outcome.get("canary") or {}
    return {"seconds": round(seconds, 3), "awsCalls": sum(calls.values()), "calls": calls,
            "polls": body.get("polls", 0), "gateNatsRounds": body.get("natsRounds", 0),
            "statsRounds": canary.get("statsRounds", 0), "message": outcome["message"]}


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--bake", type=float, default=5.0)
    args = parser.parse_args()
    bench = Bench.start(Path(tempfile.mkdtemp(prefix="fleetctl-canary-bench-")))
    loop = asyncio.new_event_loop()
    traffic = settings_traffic(bench.outputs["nats_url"]["value"],
                               gateway_password(bench.client("secretsmanager"),
                                                bench.outputs["nats_credentials_secret_arn"]["value"]))
    thread = threading.Thread(target=loop.run_until_complete, args=(traffic.run(),), daemon=True)
    try:
        fleet = bench.new_fleet("canary", services=["settings"])
        fleet.doc["spec"]["rollout"] = {"minReadySeconds": 1, "progressDeadlineSeconds": 120, "natsGate": "required"}
        fleet.write()
        log("canary cost: applying settings (set-up)")
        bench.apply(fleet)
        thread.start()
        runs: dict[str, list[dict[str, Any]]] = {"rolling": [], "canary": []}
        for i in range(args.repeat):
            for strategy in ("rolling", "canary"):
                r = bump(bench, fleet, strategy, args.bake)
                log(f"run {i + 1}/{args.repeat} {strategy}: {r['seconds']:.2f} s, {r['awsCalls']} AWS calls, "
                    f"{r['gateNatsRounds']} gate NATS rounds, {r['statsRounds']} $SRV.STATS rounds")
                runs[strategy].append(r)
        out = {
            "bakeSeconds": args.bake,
            "rolling": {"seconds": summary([r["seconds"] for r in runs["rolling"]]),
                        "awsCalls": _median(runs["rolling"], "awsCalls"),
                        "gateNatsRounds": _median(runs["rolling"], "gateNatsRounds")},
            "canary": {"seconds": summary([r["seconds"] for r in runs["canary"]]),
                       "awsCalls": _median(runs["canary"], "awsCalls"),
                       "gateNatsRounds": _median(runs["canary"], "gateNatsRounds"),
                       "statsRounds": _median(runs["canary"], "statsRounds")},
            "canaryAdds": {"awsCalls": _median(runs["canary"], "awsCalls") - _median(runs["rolling"], "awsCalls"),
                           "natsRounds": (_median(runs["canary"], "gateNatsRounds")
                                          + _median(runs["canary"], "statsRounds")
                                          - _median(runs["rolling"], "gateNatsRounds")),
                           "seconds": round(_median(runs["canary"], "seconds")
                                            - _median(runs["rolling"], "seconds"), 3)},
            "traffic": {"sent": traffic.sent, "ok": traffic.ok, "errors": traffic.errors},
            "runs": runs,
        }
        print(json.dumps(out, indent=2))
        return 0
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(traffic.stop)
            thread.join(timeout=10)
        bench.stop()


if __name__ == "__main__":
    sys.exit(main())
