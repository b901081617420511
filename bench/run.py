"""Every benchmark in one run, fleetctl side by side with the tools users would otherwise pick.

    .venv/bin/python bench/run.py            # full run (several minutes)
    .venv/bin/python bench/run.py --quick    # smoke: tiny fleets, one repetition

Writes bench/results/latest.json and bench/results/latest.md (the table in README.md's
Performance section). Order: the sandbox cold start and CLI start-up first, on a quiet
machine; then one sandbox, a counting proxy in front of it, and on it the no-op reconcile,
the fleet image bump and the controller's memory; then bench/gate_cost.py (a sandbox of its own;
not with --quick), bench/scale.py, bench/diagnose.py and bench/probe.py
when present (each run as `python bench/<name>.py --json [--quick]`, the last JSON object on
its stdout is reported as is). With --quick, a smoke run, the last three run alongside the
sandbox part instead of after it.

Competitors (ecs-deploy and the aws CLI) live in .venv-bench, created from
bench/requirements.txt when missing (`--competitors yes`, the default of a full run).
`--competitors no` runs only fleetctl's side and says so in every row.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import cli_startup, compare_noop, controller_memory, image_bump  # noqa: E402
from bench.harness import REPO, Bench, bench_venv_ready, ensure_bench_venv, log, run_timed, summary  # noqa: E402

QUICK_SERVICES = ["model_mgmt", "state_manager", "quest"]  # a dependency chain, so waves are exercised


def _quick_sandbox() -> Any:
    """--quick: the sandbox with the test suite's short timings (tests/sandbox/conftest.py)."""
    from fleetctl.sandbox.config import SandboxConfig

    return SandboxConfig(startup_grace=0.5, tick=0.1, backoff_base=0.2, backoff_max=2.0, default_stop_timeout=5.0,
                         shutdown_stop_timeout=2.0)


def cold_start(services: int, repeat: int) -> dict:
    log(f"sandbox cold start: {repeat} runs with {services} services")
    values, created = [], []
    for _ in range(repeat):
        _, proc = run_timed([sys.executable, str(REPO / "bench" / "sandbox_cold_start.py"), "--services", str(services)],
                            timeout=300)
        running = re.search(r"all services RUNNING:\s+([\d.]+)", proc.stdout)
        if proc.returncode != 0 or not running:
            raise RuntimeError(f"sandbox_cold_start.py exited {proc.returncode}: {proc.stdout}{proc.stderr[-2000:]}")
        values.append(float(running.group(1)))
        created.append(float(re.search(r"services created:\s+([\d.]+)", proc.stdout).group(1)))
    s = summary(values, 2)
    return {"services": services, "seconds": s, "services_created_s": summary(created, 2), "target_s": 15,
            "target_met": s["median"] <= 15}


DIAGNOSE_TASKS = {"quick": 20, "full": 100}   # stopped tasks bench/diagnose.py makes and explains


def external(name: str, quick: bool) -> dict:
    """bench/<name>.py, written separately: its JSON output as is, or why there is none."""
    script = REPO / "bench" / f"{name}.py"
    if not script.exists():
        return {"available": False, "note": "not available"}
    log(f"{name}: running {script.name}")
    size = {"probe": ["--services", "3" if quick else "23"],
            "diagnose": ["--tasks", str(DIAGNOSE_TASKS["quick" if quick else "full"])]}[name]
    reps = ["--repeat", "1"] if quick else []
    # only flags the script declares: each refused attempt is one more interpreter start-up
    declared = script.read_text()
    attempts = [flags for flags in ([*size, *reps, "--json"], [*size, *reps], size, [])
                if all(f'"{f}"' in declared for f in flags if f.startswith("--"))]
    proc = None
    for flags in attempts:
        seconds, proc = run_timed([sys.executable, str(script), *flags], timeout=900)
        if proc.returncode == 2 and "unrecognized arguments" in proc.stderr:
            continue
        break
    assert proc is not None
    if proc.returncode != 0:
        return {"available": True, "ok": False, "note": f"exited {proc.returncode}", "stderr": proc.stderr[-2000:]}
    parsed = _last_json(proc.stdout)
    return {"available": True, "ok": True, "seconds": round(seconds, 2), "args": flags, "result": parsed,
            "stdout": None if parsed is not None else proc.stdout[-4000:],
            "summary": _flat(parsed) if parsed is not None else _numeric_lines(proc.stdout)}


