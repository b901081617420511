"""``fleetctl sandbox ...``: thin commands over ``sandbox.api``.

Only typer is imported at module level; everything else loads inside the commands.
Exit codes: 0 ok, 1 the sandbox is not running / failed, 2 usage error.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from fleetctl.sandbox.api import SandboxInfo

app = typer.Typer(
    name="sandbox",
    help="A local ECS (moto + task runner + nats-server on loopback) that really runs the fleet.",
    no_args_is_help=True,
    add_completion=False,
)

DirOption = typer.Option(
    None, "--dir", help="State directory [default: $FLEETCTL_SANDBOX_DIR, else .sandbox in the fleet checkout]"
)
FleetDirOption = typer.Option(
    None, "--fleet-dir", help="Fleet checkout whose services/ the sandbox runs (with manifests/local.yaml) "
                              "[default: $FLEETCTL_FLEET_DIR, else the current directory, else fleetctl's own checkout]"
)


class Output(str, Enum):
    table = "table"
    json = "json"


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _hint(info: "SandboxInfo") -> str:
    """The `export` line that points the AWS CLI and SDKs at the sandbox, with its credentials."""
    env = {"AWS_ENDPOINT_URL": info.endpoint_url, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    env.update(info.credentials().env())
    return "export " + " ".join(f"{k}={v}" for k, v in env.items())


def _state(state_dir: Optional[Path], fleet_dir: Optional[Path]) -> Path:
    """`--dir`, else the default state directory of the fleet checkout (exit 2 if one is named but is none)."""
    import os

    from fleetctl.sandbox.config import FLEET_DIR_ENV, FleetDirError, default_state_dir, fleet_dir as resolve_fleet_dir

    if state_dir is not None:
        return state_dir
    try:
        return default_state_dir(resolve_fleet_dir(fleet_dir))
    except FleetDirError as exc:
        if fleet_dir is not None or os.environ.get(FLEET_DIR_ENV):
            _err(f"error: {exc}")
            raise typer.Exit(2)
        return default_state_dir()  # no fleet checkout at hand: the per-user state directory


def _duration(value: object) -> float:
    """fleetctl's durations (`90s`, `1h30m`; a bare number is seconds); errors name the option."""
    from fleetctl.cli.options import parse_duration_option

    return parse_duration_option(value)


@app.command()
def up(
    state_dir: Optional[Path] = DirOption,
    fleet_dir: Optional[Path] = FleetDirOption,
    port: int = typer.Option(0, help="AWS endpoint port (0 picks a free one)"),
    nats_port: int = typer.Option(0, help="nats-server port (0 picks a free one)"),
    startup_grace: float = typer.Option("1s", parser=_duration, metavar="DURATION",
                                        help="how long a container must stay up before RUNNING (e.g. 1s, 500ms)"),
    stopped_task_retention: float = typer.Option("1h", parser=_duration, metavar="DURATION",
                                                 help="how long STOPPED tasks stay visible (e.g. 1h, 90m)"),
) -> None:
    """Start the sandbox (AWS endpoint, task runner, nats-server) and build the images."""
    from fleetctl.sandbox import api
    from fleetctl.sandbox.config import FleetDirError, SandboxConfig, fleet_dir as resolve_fleet_dir

    state_dir = _state(state_dir, fleet_dir)
    before = api.status(state_dir)
    try:  # the checkout to run; only checked when the sandbox has to start or one is named
        fleet = resolve_fleet_dir(fleet_dir) if fleet_dir is not None or not before.running else None
    except FleetDirError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    if before.running and before.info is not None:
        _err(f"sandbox already running (pid {before.info.pid})")
        info = before.info
        if fleet is not None and info.fleet_dir != fleet:
            _err(f"warning: it runs {info.fleet_dir}; `fleetctl sandbox down` first to run {fleet}")
    else:
        _err("starting sandbox ...")
        try:
            config = SandboxConfig(
                port=port,
                nats_port=nats_port,
                startup_grace=startup_grace,
                stopped_task_retention=stopped_task_retention,
            )
            info = api.ensure_running(state_dir, config, fleet=fleet)
        except api.SandboxError as exc:
            _err(f"error: {exc}")
            raise typer.Exit(1)
    try:
        built = api.build_images(info.state_dir)
    except api.SandboxError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1)
    changed = sum(1 for b in built if b.changed)
    _err(f"images: {len(built)} ({changed} updated)")
    typer.echo(f"fleet:         {info.fleet_dir}")
    typer.echo(f"aws endpoint:  {info.endpoint_url}")
    typer.echo(f"nats:          {info.nats_url}")
    typer.echo(f"outputs:       {info.outputs_path}")
    typer.echo(_hint(info))


@app.command()
def down(state_dir: Optional[Path] = DirOption, fleet_dir: Optional[Path] = FleetDirOption) -> None:
    """Stop the sandbox and every process it started."""
    from fleetctl.sandbox import api

    report = api.stop(_state(state_dir, fleet_dir))
    if report.survivors:
        _err(f"error: processes survived: {report.survivors}")
        raise typer.Exit(1)
    typer.echo(f"sandbox stopped ({len(report.stopped)} processes)" if report.stopped else "sandbox was not running")


@app.command()
def status(
    state_dir: Optional[Path] = DirOption,
    fleet_dir: Optional[Path] = FleetDirOption,
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json"),
) -> None:
    """Show whether the sandbox runs, its endpoints, and any fault (exit 1 if not running)."""
    from fleetctl.sandbox import api

    current = api.status(_state(state_dir, fleet_dir))
    if output is Output.json:
        typer.echo(json.dumps(current.as_dict(), indent=2))
    else:
        state = "running" if current.running else ("crashed" if current.crashed else "stopped")
        typer.echo(f"sandbox:       {state}  ({current.state_dir})")
        if current.info is not None:
            typer.echo(f"fleet:         {current.info.fleet_dir}")
            typer.echo(f"daemon pid:    {current.info.pid}")
            typer.echo(f"aws endpoint:  {current.info.endpoint_url}")
            typer.echo(f"nats:          {current.info.nats_url}")
            typer.echo(f"outputs:       {current.info.outputs_path}")
            typer.echo(f"processes:     {len(current.processes)}")
        for problem in current.problems:
            typer.echo(f"problem:       {problem}")
        if current.running and current.info is not None:
            typer.echo(_hint(current.info))
        elif current.crashed:
            typer.echo("run `fleetctl sandbox down` then `fleetctl sandbox up` to restart it")
    if not current.running:
        raise typer.Exit(1)


@app.command()
def build(
    state_dir: Optional[Path] = DirOption,
    fleet_dir: Optional[Path] = FleetDirOption,
    output: Output = typer.Option(Output.table, "-o", "--output", help="table or json"),
) -> None:
    """Register one sandbox ECR image per services/<name>/ of the sandbox's fleet checkout (digest = source
    content hash)."""
    from fleetctl.sandbox import api

    try:
        built = api.build_images(_state(state_dir, fleet_dir))
    except api.SandboxError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1)
    if output is Output.json:
        typer.echo(json.dumps([b.as_dict() for b in built], indent=2))
        return
    if not built:
        _err("no services/<name>/__main__.py found: nothing to build")
    for b in built:
        typer.echo(f"{b.repository:40} {b.digest}  {'updated' if b.changed else 'unchanged'}")
