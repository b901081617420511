"""`fleetctl lock status|release`: the fleet's lease (one writer at a time; controller/lease.py)."""
from __future__ import annotations

from typing import Any

import typer

from fleetctl.cli import output
from fleetctl.cli.app import app
from fleetctl.cli.context import resolve_manifest, run_fleet
from fleetctl.cli.options import ManifestArg, TextOrJson, TextOrJsonOpt, TfOutputsOpt

lock_app = typer.Typer(help="The fleet's lease: one writer (apply, rollback, prune, controller) at a time.",
                       no_args_is_help=True)
app.add_typer(lock_app, name="lock")


def _lock(manifest: Any, tf_outputs: Any, release: bool) -> Any:
    from fleetctl.controller import lease

    async def body(loaded: Any, aws: Any) -> Any:
        fleet = loaded.fleet
        if release:
            return fleet.metadata.name, await lease.force_release(aws, fleet.spec.lock.table, fleet.metadata.name)
        return fleet.metadata.name, await lease.read(aws, fleet.spec.lock.table, fleet.metadata.name)

    return run_fleet(resolve_manifest(manifest), tf_outputs, body)


@lock_app.command("status")
def status(manifest: ManifestArg = None, tf_outputs: TfOutputsOpt = None,
           output_format: TextOrJsonOpt = TextOrJson.text) -> None:
    """Who holds the fleet's lease. Exit 0 free, 1 held, 2 error."""
    name, record = _lock(manifest, tf_outputs, release=False)
    held = record is not None and record.held()
    if output_format is TextOrJson.json:
        output.emit_json(record.as_dict() if record else {"fleet": name, "held": False})
    else:
        typer.echo(f"fleet {name}: " + (record.describe() if record else "free (never taken)"))
    raise typer.Exit(output.EXIT_FOUND if held else output.EXIT_OK)


@lock_app.command("release")
def release(manifest: ManifestArg = None, tf_outputs: TfOutputsOpt = None) -> None:
    """Free the fleet's lease (when its holder is gone). Exit 0 released or already free, 2 error."""
    name, record = _lock(manifest, tf_outputs, release=True)
    if record is None or not record.held():
        typer.echo(f"fleet {name}: already free")
    else:
        typer.echo(f"fleet {name}: released the lease of `{record.command}` (pid {record.pid} on {record.host}, "
                   f"token {record.token})")
        output.note("if that process still runs, it stops writing at its next renewal (it no longer holds the "
                    "lease); controllers then elect a leader again")
