"""Commands that reconcile a fleet: plan, diff, apply, status, wait, rollback."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from fleetctl.cli import output
from fleetctl.cli.app import app
from fleetctl.controller.errors import FleetError
from fleetctl.cli.context import Invocation, check_services, ecs_writes, fleet_lease, resolve_manifest, run_fleet
from fleetctl.cli.options import (
    AdoptOpt,
    Format,
    LockTimeoutOpt,
    FormatOpt,
    GateCredsOpt,
    GatePasswordOpt,
    GateUserOpt,
    ManifestArg,
    NatsGateOpt,
    ManifestOpt,
    ServiceArg,
    ServicesOpt,
    TextOrJson,
    TextOrJsonOpt,
    TfOutputsOpt,
    duration_option,
    gate_auth,
)

PruneOpt = Annotated[bool, typer.Option("--prune", help="also plan deleting owned services the manifest no longer lists")]
TimeoutOpt = Annotated[float, duration_option("--timeout", help="bound on each service's rollout")]


def _poll_interval(fleet: Any) -> float:
    return 1.0 if fleet.spec.target.kind == "sandbox" else 5.0


def _dry_run(manifest: Any, tf_outputs: Optional[str], services: Optional[list[str]], prune: bool,
             output_format: Format, view: str, adopt: Optional[list[str]] = None) -> None:
    from fleetctl.cli import views
    from fleetctl.controller.reconcile import reconcile_plan

    async def body(loaded: Any, aws: Any) -> Any:
        return await reconcile_plan(aws, loaded.fleet, prune=prune, only=check_services(loaded, services),
                                    adopt=frozenset(adopt or ()))

    rec = run_fleet(manifest, tf_outputs, body)
    if not output.is_text(output_format):
        output.emit(output_format, rec.plan.as_dict())
    elif view == "diff":
        views.plan_diff(rec.plan)
    else:
        views.plan_table(rec.plan)
    raise typer.Exit(output.EXIT_OK if rec.plan.is_empty else output.EXIT_FOUND)


@app.command()
def plan(
    manifest: ManifestArg = None,
    service: ServicesOpt = None,
    tf_outputs: TfOutputsOpt = None,
    prune: PruneOpt = False,
    output_format: FormatOpt = Format.text,
    adopt: AdoptOpt = None,
) -> None:
    """Reconcile dry run: the actions apply would take. Exit 0 in sync, 1 changes pending, 2 error."""
    _dry_run(manifest, tf_outputs, service, prune, output_format, "table", adopt)


@app.command()
def diff(
    manifest: ManifestArg = None,
    service: ServicesOpt = None,
    tf_outputs: TfOutputsOpt = None,
    prune: Annotated[bool, typer.Option("--prune", help="also show deleting owned services the manifest no longer lists")] = False,
    output_format: FormatOpt = Format.text,
    adopt: AdoptOpt = None,
) -> None:
    """Unified diff of live vs manifest task/service definitions. Exit 0 in sync, 1 differences, 2 error."""
    _dry_run(manifest, tf_outputs, service, prune, output_format, "diff", adopt)


@app.command()
def apply(
    manifest: ManifestArg = None,
    service: ServicesOpt = None,
    tf_outputs: TfOutputsOpt = None,
    prune: Annotated[bool, typer.Option("--prune", help="delete services owned by this fleet that the manifest no longer lists")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for every rollout to complete")] = True,
    timeout: TimeoutOpt = "10m",  # type: ignore[assignment]
    overall_timeout: Annotated[float, duration_option("--overall-timeout", help="bound on the whole apply")] = "30m",  # type: ignore[assignment]
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="stop at the first failed service")] = False,
    output_format: TextOrJsonOpt = TextOrJson.text,
    adopt: AdoptOpt = None,
    nats_gate: NatsGateOpt = None,
    creds: GateCredsOpt = None,
    user: GateUserOpt = None,
    password: GatePasswordOpt = None,
    lock_timeout: LockTimeoutOpt = "3m",  # type: ignore[assignment]
) -> None:
    """Drive ECS to the manifest and wait until every rollout serves: ECS done, new tasks healthy and
    stable for minReadySeconds, NATS showing the new version on every subject; a failed one is
    rolled back and explained. Exit 0 all Ready, 1 a service failed (once changes began: with what
    was and was not done per service), 2 error with nothing changed (usage, manifest, the fleet's
    lease held by another writer).

    With -s, only the named services are planned and applied (never pruned: --prune needs the whole
    fleet); their dependencies outside the selection are not waited for."""
    from fleetctl.cli import views
    from fleetctl.controller.apply import ApplyOptions, apply as apply_plan
    from fleetctl.controller.reconcile import dependencies, reconcile_plan

    if prune and service:
        output.error_line("--prune needs the whole fleet: not with -s/--service")
        raise typer.Exit(output.EXIT_USAGE)
    invocation = Invocation(resolve_manifest(manifest), tf_outputs)

    async def body(loaded: Any, aws: Any) -> Any:
        fleet = loaded.fleet
        rollout = fleet.spec.rollout
        selected = check_services(loaded, service)
        async with fleet_lease(aws, loaded, wait=lock_timeout) as lease:
            try:
                # observed under the lease: the plan starts from what the previous writer left
                rec = await reconcile_plan(aws, fleet, prune=prune, read_task_definitions=False, only=selected,
                                           adopt=frozenset(adopt or ()))
                if rec.plan.is_empty:
                    output.info(f"in sync: nothing to do for {len(rec.rendered)} services")
                deps = dependencies(fleet)
                if selected is not None:
                    deps = {name: [d for d in deps[name] if d in selected] for name in selected}
                gate = await _apply_gate(rec, wait, nats_gate, gate_auth(creds, user, password))
                options = ApplyOptions(wait=wait, timeout=min(timeout, rollout.progress_deadline_seconds),
                                       overall_timeout=overall_timeout, fail_fast=fail_fast,
                                       concurrency=fleet.spec.max_concurrency, poll_interval=_poll_interval(fleet),
                                       min_ready=rollout.min_ready_seconds, gate=gate, fleet=rec.fleet)
                try:
                    with views.ConsoleReporter(next_steps=invocation) as reporter:
                        result = await lease.run_while_held(
                            apply_plan(rec.plan, aws, fleet_name=fleet.metadata.name, dependencies=deps,
                                       observed=rec.observed.services, options=options, reporter=reporter))
                finally:
                    await gate.close()
            except FleetError as exc:
                if ecs_writes(aws):
                    exc.exit_code = output.EXIT_FOUND  # changes began: not "nothing was changed"
                raise
        return rec, result, gate

    rec, result, gate = run_fleet(invocation.manifest, tf_outputs, body, start_sandbox=True)
    if output_format is TextOrJson.json:
        output.emit_json({"ok": result.ok, "changed": result.changed, "plan": rec.plan.as_dict(), "natsGate": gate.summary(),
                          "polls": result.polls, "natsRounds": result.nats_rounds,
                          "services": [o.as_dict() for o in result.outcomes.values()]})
    else:
        views.apply_summary(result)
    raise typer.Exit(output.EXIT_OK if result.ok else output.EXIT_FOUND)


async def _apply_gate(rec: Any, wait: bool, nats_gate: Any, auth: Any) -> Any:
    """The NATS gate apply waits through: opened when there is something to wait for."""
    from fleetctl.controller.gate import NatsGate, open_gate, skip_warning

    if not wait or rec.plan.is_empty:
        gate = NatsGate(rec.fleet, "off")
        gate.state = "unused"
        return gate
    gate = await open_gate(rec.fleet, nats_gate.value if nats_gate else None, auth)
    if (warning := skip_warning(gate)) is not None:
        output.note(warning)
    return gate


@app.command()
def status(
    manifest: ManifestArg = None,
    service: ServicesOpt = None,
    tf_outputs: TfOutputsOpt = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="keep a live view until Ctrl-C, then print the table")] = False,
    interval: Annotated[float, duration_option("--interval", help="refresh interval with --watch")] = "2s",  # type: ignore[assignment]
    output_format: FormatOpt = Format.text,
    nats_gate: NatsGateOpt = None,
    creds: GateCredsOpt = None,
    user: GateUserOpt = None,
    password: GatePasswordOpt = None,
) -> None:
    """Per service: desired/running/pending, rollout, running vs manifest digest, Ready/Progressing/Degraded/Serving.

    Serving comes from one NATS round for the fleet ($SRV discovery, a responder on every subject).
    Exit 0 when every service is Ready, 1 otherwise."""
    import asyncio

    from fleetctl.cli import views
    from fleetctl.controller.observe import TaskDefinitionCache
    from fleetctl.controller.reconcile import fleet_status

    gates: list[Any] = []

    async def body(loaded: Any, aws: Any) -> Any:
        from fleetctl.controller.gate import open_gate, skip_warning

        selected = check_services(loaded, service)
        cache = TaskDefinitionCache()
        gate = await open_gate(loaded.fleet, nats_gate.value if nats_gate else None, gate_auth(creds, user, password))
        gates.append(gate)
        if (warning := skip_warning(gate)) is not None:
            output.note(warning)
        try:
            return await _status_rows(aws, loaded, selected, cache, gate)
        finally:
            await gate.close()

    async def _status_rows(aws: Any, loaded: Any, selected: Any, cache: Any, gate: Any) -> Any:
        _rec, rows = await fleet_status(aws, loaded.fleet, only=selected, cache=cache, gate=gate)
        if not watch:
            return rows
        stop = _stop_on_signals()
        with views.ConsoleReporter() as reporter:
            while True:
                reporter.status_rows(rows)
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                    break
                except asyncio.TimeoutError:
                    pass
                _rec, rows = await fleet_status(aws, loaded.fleet, only=selected, cache=cache, gate=gate)
        return rows

    invocation = Invocation(resolve_manifest(manifest), tf_outputs)
    rows = run_fleet(invocation.manifest, tf_outputs, body)
    if not output.is_text(output_format):
        output.emit(output_format, {"natsGate": gates[0].summary() if gates else "unused",
                                    "services": [r.as_dict() for r in rows]})
    else:
        views.status_table(rows, invocation)
    all_ready = all(r.condition("Ready").status for r in rows)
    raise typer.Exit(output.EXIT_OK if all_ready else output.EXIT_FOUND)


def _stop_on_signals() -> Any:
    """An event set by SIGINT/SIGTERM (signal handlers live only in the CLI)."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@app.command()
