"""The `fleetctl` command line: thin commands that parse options, call the core and render.

Heavy modules (aiobotocore, moto, nats) are imported inside the commands that need them so
that `fleetctl --help` stays fast.
"""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from cli import output
from controller.errors import FleetError

EXIT_CODES = """Exit codes: 0 ok / in sync; 1 found something (drift, pending changes, failed rollout,
diagnose findings); 2 usage or manifest error (nothing was changed)."""

app = typer.Typer(
    name="fleetctl",
    help="Declarative deploy controller for a fleet of NATS microservices on AWS ECS.\n\n" + EXIT_CODES,
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class TextOrJson(str, enum.Enum):
    text = "text"
    json = "json"


class JsonOrYaml(str, enum.Enum):
    json = "json"
    yaml = "yaml"


ManifestArg = Annotated[Path, typer.Argument(help="fleet manifest (YAML)", show_default=False)]
TfOutputsOpt = Annotated[
    Optional[Path],
    typer.Option("--tf-outputs", help="`terraform output -json` file for ${tf:...} (overrides spec.terraformOutputs)"),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"fleetctl {version('fleetctl')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="show the version and exit")
    ] = False,
) -> None:
    """Declarative deploy controller for a fleet of NATS microservices on AWS ECS."""


@app.command()
def validate(
    manifest: ManifestArg,
    tf_outputs: TfOutputsOpt = None,
    output_format: Annotated[TextOrJson, typer.Option("-o", "--output", help="output format")] = TextOrJson.text,
) -> None:
    """Check a manifest: schema, references and lint. Exit 2 on any error; changes nothing."""
    from controller.errors import ManifestError
    from controller.manifest import load_manifest

    try:
        loaded = load_manifest(manifest, tf_outputs=tf_outputs, require_tf_outputs=False)
    except ManifestError as exc:
        if output_format is TextOrJson.json:
            output.emit_json({"valid": False, "errors": [i.as_dict() for i in exc.issues]})
        output.fail(exc)
    if loaded.note:
        output.note(loaded.note)
    services = len(loaded.fleet.spec.services)
    if output_format is TextOrJson.json:
        output.emit_json({
            "valid": True,
            "errors": [],
            "fleet": loaded.fleet.metadata.name,
            "services": services,
            "unresolvedTerraformOutputs": sorted(loaded.unresolved_tf),
        })
    else:
        typer.echo(f"{manifest}: valid (fleet {loaded.fleet.metadata.name}, {services} services)")


@app.command()
def render(
    manifest: ManifestArg,
    service: Annotated[Optional[str], typer.Option("--service", "-s", help="only this service")] = None,
    tf_outputs: TfOutputsOpt = None,
    output_format: Annotated[JsonOrYaml, typer.Option("-o", "--output", help="output format")] = JsonOrYaml.yaml,
) -> None:
    """Print the RegisterTaskDefinition / CreateService / UpdateService inputs fleetctl would send."""
    from controller.manifest import load_manifest
    from controller.render import render as render_fleet

    try:
        loaded = load_manifest(manifest, tf_outputs=tf_outputs)
        if service is not None:
            known = [s.name for s in loaded.fleet.spec.services]
            if service not in known:
                raise FleetError(f"{manifest}: no service {service!r} (services: {', '.join(known)})")
        rendered = [r.as_dict() for r in render_fleet(loaded.fleet, service)]
    except FleetError as exc:
        output.fail(exc)
    if output_format is JsonOrYaml.json:
        output.emit_json(rendered)
    else:
        output.emit_yaml(rendered)


