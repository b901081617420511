"""Probe wall time in units of one measured NATS round trip.

    python bench/probe.py [--services 6] [--repeat 20]

Starts a nats-server and real fleet services (`python -m services.<name>`, on the SDK) on
loopback, points a manifest at them, and times `probe` repeatedly. "probe phase" is what runs
after connecting ($SRV.INFO, a request per declared subject and JetStream info, all at once);
its target is <= 2 RTT of wall time (plus the services' own processing time).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fleetctl.controller.manifest import load_manifest  # noqa: E402
from fleetctl.controller.probe import probe  # noqa: E402
from sdk.testing import NatsServer, ServiceProcess, base_env, wait_for_jetstream  # noqa: E402

NAMES = ["settings", "time_manager", "weather_manager", "language_system", "performance_mode", "model_mgmt",
         "state_manager", "capability_registry"]


def manifest(tmp: Path, url: str, names: list[str]) -> Path:
    doc = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
    doc["spec"].pop("terraformOutputs")
    doc["spec"]["nats"] = {"urls": [url]}
    doc["spec"]["services"] = [dict(s, desiredCount=1) for s in doc["spec"]["services"] if s["name"] in names]
    for s in doc["spec"]["services"]:
        s.pop("dependsOn", None)
    path = tmp / "fleet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


async def run(path: Path, repeat: int) -> list[tuple[float, float, float, int, bool]]:
    fleet = load_manifest(path, tf_outputs=REPO / "tests" / "fixtures" / "local-tf-outputs.json").fleet
    deadline = time.monotonic() + 30
    while True:  # wait for every service to answer
        report = await probe(fleet, timeout=2)
        if report.ok or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        report = await probe(fleet, timeout=2)
        total = (time.perf_counter() - started) * 1000
        subjects = sum(len(s.subjects) for s in report.services)
        out.append((report.elapsed_ms, report.rtt_ms or 0.0, total, subjects, report.ok))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    names = NAMES[:args.services]
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmpdir:
        tmp = Path(tmpdir)
        server = NatsServer(tmp / "nats").start()
        procs: list[ServiceProcess] = []
        try:
            asyncio.run(wait_for_jetstream(server.url))
            procs = [ServiceProcess(n, base_env(server.url), tmp / f"{n}.log").start() for n in names]
            results = asyncio.run(run(manifest(tmp, server.url, names), args.repeat))
        finally:
            for p in procs:
                p.terminate()
            server.stop()
    phase = [r[0] for r in results]
    rtt = statistics.median(r[1] for r in results)
    total = [r[2] for r in results]
    print(f"services: {len(names)}   subjects probed: {results[0][3]}   all ok: {all(r[4] for r in results)}")
    print(f"NATS RTT (PING/PONG): median {rtt:.3f} ms")
    print(f"probe phase: median {statistics.median(phase):.2f} ms = {statistics.median(phase) / rtt:.1f} RTT"
          f"   (min {min(phase):.2f} ms, max {max(phase):.2f} ms)")
    print(f"whole probe incl. connect: median {statistics.median(total):.2f} ms")
    print("sequential round trips in the probe phase: 1 (INFO broadcast, subject requests and JetStream info run at once)")


if __name__ == "__main__":
    main()
