"""Commands on the manifest alone: validate, render, schema (no AWS)."""
from __future__ import annotations

import typer

from fleetctl.cli import output
from fleetctl.cli.app import app
from fleetctl.cli.context import check_services, fail, load_only, resolve_manifest, tf_values
from fleetctl.cli.options import DataFormat, DataFormatOpt, Format, FormatOpt, ManifestArg, ServicesOpt, TfOutputsOpt
from fleetctl.controller.errors import FleetError


@app.command()
def validate(
    manifest: ManifestArg = None,
    tf_outputs: TfOutputsOpt = None,
    output_format: FormatOpt = Format.text,
) -> None:
    """Check a manifest: schema, references and lint. Exit 2 on any error; changes nothing."""
    from fleetctl.controller.errors import ManifestError
    from fleetctl.controller.manifest import load_manifest

    path = resolve_manifest(manifest)
    try:
        loaded = load_manifest(path, tf_outputs=tf_values(tf_outputs), require_tf_outputs=False)
    except ManifestError as exc:
        if not output.is_text(output_format):
            output.emit(output_format, {"valid": False, "errors": [i.as_dict() for i in exc.issues]})
        output.fail(exc)
    except FleetError as exc:
        fail(exc)
    output.keep(loaded)
    if loaded.note:
        output.note(loaded.note)
    services = len(loaded.fleet.spec.services)
    if not output.is_text(output_format):
        output.emit(output_format, {
            "valid": True,
            "errors": [],
            "fleet": loaded.fleet.metadata.name,
            "services": services,
            "unresolvedTerraformOutputs": sorted(loaded.unresolved_tf),
        })
    else:
        typer.echo(f"{path}: valid (fleet {loaded.fleet.metadata.name}, {services} services)")


@app.command()
def render(
    manifest: ManifestArg = None,
    service: ServicesOpt = None,
    tf_outputs: TfOutputsOpt = None,
    output_format: DataFormatOpt = DataFormat.yaml,
) -> None:
    """Print the RegisterTaskDefinition / CreateService / UpdateService inputs fleetctl would send."""
    from fleetctl.controller.render import render as render_fleet

    loaded = load_only(manifest, tf_outputs)
    try:
        rendered = [r.as_dict() for r in render_fleet(loaded.fleet, check_services(loaded, service))]
    except FleetError as exc:
        fail(exc)
    output.emit(output_format, rendered)


@app.command()
def schema(output_format: DataFormatOpt = DataFormat.json) -> None:
    """Print the JSON Schema of the fleet manifest (for editors and CI)."""
    from fleetctl.controller.manifest.schema import fleet_schema

    output.emit(output_format, fleet_schema())