def _duration(text: str) -> float:
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not m:
        raise typer.BadParameter(f"expected a duration like 30s, 10m or 1h, got {text!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


DurationOpt = Annotated[str, typer.Option(help="duration, e.g. 30s, 10m")]
AdoptOpt = Annotated[Optional[list[str]], typer.Option(
    "--adopt", metavar="SERVICE",
    help="take over SERVICE although it is untagged or tagged as another fleet's (repeatable)")]


def _fail_conflicts(exc: FleetError) -> None:
    from controller.plan import OwnershipError

    if isinstance(exc, OwnershipError):
        for c in exc.conflicts:
            output.error_line(c.message())
        raise typer.Exit(output.EXIT_USAGE)


def _dry_run(manifest: Path, tf_outputs: Optional[Path], prune: bool, output_format: TextOrJson, view: str,
             adopt: Optional[list[str]] = None) -> None:
    import asyncio

    from cli import views
    from cli.context import aws_for, load_for_aws
    from controller.reconcile import reconcile_plan

    async def run():
        loaded = load_for_aws(manifest, tf_outputs, start_sandbox=False)
        async with aws_for(loaded) as aws:
            return await reconcile_plan(aws, loaded.fleet, prune=prune, adopt=frozenset(adopt or ()))

    try:
        rec = asyncio.run(run())
    except FleetError as exc:
        output.fail(exc)
    if output_format is TextOrJson.json:
        output.emit_json(rec.plan.as_dict())
    elif view == "diff":
        views.plan_diff(rec.plan)
    else:
        views.plan_table(rec.plan)
    raise typer.Exit(output.EXIT_OK if rec.plan.is_empty else output.EXIT_FOUND)


@app.command()
def plan(
    manifest: ManifestArg,
    tf_outputs: TfOutputsOpt = None,
    prune: Annotated[bool, typer.Option("--prune", help="also plan deleting owned services the manifest no longer lists")] = False,
    output_format: Annotated[TextOrJson, typer.Option("-o", "--output", help="output format")] = TextOrJson.text,
    adopt: AdoptOpt = None,
) -> None:
    """Reconcile dry run: the actions apply would take. Exit 0 in sync, 1 changes pending, 2 error."""
    _dry_run(manifest, tf_outputs, prune, output_format, "table", adopt)


@app.command()
def diff(
    manifest: ManifestArg,
    tf_outputs: TfOutputsOpt = None,
    prune: Annotated[bool, typer.Option("--prune", help="also show deleting owned services the manifest no longer lists")] = False,
    output_format: Annotated[TextOrJson, typer.Option("-o", "--output", help="output format")] = TextOrJson.text,
    adopt: AdoptOpt = None,
) -> None:
    """Unified diff of live vs manifest task/service definitions. Exit 0 in sync, 1 differences, 2 error."""
    _dry_run(manifest, tf_outputs, prune, output_format, "diff", adopt)


@app.command()
def apply(
    manifest: ManifestArg,
    tf_outputs: TfOutputsOpt = None,
    prune: Annotated[bool, typer.Option("--prune", help="delete services owned by this fleet that the manifest no longer lists")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for every rollout to complete")] = True,
    timeout: DurationOpt = "10m",
    overall_timeout: Annotated[str, typer.Option("--overall-timeout", help="bound on the whole apply")] = "30m",
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="stop at the first failed service")] = False,
    output_format: Annotated[TextOrJson, typer.Option("-o", "--output", help="output format")] = TextOrJson.text,
    adopt: AdoptOpt = None,
) -> None:
    """Drive ECS to the manifest and wait for the rollouts. Exit 0 all Ready, 1 a service failed, 2 error."""
    import asyncio

    from cli import views
    from cli.context import aws_for, load_for_aws
    from controller.apply import ApplyOptions, apply as apply_plan
    from controller.reconcile import dependencies, reconcile_plan

    per_service, overall = _duration(timeout), _duration(overall_timeout)

    async def run():
        loaded = load_for_aws(manifest, tf_outputs, start_sandbox=True)
        fleet = loaded.fleet
        async with aws_for(loaded) as aws:
            rec = await reconcile_plan(aws, fleet, prune=prune, read_task_definitions=False,
                                       adopt=frozenset(adopt or ()))
            if rec.plan.is_empty:
                output.info(f"in sync: nothing to do for {len(rec.rendered)} services")
            options = ApplyOptions(wait=wait, timeout=per_service, overall_timeout=overall, fail_fast=fail_fast,
                                   concurrency=fleet.spec.max_concurrency,
                                   poll_interval=1.0 if fleet.spec.target.kind == "sandbox" else 5.0)
            with views.ConsoleReporter() as reporter:
                result = await apply_plan(rec.plan, aws, fleet_name=fleet.metadata.name,
                                          dependencies=dependencies(fleet), observed=rec.observed.services,
                                          options=options, reporter=reporter)
            return rec, result

    try:
        rec, result = asyncio.run(run())
    except FleetError as exc:
        _fail_conflicts(exc)
        output.fail(exc)
    if output_format is TextOrJson.json:
        output.emit_json({"ok": result.ok, "plan": rec.plan.as_dict(),
                          "services": [o.as_dict() for o in result.outcomes.values()]})
    else:
        views.apply_summary(result)
    raise typer.Exit(output.EXIT_OK if result.ok else output.EXIT_FOUND)


