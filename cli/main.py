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


@app.command()
def schema() -> None:
    """Print the JSON Schema of the fleet manifest (for editors and CI)."""
    from controller.manifest.schema import fleet_schema

    output.emit_json(fleet_schema())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
