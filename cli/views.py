"""Human renderings of plans, rollouts and status (rich on stderr/stdout)."""
from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from fleetctl.controller.apply import ApplyResult, RolloutRow, ServiceOutcome
from fleetctl.controller.plan import Plan
from fleetctl.controller.reconcile import ServiceStatus


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # a pipe or file gets full-width lines; a terminal keeps its own width
    return Console(stderr=stderr, highlight=False, emoji=False, width=None if stream.isatty() else 1000)


def plan_table(plan: Plan) -> None:
    from rich.table import Table

    con = _console()
    changed = [sp for sp in plan.services if sp.actions]
    if not changed and not plan.conflicts:
        con.print(f"in sync: {len(plan.in_sync)} services match the manifest on cluster {plan.cluster}")
    else:
        table = Table(title=None, box=None, pad_edge=False)
        table.add_column("SERVICE", style="bold")
        table.add_column("ACTIONS")
        for sp in changed:
            table.add_row(sp.service, "; ".join(a.summary() for a in sp.actions))
        con.print(table)
        con.print(f"{len(changed)} to change, {len(plan.in_sync)} unchanged")
    if plan.orphans:
        con.print(f"owned by this fleet but not in the manifest (delete with --prune): {', '.join(plan.orphans)}")
    _conflicts(con, plan)


def _conflicts(con: Any, plan: Plan) -> None:
    for c in plan.conflicts:
        con.print(f"CONFLICT {c.message()}", markup=False)


def plan_diff(plan: Plan) -> None:
    from fleetctl.controller.plan import (
        CreateServiceAction,
        RegisterTaskDefinitionAction,
        ScaleServiceAction,
        UpdateServiceAction,
    )

    con = _console()
    for sp in plan.services:
        if not sp.actions:
            continue
        con.print(f"[bold]~ service {sp.service}[/bold]")
        for a in sp.actions:
            if isinstance(a, (RegisterTaskDefinitionAction, CreateServiceAction)) and a.diff:
                label = "task definition" if isinstance(a, RegisterTaskDefinitionAction) else "service"
                con.print(f"  {label}:")
                for line in a.diff.splitlines():
                    style = ("green" if line.startswith("+") and not line.startswith("+++") else
                             "red" if line.startswith("-") and not line.startswith("---") else
                             "cyan" if line.startswith("@@") else None)
                    con.print("    " + line, style=style, markup=False)
            elif isinstance(a, UpdateServiceAction):
                for key, (old, new) in a.changes.items():
                    con.print(f"  {key}: ", end="")
                    con.print(f"{old}", style="red", end="", markup=False)
                    con.print(" -> ", end="")
                    con.print(f"{new}", style="green", markup=False)
            elif isinstance(a, ScaleServiceAction):
                con.print(f"  desiredCount: [red]{a.old}[/red] -> [green]{a.new}[/green]")
            else:
                con.print(f"  {a.summary()}")
    if plan.is_empty:
        con.print("no differences")
    if plan.orphans:
        con.print(f"orphans (not in the manifest): {', '.join(plan.orphans)}")
    _conflicts(con, plan)