def scale(quick: bool) -> dict:
    """bench/scale.py: validate/render/plan at 100–5,000 services, the throttled plan, operator
    memory at 5,000 and diagnose of 10,000 stopped tasks (its JSON as is)."""
    log("scale: running scale.py")
    seconds, proc = run_timed([sys.executable, str(REPO / "bench" / "scale.py"), "--json", *(["--quick"] if quick else [])],
                              timeout=3600)
    if proc.returncode != 0:
        return {"ok": False, "note": f"exited {proc.returncode}", "stderr": proc.stderr[-3000:]}
    return {"ok": True, "seconds": round(seconds, 1), **_last_json(proc.stdout)}


def gate_cost(quick: bool) -> dict:
    """bench/gate_cost.py on a sandbox of its own: what the rollout gate adds to the 23-service image
    bump (its JSON as is). Not part of --quick: four rollouts of the whole fleet take minutes."""
    if quick:
        return {"ok": False, "note": "not run with --quick (python bench/gate_cost.py)"}
    log("gate cost: running gate_cost.py")
    seconds, proc = run_timed([sys.executable, str(REPO / "bench" / "gate_cost.py"), "--repeat", "3"], timeout=3600)
    if proc.returncode != 0:
        return {"ok": False, "note": f"exited {proc.returncode}", "stderr": proc.stderr[-3000:]}
    return {"ok": True, "seconds": round(seconds, 1), **_last_json(proc.stdout)}


def _own_side_benchmarks(quick: bool, skip: frozenset[str] = frozenset()) -> dict[str, Callable[[], dict]]:
    """bench/scale.py, diagnose.py and probe.py, each with its own AWS or NATS side: name -> a call
    giving its result. A full run runs each when asked, after the sandbox benchmarks (every number
    measured alone); --quick, a smoke run, starts them now, one after the other in one thread,
    alongside the sandbox part, which mostly waits on rollouts."""
    jobs: dict[str, Callable[[], dict]] = {"scale": lambda: scale(quick),
                                           "diagnose": lambda: external("diagnose", quick),
                                           "probe": lambda: external("probe", quick)}
    jobs = {name: job for name, job in jobs.items() if name not in skip}
    if not quick:
        return jobs
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="own-side")
    futures = {name: pool.submit(job) for name, job in jobs.items()}
    pool.shutdown(wait=False)
    return {name: future.result for name, future in futures.items()}


def _gate_row(g: dict, row: Any) -> None:
    label = "rollout gate on the 23-service image bump: added wall time, NATS rounds"
    if not g.get("ok"):
        row(label, g.get("note", "failed"), "–", "–", "–", "–", "–")
        return
    w = g["gateSecondsMax"]
    row(label, f"gate's wait after ECS was done, slowest service: {_s(w)} with minReadySeconds {g['minReadySeconds']:g} "
        f"(whole apply {_s(g['gated'])} gated vs {_s(g['baseline'])} baseline; load {g.get('load', '?')}); "
        f"{g['natsRoundsPerPoll']:g} NATS round(s) per poll", "–", "–", "–",
        f"≤ minReadySeconds + 1 s ({g['minReadySeconds'] + 1:g} s); 1 NATS round per poll",
        _yes(g["met"] and g["natsRoundsPerPoll"] <= 1))


