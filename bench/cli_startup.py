"""CLI start-up: wall time of `fleetctl --help` and `fleetctl validate manifests/prod.yaml`,
each run as a fresh subprocess (what a user or a CI step pays every time).

    .venv/bin/python bench/cli_startup.py [--repeat 15]

Runs alternate between the two commands. Targets: --help <= 0.3 s, validate <= 0.5 s (median).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import REPO, fleetctl_env, log, run_timed, summary  # noqa: E402

FLEETCTL_BIN = Path(sys.executable).parent / "fleetctl"
COMMANDS = {
    "fleetctl --help": ["--help"],
    "fleetctl validate manifests/prod.yaml": ["validate", str(REPO / "manifests" / "prod.yaml")],
}
TARGETS = {"fleetctl --help": 0.3, "fleetctl validate manifests/prod.yaml": 0.5}


def run(repeat: int) -> dict:
    log(f"CLI start-up: {repeat} runs of each command")
    env = fleetctl_env()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    run_timed([str(FLEETCTL_BIN), "--help"], env=env)  # warm the page cache once, not measured
    for _ in range(repeat):
        for name, args in COMMANDS.items():
            seconds, proc = run_timed([str(FLEETCTL_BIN), *args], env=env, timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"{name} exited {proc.returncode}: {proc.stderr[-2000:]}")
            times[name].append(seconds)
    return {name: {"seconds": summary(v), "target_s": TARGETS[name],
                   "target_met": summary(v)["median"] <= TARGETS[name]} for name, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    print(json.dumps(run(ap.parse_args().repeat), indent=2))


if __name__ == "__main__":
    main()