class ConsoleReporter:
    """Progress of an apply on stderr: actions, new service events, one line per service."""

    def __init__(self, live: bool | None = None, next_steps: Any = None) -> None:
        self.con = _console(stderr=True)
        self.next_steps = next_steps  # cli.context.Invocation: spells complete follow-up commands
        self.live_enabled = sys.stderr.isatty() if live is None else live
        self._live: Any = None
        self._last_rows: dict[str, tuple[Any, ...]] = {}

    def __enter__(self) -> "ConsoleReporter":
        if self.live_enabled:
            from rich.live import Live

            self._live = Live(console=self.con, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def action(self, service: str, summary: str) -> None:
        self.con.print(f"{service}: {summary}", markup=False)

    def event(self, service: str, when: datetime | None, message: str) -> None:
        stamp = when.strftime("%H:%M:%S") if when else "--:--:--"
        self.con.print(f"{stamp} {service}: {message}", style="dim", markup=False)

    def progress(self, rows: list[RolloutRow], changes_of_any_phase: bool = False) -> None:
        if self._live is not None:
            from rich.table import Table

            table = Table(box=None, pad_edge=False)
            for col in ("SERVICE", "DESIRED", "RUNNING", "PENDING", "FAILED", "ROLLOUT", "PHASE"):
                table.add_column(col)
            for r in rows:
                table.add_row(r.service, str(r.desired), str(r.running), str(r.pending), str(r.failed), r.rollout, r.phase)
            self._live.update(table)
            return
        for r in rows:
            key = (r.desired, r.running, r.pending, r.failed, r.rollout, r.phase)
            if self._last_rows.get(r.service) != key and (r.phase == "waiting" or changes_of_any_phase):
                self._last_rows[r.service] = key
                self.con.print(f"{r.service}: desired {r.desired} running {r.running} pending {r.pending} "
                               f"failed {r.failed} rollout {r.rollout}"
                               + (f" {r.phase}" if changes_of_any_phase else ""), markup=False)

    def finished(self, outcome: ServiceOutcome) -> None:
        style = "red" if outcome.failed else "green"
        self.con.print(f"{outcome.service}: {outcome.status} {outcome.message}", style=style, markup=False)
        for s in outcome.stopped_tasks:
            self.con.print(f"  stopped: {s.line()}", style="red", markup=False)
        for line in outcome.explanation() if outcome.status == "failed" else []:
            self.con.print(f"  {line}", style="red", markup=False)
        if outcome.status == "failed" and outcome.stopped_tasks:
            why = "the evidence and log tails" if outcome.diagnosis else "the cause"
            self.con.print(f"  run `{self.command('diagnose', '--service', outcome.service)}` for {why}", markup=False)

    def command(self, verb: str, *args: str) -> str:
        if self.next_steps is None:
            import shlex

            return shlex.join(["fleetctl", verb, *args])
        return self.next_steps.command(verb, *args)

    def status_rows(self, rows: list[ServiceStatus]) -> None:
        """A status refresh (`status --watch`) in the same live view as apply's progress."""
        self.progress([RolloutRow(r.service, r.desired, r.running, r.pending, 0, r.rollout,
                                  "ready" if r.condition("Ready").status else
                                  "degraded" if r.condition("Degraded").status else "waiting")
                       for r in rows], changes_of_any_phase=True)


def apply_summary(result: ApplyResult, verb: str = "apply") -> None:
    con = _console()
    counts: dict[str, int] = {}
    for o in result.outcomes.values():
        counts[o.status] = counts.get(o.status, 0) + 1
    parts = [f"{n} {k}" for k, n in sorted(counts.items())]
    con.print((f"{verb} finished: " if result.ok else f"{verb} FAILED: ") + ", ".join(parts))
    for o in result.outcomes.values():
        if o.failed:
            con.print(f"  {o.service}: {o.message}", markup=False)
            for line in o.explanation():
                con.print(f"    {line}", markup=False)
    if not result.ok and result.changed:
        # after a failure that changed things: per service, what was done and what was not
        con.print("per service (done / not done):")
        for o in result.outcomes.values():
            if o.done or o.not_done:
                con.print(f"  {o.service}: done: {'; '.join(o.done) or '-'} / not done: {'; '.join(o.not_done) or '-'}",
                          markup=False)


def status_table(rows: list[ServiceStatus], invocation: Any = None) -> None:
    from rich.table import Table

    con = _console()
    table = Table(box=None, pad_edge=False)
    for col in ("SERVICE", "DESIRED", "RUNNING", "PENDING", "ROLLOUT", "TASKDEF", "IMAGE", "READY", "PROGRESSING",
                "DEGRADED", "SERVING", "REASON"):
        table.add_column(col)
    for r in rows:
        ready, progressing, degraded, serving = (r.condition(t) for t in ("Ready", "Progressing", "Degraded", "Serving"))
        image = "match" if r.image_matches else ("-" if r.running_image is None else "DIFFERS")
        notable = degraded if degraded.status else (progressing if progressing.status else
                                                    (serving if serving.status is False else ready))
        table.add_row(r.service, str(r.desired), str(r.running), str(r.pending), r.rollout, r.task_definition,
                      image, str(ready.status), str(progressing.status), str(degraded.status),
                      {True: "True", False: "False", None: "Unknown"}[serving.status],
                      f"{notable.reason}: {notable.message}")
    con.print(table)
    ready = sum(1 for r in rows if r.condition("Ready").status)
    con.print(f"{ready}/{len(rows)} services Ready")
    for r in rows:
        if r.canary:
            k = r.canary
            bake = f", bake started {datetime.fromtimestamp(k['bakeStart']):%H:%M:%S} ({k['bakeSeconds']:g}s)" \
                if k.get("bakeStart") else ""
            con.print(f"canary {k['canary']}: {k['phase']}, {k['revision']} beside {k['stable']}{bake}"
                      + (f"; {k['verdict']}" if k.get("verdict") else ""), markup=False)
    suspended = [r for r in rows if r.suspended]
    if suspended:
        names = [r.service for r in suspended]
        resume = (invocation.command("controller resume", *names, manifest_flag=True) if invocation is not None
                  else "fleetctl controller resume " + " ".join(names))
        con.print(f"suspended (the controller leaves them alone; `{resume}`): "
                  + ", ".join(f"{r.service} ({r.suspended})" for r in suspended), markup=False)
