"""The `fleetctl` Typer application; commands are registered by the modules in cli/commands."""
from __future__ import annotations

from typing import Annotated

import typer

EXIT_CODES = """Exit codes: 0 ok / in sync; 1 found something (drift, pending changes, failed rollout,
diagnose findings, failed checks); 2 usage or manifest error (nothing was changed)."""

MANIFEST_HELP = """The manifest is the MANIFEST argument (or -m/--manifest where the first argument is a
service), else $FLEETCTL_MANIFEST, else fleet.yaml, fleet.yml, fleetctl.yaml or fleetctl.yml in the
working directory."""

app = typer.Typer(
    name="fleetctl",
    help="Declarative deploy controller for a fleet of NATS microservices on AWS ECS.\n\n"
         + MANIFEST_HELP + "\n\n" + EXIT_CODES,
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