def _scale_rows(sc: dict, row: Any, lines: list[str]) -> None:
    if not sc.get("ok"):
        lines.append(f"| scale benchmarks | failed: {sc.get('note')} | – | – | – | – | – |")
        return
    t = sc["targets"]
    sizes = sc["validate_render"]
    big = sizes[-1]["services"]
    for r in sizes:
        n = r["services"]
        v, rd = r["validate"], r["render"]
        row(f"`fleetctl validate`, {n} services", f"{_s(v['wall_s'])}, CPU {v['cpu_s']['median']:g} s", "–", "–", "–",
            "≤ 1 s" if n == big else "–", _yes(t.get(f"validate {n} services <= 1 s")) if n == big else "–")
        row(f"`fleetctl render -o json`, {n} services", f"{_s(rd['wall_s'])}, CPU {rd['cpu_s']['median']:g} s", "–", "–",
            "–", "–", "–")
    for r in sc["plan"]["sizes"]:
        n = r["services"]
        row(f"no-op `fleetctl plan`, {n} services (ECS-sized pages)", f"{_s(r['wall_s'])}; {r['calls']} calls", "–", "–",
            "–", f"{r['target_calls']} calls (⌈N/10⌉ + ⌈N/100⌉)", _yes(r["target_met"]))
    th = sc["plan"]["throttled"]
    p, u = th["paced"], th["unpaced"]
    row(f"no-op plan, {th['services']} services, behind a proxy throttling at AWS's rates",
        f"{p['throttling_errors']} throttling errors; {p['wall_s']:g} s = {_x(p['wall_vs_floor'])} the rate floor "
        f"({th['floor_s']:g} s) (unpaced: {u['throttling_errors']} errors, {u['wall_s']:g} s)", "–", "–", "–",
        "0 errors; ≤ 1.2× floor",
        _yes(t["throttling_errors==0"] and t["wall_vs_floor<=1.2"]))
    for m in sc["controller_memory"]:
        n = m["services"]
        passes = ", ".join(f"{x['VmRSS']:g}" for x in m["passes"])
        row(f"`controller run` memory, {n} services", f"RSS after passes 1–{len(m['passes'])}: {passes} MiB; peak "
            f"{m['hwm_mib']:g} MiB", "–", "–", "–", "≤ 150 MiB" if n == sc["controller_memory"][-1]["services"] else "–",
            _yes(m["hwm_mib"] <= 150) if n == sc["controller_memory"][-1]["services"] else "–")
    d = sc["diagnose"]
    row(f"`fleetctl diagnose -s NAME`, {d['stopped_tasks']} stopped tasks", f"{_s(d['wall_s'])}; {d['calls']} calls "
        f"({', '.join(f'{k}={v}' for k, v in d['by_operation'].items())})", "–", "–", "–", "–", "–")


def _numeric_lines(text: str) -> str:
    """The headline lines of a text report (medians, calls, totals), for one table cell."""
    keep = [" ".join(line.split()) for line in text.splitlines()
            if re.search(r"median|calls|diagnosed|probed|target", line) and not line.startswith(" ")]
    return "; ".join(keep)[:400]