@app.command()
def status(
    manifest: ManifestArg,
    tf_outputs: TfOutputsOpt = None,
    output_format: Annotated[TextOrJson, typer.Option("-o", "--output", help="output format")] = TextOrJson.text,
) -> None:
    """Per service: desired/running/pending, rollout, running vs manifest digest, Ready/Progressing/Degraded.

    Exit 0 when every service is Ready, 1 otherwise."""
    import asyncio

    from cli import views
    from cli.context import aws_for, load_for_aws
    from controller.reconcile import fleet_status

    async def run():
        loaded = load_for_aws(manifest, tf_outputs, start_sandbox=False)
        async with aws_for(loaded) as aws:
            return await fleet_status(aws, loaded.fleet)

    try:
        _rec, rows = asyncio.run(run())
    except FleetError as exc:
        output.fail(exc)
    if output_format is TextOrJson.json:
        output.emit_json({"services": [r.as_dict() for r in rows]})
    else:
        views.status_table(rows)
    all_ready = all(r.condition("Ready").status for r in rows)
    raise typer.Exit(output.EXIT_OK if all_ready else output.EXIT_FOUND)


@app.command()
def rollback(
    service: Annotated[str, typer.Argument(help="service to roll back", show_default=False)],
    manifest: Annotated[Optional[Path], typer.Option("-f", "--manifest", envvar="FLEETCTL_MANIFEST",
                                                     help="fleet manifest naming the cluster [env FLEETCTL_MANIFEST]")] = None,
    tf_outputs: TfOutputsOpt = None,
    to: Annotated[Optional[str], typer.Option("--to", help="family:revision to roll back to (default: the previous completed one)")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for the rollout")] = True,
    timeout: DurationOpt = "10m",
    suspend: Annotated[bool, typer.Option("--suspend/--no-suspend",
                                          help="suspend the controller's reconcile of SERVICE first, so it does not "
                                               "roll forward again (`fleetctl controller resume SERVICE` undoes)")] = True,
) -> None:
    """Put SERVICE back on its previous completed task definition. Exit 0 Ready, 1 failed, 2 error."""
    import asyncio

    from cli import views
    from cli.context import aws_for, load_for_aws
    from controller.rollback import rollback as do_rollback

    if manifest is None:
        output.error_line("rollback needs the manifest: -f MANIFEST or FLEETCTL_MANIFEST")
        raise typer.Exit(output.EXIT_USAGE)

    async def run():
        loaded = load_for_aws(manifest, tf_outputs, start_sandbox=False)
        names = [s.name for s in loaded.fleet.spec.services]
        if service not in names:
            raise FleetError(f"{manifest}: no service {service!r}")
        async with aws_for(loaded) as aws:
            if suspend:
                from controller.suspend import suspend as suspend_service

                await suspend_service(aws, loaded.fleet.spec.target.cluster, loaded.fleet.metadata.name, [service],
                                      by="rollback")
                output.note(f"suspended {service}: the controller leaves it alone until "
                            f"`fleetctl controller resume {service}` (--no-suspend: do not suspend)")
            with views.ConsoleReporter() as reporter:
                return await do_rollback(aws, loaded.fleet.spec.target.cluster, service, to=to, wait=wait,
                                         timeout=_duration(timeout), reporter=reporter,
                                         poll_interval=1.0 if loaded.fleet.spec.target.kind == "sandbox" else 5.0)

    try:
        result = asyncio.run(run())
    except FleetError as exc:
        output.fail(exc)
    typer.echo(f"{service}: {result.from_revision} -> {result.to_revision}: {'ok' if result.ok else 'FAILED'} {result.message}")
    for s in result.stopped:
        typer.echo(f"  stopped: {s.line()}")
    if result.ok and not suspend:
        output.note("the manifest still names the newer image: `fleetctl apply` or the controller would roll forward again")
    raise typer.Exit(output.EXIT_OK if result.ok else output.EXIT_FOUND)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the fleet manifest (for editors and CI)."""
    from controller.manifest.schema import fleet_schema

    output.emit_json(fleet_schema())


from cli import observability, operator  # noqa: E402
from sandbox.cli import app as sandbox_app  # noqa: E402  (typer only at import time)

observability.register(app)
operator.register(app)

app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    from controller import redact

    # what fleetctl never prints: see controller/redact.py
    redact.register_environment()
    redact.install_on_std_streams()
    app()


if __name__ == "__main__":
    main()
