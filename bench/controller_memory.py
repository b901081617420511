"""Controller memory: resident set of `fleetctl controller run` over a large fleet.

    .venv/bin/python bench/controller_memory.py [--services 500] [--passes 3]

The fleet is generated with desiredCount 0 (no task processes) and applied first; the
controller then runs as its own process with a 1 s interval. After the given number of full
passes (read from /healthz) its VmRSS and VmHWM are read from /proc/<pid>/status, then it
gets SIGTERM and must exit 0. Target: <= 80 MiB.
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Bench, BenchFleet, fleetctl_env, log  # noqa: E402

FLEETCTL_BIN = Path(sys.executable).parent / "fleetctl"
TARGET_MIB = 80


def proc_status(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024  # kB -> MiB
    return out


def measure(bench: Bench, fleet: BenchFleet, passes: int, timeout: float = 300) -> dict:
    stderr_path = bench.work / f"controller-{fleet.cluster}.log"
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen([str(FLEETCTL_BIN), "controller", "run", str(fleet.manifest), "--tf-outputs",
                                 str(fleet.outputs), "--interval", "1s", "--health-port", "0"],
                                env=fleetctl_env(), stdout=subprocess.DEVNULL, stderr=err)
    t0 = time.perf_counter()
    try:
        url = None
        done = 0
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"controller exited {proc.returncode}: {stderr_path.read_text()[-2000:]}")
            if url is None:
                m = re.search(r"health endpoints .*? on (?:http://)?([\w.]+:\d+)", stderr_path.read_text())
                url = f"http://{m.group(1)}" if m else None
            else:
                try:
                    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:
                        done = json.loads(resp.read())["passes"]
                except OSError:
                    pass
                if done >= passes:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"controller did not finish {passes} passes in {timeout:.0f}s (done {done})")
        elapsed = time.perf_counter() - t0
        mem = proc_status(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"services": len(fleet.names), "passes": done, "seconds_to_passes": round(elapsed, 2),
            "rss_mib": round(mem["VmRSS"], 1), "hwm_mib": round(mem["VmHWM"], 1), "exit_code": proc.returncode,
            "target_mib": TARGET_MIB, "target_met": mem["VmHWM"] <= TARGET_MIB and proc.returncode == 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=500)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-") as tmp:
        bench = Bench.start(Path(tmp))
        try:
            fleet = bench.new_fleet(f"mem{args.services}", generated=args.services)
            log(f"controller memory: applying {args.services} services")
            bench.apply(fleet)
            result = measure(bench, fleet, args.passes)
        finally:
            bench.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