def wait(
    manifest: ManifestArg = None,
    service: ServicesOpt = None,
    tf_outputs: TfOutputsOpt = None,
    timeout: Annotated[float, duration_option("--timeout", help="bound on the wait")] = "10m",  # type: ignore[assignment]
    output_format: FormatOpt = Format.text,
) -> None:
    """Wait until the rollouts in progress finish (started by `apply --no-wait`, the controller or by
    hand), with apply's live view. Exit 0 all Ready, 1 a rollout failed or timed out, 2 error."""
    from fleetctl.cli import views
    from fleetctl.controller.wait import wait_for_services

    invocation = Invocation(resolve_manifest(manifest), tf_outputs)

    async def body(loaded: Any, aws: Any) -> Any:
        selected = check_services(loaded, service) or [s.name for s in loaded.fleet.spec.services]
        with views.ConsoleReporter(next_steps=invocation) as reporter:
            return await wait_for_services(aws, loaded.fleet.spec.target.cluster, selected, timeout=timeout,
                                           reporter=reporter, poll_interval=_poll_interval(loaded.fleet))

    result = run_fleet(invocation.manifest, tf_outputs, body)
    if not output.is_text(output_format):
        output.emit(output_format, {"ok": result.ok, "services": [o.as_dict() for o in result.outcomes.values()]})
    else:
        views.apply_summary(result, verb="wait")
    raise typer.Exit(output.EXIT_OK if result.ok else output.EXIT_FOUND)