def _last_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny fleets, one repetition")
    ap.add_argument("--competitors", choices=["yes", "no", "auto"], default=None,
                    help="run ecs-deploy and the aws CLI (yes: create .venv-bench if missing; auto: if present). "
                         "Default: yes, or auto with --quick")
    ap.add_argument("--repeat", type=int,
                    help="repetitions (default: no-op 5 at 23 services and 3 at 500, image bump 3; 1 with --quick)")
    ap.add_argument("--skip", action="append", choices=["gate", "scale"], default=[],
                    help="leave out bench/gate_cost.py or bench/scale.py (repeatable); the table then has no row "
                         "for it. Each also runs on its own and prints its numbers")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--render", type=Path, metavar="JSON", help="only print the table of an earlier run's JSON")
    args = ap.parse_args()
    if args.render:
        print(render_markdown(json.loads(args.render.read_text())), end="")
        return 0
    quick = args.quick
    mode = args.competitors or ("auto" if quick else "yes")
    if mode == "yes":
        ensure_bench_venv(log)
    competitors = mode == "yes" or (mode == "auto" and bench_venv_ready())
    why_not = None if competitors else ("--competitors no" if mode == "no" else ".venv-bench not present")

    started = time.time()
    results: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "mode": "quick" if quick else "full",
        "competitors": "included" if competitors else f"skipped ({why_not})",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if competitors:
        from importlib.metadata import PathDistribution

        site = next((REPO / ".venv-bench" / "lib").glob("python*/site-packages"))
        results["competitor_versions"] = {
            name: PathDistribution(next(site.glob(f"{name.replace('-', '_')}-*.dist-info"))).version
            for name in ("ecs-deploy", "awscli")
        }

    results["sandbox_cold_start"] = cold_start(3 if quick else 23, 1 if quick else 3)
    results["cli_startup"] = cli_startup.run(3 if quick else 15)
    skip = frozenset(args.skip)
    results["skipped"] = sorted(skip)
    own_side = _own_side_benchmarks(quick, skip)

    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-") as tmp:
        bench = Bench.start(Path(tmp), _quick_sandbox() if quick else None)
        try:
            log("set-up: applying the local fleet")
            local = bench.new_fleet("local", services=QUICK_SERVICES if quick else None)
            bench.apply(local)
            big_n = 20 if quick else 500
            log(f"set-up: applying a generated fleet of {big_n} services (desiredCount 0)")
            big = bench.new_fleet(f"gen{big_n}", generated=big_n)
            bench.apply(big)
            results["noop_reconcile"] = [
                *compare_noop.run(bench, [local], repeat=args.repeat or (1 if quick else 5), cli_k=1 if quick else 10,
                                  competitors=competitors),
                *compare_noop.run(bench, [big], repeat=args.repeat or (1 if quick else 3), cli_k=1 if quick else 10,
                                  competitors=competitors),
            ]
            fleets = image_bump.setup(bench, local, services=None, ecs_deploy_k=1 if quick else 6,
                                      aws_cli_k=1 if quick else 3, competitors=competitors)
            results["image_bump"] = image_bump.run(bench, fleets, repeat=args.repeat or (1 if quick else 3))
            # --quick: minReadySeconds 1, as manifests/local.yaml has (the default 5 s is a wait per dependency wave)
            cheap = image_bump.setup_cheap(bench, services=QUICK_SERVICES if quick else None,
                                           min_ready=1 if quick else None)
            results["image_bump_cheap"] = image_bump.run_cheap(bench, cheap, repeat=args.repeat or (1 if quick else 3))
            log(f"controller memory over {big_n} services")
            results["controller_memory"] = controller_memory.measure(bench, big, passes=2 if quick else 3)
        finally:
            bench.stop()

    if "gate" not in skip:
        results["gate_cost"] = gate_cost(quick)
    results.update({name: result() for name, result in own_side.items()})
    results["elapsed_s"] = round(time.time() - started, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    stem = "quick" if quick else "latest"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    md = render_markdown(results)
    (args.out / f"{stem}.md").write_text(md)
    print(md)
    log(f"wrote {args.out / stem}.json and .md in {results['elapsed_s']} s")
    return 0


# -- the table ---------------------------------------------------------------------------------
def _s(x: dict | None, unit: str = "s") -> str:
    if not x or x.get("median") is None:
        return "–"
    if x["n"] == 1:
        return f"{x['median']:g} {unit}"
    return f"{x['median']:g} {unit} ({x['min']:g}–{x['max']:g})"


def _yes(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def _x(r: float | None) -> str:
    return "–" if r is None else f"{r:g}×"


def render_markdown(r: dict) -> str:
    m = r["machine"]
    skipped = "skipped" in r["competitors"]
    skip = "skipped" if skipped else None
    lines = [
        f"Machine: {m['cores']} cores, Python {m['python']} ({m['platform']}); mode: {r['mode']}; "
        f"competitors: {r['competitors']}"
        + (f" — ecs-deploy {r['competitor_versions']['ecs-deploy']}, awscli {r['competitor_versions']['awscli']}"
           if r.get("competitor_versions") else "") + ".",
        "",
        "| benchmark | fleetctl | ecs-deploy | aws CLI loop | competitor ÷ fleetctl | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    def row(name: str, fc: str, ed: str | None, aw: str | None, rat: str, target: str, met: str) -> None:
        lines.append(f"| {name} | {fc} | {ed or skip or '–'} | {aw or skip or '–'} | {rat} | {target} | {met} |")

    for nr in r["noop_reconcile"]:
        t = nr["tools"]
        n = nr["services"]
        ed, aw = t.get("ecs-deploy"), t.get("aws-cli")
        star = lambda e: "*" if e and e.get("extrapolated_from") else ""  # noqa: E731
        row(f"no-op reconcile, {n} services: AWS calls", str(t["fleetctl"]["calls"]),
            ed and str(ed["calls"]), aw and f"{aw['calls']}{star(aw)}",
            " / ".join(_x(e["calls_ratio"]) for e in (ed, aw) if e) or "–", f"≤ {nr['target_calls']}",
            _yes(nr["target_met"]))
        row(f"no-op reconcile, {n} services: wall time", _s(t["fleetctl"]["seconds"]),
            ed and _s(ed["seconds"]), aw and _s(aw["seconds"]) + star(aw),
            " / ".join(_x(e["time_ratio"]) for e in (ed, aw) if e) or "–", "–", "–")
    b = r["image_bump"]
    t = b["tools"]
    ed, aw = t.get("ecs-deploy"), t.get("aws-cli")
    n = b["services"]
    row(f"image bump, {n} services: wall time to all rolled out", _s(t["fleetctl"]["seconds"]),
        ed and _s(ed["seconds"]) + "*", aw and _s(aw["seconds"]) + "*",
        " / ".join(_x(e["time_ratio"]) for e in (ed, aw) if e) or "–", "ecs-deploy ÷ fleetctl ≥ 20×",
        _yes(b["targets"].get("ecs_deploy_ratio>=20")))
    one = t.get("fleetctl-one")
    row("image bump: whole fleet ÷ one service alone", f"{_x(b['fleet_vs_one_service'])} "
        f"(one service: {_s(one['seconds']) if one else '–'})", "–", "–", "–", "≤ 1.5×",
        _yes(b["targets"]["fleet_vs_one_service<=1.5"]))
    row(f"image bump, {n} services: AWS calls", str(t["fleetctl"]["calls"]), ed and f"{ed['calls']}*",
        aw and f"{aw['calls']}*", " / ".join(_x(e["calls_ratio"]) for e in (ed, aw) if e) or "–", "≤ 70",
        _yes(b["targets"]["calls<=70"]))
    cb = r.get("image_bump_cheap")
    if cb:
        one = cb["tools"].get("fleetctl-one")
        w = cb["where_time_goes"]
        row(f"image bump, {cb['services']} near-free containers (`sleep`): whole fleet ÷ one service",
            f"{_x(cb['fleet_vs_one_service'])} (fleet {_s(cb['tools']['fleetctl']['seconds'])}, one service "
            f"{_s(one['seconds']) if one else '–'}; minReadySeconds {w['min_ready_seconds']} s, polls every "
            f"{w['poll_interval_s']:g} s, dependency depth {w['dependency_depth']}, {w['tag_writes']} tag writes)",
            "–", "–", "–", "≤ 1.2×", _yes(cb["targets"]["fleet_vs_one_service<=1.2"]))
    for name in ("diagnose", "probe"):
        e = r[name]
        tasks = DIAGNOSE_TASKS[r["mode"]]
        label = {"diagnose": f"diagnose {tasks} stopped tasks", "probe": "probe the whole fleet"}[name]
        if not e["available"]:
            lines.append(f"| {label} | not available | – | – | – | – | – |")
        elif not e.get("ok"):
            lines.append(f"| {label} | failed: {e['note']} | – | – | – | – | – |")
        else:
            lines.append(f"| {label} | {e['summary'] or 'see JSON'} | – | – | – | – | – |")
    for cmd, v in r["cli_startup"].items():
        row(f"CLI start-up: `{cmd}`", _s(v["seconds"]), "–", "–", "–", f"≤ {v['target_s']} s", _yes(v["target_met"]))
    cs = r["sandbox_cold_start"]
    row(f"sandbox cold start, {cs['services']} services to all RUNNING", _s(cs["seconds"]), "–", "–", "–",
        f"≤ {cs['target_s']} s", _yes(cs["target_met"]))
    mem = r["controller_memory"]
    row(f"`controller run` memory, {mem['services']} services (after {mem['passes']} passes)",
        f"RSS {mem['rss_mib']} MiB, peak {mem['hwm_mib']} MiB", "–", "–", "–", f"≤ {mem['target_mib']} MiB",
        _yes(mem["target_met"]))
    if "gate_cost" in r:
        _gate_row(r["gate_cost"], row)
    if "scale" in r:
        _scale_rows(r["scale"], row, lines)
    lines += ["", "Times are medians with (min–max) over the repetitions; calls are counted on the server side "
              "(a counting proxy in front of the sandbox's endpoint), the same way for every tool."]
    notes = []
    if ed or aw:
        k = ", ".join(f"{name} on {e['extrapolated_from']}" for name, e in (("ecs-deploy", ed), ("the aws CLI", aw))
                      if e and e.get("extrapolated_from"))
        notes.append(f"\\* sequential loops measured on K services and extrapolated linearly to {n} ({k}); the "
                     "no-op aws CLI loop likewise where marked.")
    if notes:
        lines += [""] + notes
    return "\n".join(lines) + "\n"


def _flat(d: Any, prefix: str = "") -> str:
    """Numeric leaves of an external benchmark's JSON, `key=value`, for one table cell."""
    out = []
    if isinstance(d, dict):
        for k, v in d.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(f"{prefix}{k}={v:g}")
            elif isinstance(v, dict) and len(out) < 8:
                inner = _flat(v, f"{prefix}{k}.")
                if inner:
                    out.append(inner)
    return ", ".join(out[:8])


if __name__ == "__main__":
    raise SystemExit(main())
