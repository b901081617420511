"""`fleetctl verify`: pre-flight checks of the fleet's AWS resources."""
from __future__ import annotations

from typing import Annotated, Any

import typer

from fleetctl.cli import output
from fleetctl.cli.app import app
from fleetctl.cli.context import check_services, run_fleet
from fleetctl.cli.options import Format, FormatOpt, ManifestArg, ServicesOpt, TfOutputsOpt


@app.command()
def verify(
    manifest: ManifestArg = None,
    service: ServicesOpt = None,
    tf_outputs: TfOutputsOpt = None,
    no_network: Annotated[bool, typer.Option("--no-network", help="skip connecting to NATS from here")] = False,
    output_format: FormatOpt = Format.text,
) -> None:
    """Pre-flight checks, read-only: image digests in ECR; roles exist and trust ecs-tasks; secrets exist
    and the execution role may read them; log groups; cluster, subnets, security groups; task egress and
    NATS ingress on the NATS port; NATS reachable from here. Each check OK, NG or SKIP.
    Exit 0 nothing NG, 1 a check is NG, 2 error."""
    from fleetctl.controller.verify import verify as run_verify

    async def body(loaded: Any, aws: Any) -> Any:
        return await run_verify(aws, loaded.fleet, only=check_services(loaded, service), network=not no_network)

    result = run_fleet(manifest, tf_outputs, body)
    if not output.is_text(output_format):
        output.emit(output_format, result.as_dict())
    else:
        _table(result)
    raise typer.Exit(output.EXIT_OK if result.ok else output.EXIT_FOUND)


def _table(result: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    from fleetctl.cli.views import _console

    con = _console()
    table = Table(box=None, pad_edge=False)
    for col in ("CHECK", "SUBJECT", "STATUS", "DETAIL"):
        table.add_column(col, overflow="fold")
    for c in result.checks:
        style = {"OK": "green", "NG": "red", "SKIP": "yellow"}[c.status]
        services = f" [{', '.join(c.services)}]" if c.services and c.services != ("spec.nats",) else ""
        table.add_row(Text(c.name), Text(c.subject), Text(c.status, style=style), Text(c.detail + services))
    con.print(table)
    n = result.counts()
    con.print(f"{n['OK']} OK, {n['NG']} NG, {n['SKIP']} SKIP")