@app.command()
def rollback(
    service: ServiceArg,
    manifest: ManifestOpt = None,
    tf_outputs: TfOutputsOpt = None,
    to: Annotated[Optional[str], typer.Option("--to", help="family:revision to roll back to (default: the previous completed one)")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for the rollout")] = True,
    timeout: TimeoutOpt = "10m",  # type: ignore[assignment]
    suspend: Annotated[bool, typer.Option("--suspend/--no-suspend",
                                          help="suspend the controller's reconcile of SERVICE first, so it does not "
                                               "roll forward again (`fleetctl controller resume SERVICE` undoes)")] = True,
    nats_gate: NatsGateOpt = None,
    creds: GateCredsOpt = None,
    user: GateUserOpt = None,
    password: GatePasswordOpt = None,
    lock_timeout: LockTimeoutOpt = "3m",  # type: ignore[assignment]
) -> None:
    """Put SERVICE back on its previous completed task definition and wait for the rollout gate.
    Exit 0 Ready, 1 failed, 2 error. Takes the fleet's lease; beside a running controller (which
    holds it), a suspended service is rolled back without it."""
    from fleetctl.cli import views
    from fleetctl.controller.rollback import rollback as do_rollback

    invocation = Invocation(resolve_manifest(manifest), tf_outputs)

    async def body(loaded: Any, aws: Any) -> Any:
        check_services(loaded, service)
        async with fleet_lease(aws, loaded, wait=lock_timeout, beside_controller=suspend) as lease:
            if suspend:
                from fleetctl.controller.suspend import suspend as suspend_service

                await suspend_service(aws, loaded.fleet.spec.target.cluster, loaded.fleet.metadata.name, [service],
                                      by="rollback")
                output.note(f"suspended {service}: the controller leaves it alone until "
                            f"`{invocation.command('controller resume', service, manifest_flag=True)}` "
                            "(--no-suspend: do not suspend)")
            from fleetctl.controller.gate import NatsGate, open_gate, skip_warning
            from fleetctl.controller.observe import resolve_image_tags

            fleet = loaded.fleet
            gate = NatsGate(fleet, "off")
            if wait:
                resolved = await resolve_image_tags(aws, fleet) if fleet.spec.allow_image_tags else fleet
                gate = await open_gate(resolved, nats_gate.value if nats_gate else None, gate_auth(creds, user, password))
                if (warning := skip_warning(gate)) is not None:
                    output.note(warning)
            try:
                with views.ConsoleReporter(next_steps=invocation) as reporter:
                    work = do_rollback(aws, fleet.spec.target.cluster, service, to=to, wait=wait,
                                             timeout=min(timeout, fleet.spec.rollout.progress_deadline_seconds),
                                             reporter=reporter, poll_interval=_poll_interval(fleet), gate=gate,
                                             fleet=fleet, min_ready=fleet.spec.rollout.min_ready_seconds)
                    return await (lease.run_while_held(work) if lease is not None else work)
            finally:
                await gate.close()

    result = run_fleet(invocation.manifest, tf_outputs, body)
    typer.echo(f"{service}: {result.from_revision} -> {result.to_revision}: {'ok' if result.ok else 'FAILED'} {result.message}")
    for s in result.stopped:
        typer.echo(f"  stopped: {s.line()}")
    if result.ok and not suspend:
        output.note("the manifest still names the newer image: `fleetctl apply` or the controller would roll forward again")
    raise typer.Exit(output.EXIT_OK if result.ok else output.EXIT_FOUND)

