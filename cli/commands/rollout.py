"""`fleetctl rollout status|promote|abort SERVICE`: canary rollouts (controller/canary.py)."""
from __future__ import annotations

from typing import Any

import typer

from fleetctl.cli import output
from fleetctl.cli.app import app
from fleetctl.cli.context import Invocation, check_services, fleet_lease, resolve_manifest, run_fleet
from fleetctl.cli.options import (
    GateCredsOpt,
    GatePasswordOpt,
    GateUserOpt,
    LockTimeoutOpt,
    ManifestOpt,
    NatsGateOpt,
    ServiceArg,
    TextOrJson,
    TextOrJsonOpt,
    TfOutputsOpt,
    gate_auth,
)

rollout_app = typer.Typer(help="Canary rollouts (rollout.strategy: canary): progress, promote, abort.",
                          no_args_is_help=True)
app.add_typer(rollout_app, name="rollout")


def _poll_interval(fleet: Any) -> float:
    return 1.0 if fleet.spec.target.kind == "sandbox" else 5.0


async def _canary_step(aws: Any, loaded: Any, service: str) -> tuple[Any, Any]:
    """(reconciliation, the service's CanaryAction or None) for one service."""
    from fleetctl.controller.canary import canary_action
    from fleetctl.controller.reconcile import reconcile_plan

    check_services(loaded, service)
    rec = await reconcile_plan(aws, loaded.fleet, only=[service], read_task_definitions=False)
    sp = rec.plan.for_service(service)
    return rec, canary_action(sp) if sp is not None else None


@rollout_app.command("status")
def status(service: ServiceArg, manifest: ManifestOpt = None, tf_outputs: TfOutputsOpt = None,
           output_format: TextOrJsonOpt = TextOrJson.text, nats_gate: NatsGateOpt = None,
           creds: GateCredsOpt = None, user: GateUserOpt = None, password: GatePasswordOpt = None) -> None:
    """A service's canary: phase, revision beside the stable one, bake progress, and (while it bakes) both
    sides' $SRV.STATS since the bake started. Exit 0, 2 error."""
    from fleetctl.controller.canary_run import canary_progress

    async def body(loaded: Any, aws: Any) -> Any:
        rec, step = await _canary_step(aws, loaded, service)
        auth = gate_auth(creds, user, password)
        return await canary_progress(rec.fleet, service, step, nats_gate.value if nats_gate else None, auth)

    report = run_fleet(resolve_manifest(manifest), tf_outputs, body)
    if output_format is TextOrJson.json:
        output.emit_json(report)
    else:
        _print_status(report)
    raise typer.Exit(output.EXIT_OK)


def _print_status(report: dict[str, Any]) -> None:
    typer.echo(f"{report['service']}: strategy {report['strategy']}")
    canary = report.get("canary")
    if canary is None:
        typer.echo(f"  no canary{': ' + report['plan'] if report.get('plan') else ''}")
        return
    typer.echo(f"  canary {canary['canary']}: {canary['phase']}, {canary['revision']} beside stable {canary['stable']}"
               f" ({canary['instances']} instance(s))")
    bake = report.get("bake")
    if bake:
        typer.echo(f"  bake: {bake['elapsedSeconds']:.0f}s of {bake['bakeSeconds']:g}s")
    if canary.get("verdict"):
        typer.echo(f"  verdict: {canary['verdict']}")
    live = report.get("live")
    if live:
        typer.echo(f"  so far ({live['reason']}):")
        for line in report.get("liveLines", []):
            typer.echo(f"    {line}")
    if report.get("next"):
        typer.echo(f"  next: {report['next']}")


def _decide(service: str, manifest: Any, tf_outputs: Any, command: str, lock_timeout: float, nats_gate: Any,
            auth: Any, output_format: TextOrJson) -> Any:
    """Record a person's decision on the canary (one TagResource), then carry it out when the fleet's
    lease is free; beside a running controller, the controller carries it out."""
    from fleetctl.cli import views
    from fleetctl.controller.canary_run import record_decision, run_decision

    invocation = Invocation(resolve_manifest(manifest), tf_outputs)

    async def body(loaded: Any, aws: Any) -> Any:
        rec, step = await _canary_step(aws, loaded, service)
        step = await record_decision(aws, rec.fleet, service, step, command)
        async with fleet_lease(aws, loaded, wait=lock_timeout, beside_controller=True) as lease:
            if lease is None:
                return None
            with views.ConsoleReporter(next_steps=invocation) as reporter:
                work = run_decision(aws, loaded.fleet, service, nats_gate, auth, reporter,
                                    poll_interval=_poll_interval(loaded.fleet))
                return await lease.run_while_held(work)

    result = run_fleet(invocation.manifest, tf_outputs, body)
    if result is None:
        if output_format is TextOrJson.json:
            output.emit_json({"service": service, "status": "recorded", "message": "the controller carries it out"})
        else:
            typer.echo(f"{service}: {command} recorded; the controller carries it out")
        raise typer.Exit(output.EXIT_OK)
    if output_format is TextOrJson.json:
        output.emit_json({"service": service, **result.as_dict()})
    else:
        typer.echo(f"{service}: {result.status}: {result.message}", nl=True)
        for line in result.verdict.lines() if result.verdict is not None else []:
            typer.echo(f"  {line}")
    wanted = {"promote": ("promoted", "cleaned"), "abort": ("aborted", "cleaned")}[command]
    raise typer.Exit(output.EXIT_OK if result.status in wanted else output.EXIT_FOUND)


@rollout_app.command("promote")
def promote(service: ServiceArg, manifest: ManifestOpt = None, tf_outputs: TfOutputsOpt = None,
            nats_gate: NatsGateOpt = None, creds: GateCredsOpt = None, user: GateUserOpt = None,
            password: GatePasswordOpt = None, lock_timeout: LockTimeoutOpt = "3m",  # type: ignore[assignment]
            output_format: TextOrJsonOpt = TextOrJson.text) -> None:
    """Promote SERVICE's canary now (whatever its bake says): the service rolls to the canary's revision
    through the serving gate, then the canary is deleted. Exit 0 promoted, 1 failed, 2 error or no canary."""
    _decide(service, manifest, tf_outputs, "promote", lock_timeout, nats_gate.value if nats_gate else None,
            gate_auth(creds, user, password), output_format)


@rollout_app.command("abort")
def abort(service: ServiceArg, manifest: ManifestOpt = None, tf_outputs: TfOutputsOpt = None,
          lock_timeout: LockTimeoutOpt = "3m",  # type: ignore[assignment]
          output_format: TextOrJsonOpt = TextOrJson.text) -> None:
    """Abort SERVICE's canary: delete it; the service stays on its stable revision, and this revision is
    not tried again until the manifest changes. Exit 0 aborted, 2 error or no canary."""
    _decide(service, manifest, tf_outputs, "abort", lock_timeout, None, None, output_format)
