"""Options shared by the commands, defined once: manifest, terraform values, output, services, durations."""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    yaml = "yaml"


class DataFormat(str, enum.Enum):
    json = "json"
    yaml = "yaml"


class TextOrJson(str, enum.Enum):
    text = "text"
    json = "json"


def parse_duration_option(value: Any) -> float:
    """`90s`, `10m`, `1h30m`, `2d`; a bad value is a usage error naming the option (exit 2)."""
    if isinstance(value, (int, float)):
        return float(value)
    from fleetctl.cli.durations import DurationError, parse_duration

    try:
        return parse_duration(str(value))
    except DurationError as exc:
        raise typer.BadParameter(str(exc)) from None


def duration_option(*names: str, help: str) -> Any:
    return typer.Option(*names, parser=parse_duration_option, metavar="DURATION",
                        help=f"{help} (e.g. 90s, 10m, 1h30m, 2d)")


def _service_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of service names from the manifest the command would use."""
    try:
        import yaml

        from fleetctl.cli.context import find_manifest

        # while completing, a positional MANIFEST may still sit in ctx.args
        given = ctx.params.get("manifest") or next((a for a in ctx.args if not a.startswith("-")), None)
        path = find_manifest(given)
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        names = [s["name"] for s in doc["spec"]["services"]]
    except Exception:  # completion never fails loudly
        return []
    return [n for n in names if n.startswith(incomplete)]


ManifestArg = Annotated[Optional[Path], typer.Argument(
    help="fleet manifest (YAML); default $FLEETCTL_MANIFEST, then ./fleet.yaml or ./fleetctl.yaml",
    show_default=False)]
ManifestOpt = Annotated[Optional[Path], typer.Option(
    "-m", "--manifest",
    help="fleet manifest (YAML); default $FLEETCTL_MANIFEST, then ./fleet.yaml or ./fleetctl.yaml",
    show_default=False)]
TfOutputsOpt = Annotated[Optional[str], typer.Option(
    "--tf-outputs",
    help="terraform values for ${tf:...}: a `terraform output -json` file, a state file (terraform.tfstate "
         "or s3://bucket/key), or - for `terraform output -json` on stdin (overrides spec.terraformOutputs)",
    show_default=False)]
FormatOpt = Annotated[Format, typer.Option("-o", "--output", help="output format")]
TextOrJsonOpt = Annotated[TextOrJson, typer.Option("-o", "--output", help="output format")]
DataFormatOpt = Annotated[DataFormat, typer.Option("-o", "--output", help="output format")]
ServicesOpt = Annotated[Optional[list[str]], typer.Option(
    "-s", "--service", help="only this service (repeat for several)", autocompletion=_service_names,
    show_default=False)]
ServiceOpt = Annotated[Optional[str], typer.Option(
    "-s", "--service", help="only this service", autocompletion=_service_names, show_default=False)]
AdoptOpt = Annotated[Optional[list[str]], typer.Option(
    "--adopt", metavar="SERVICE", autocompletion=_service_names,
    help="take over SERVICE although it is untagged or tagged as another fleet's (repeatable)")]
ServiceArg = Annotated[str, typer.Argument(help="the service", autocompletion=_service_names, show_default=False)]


class GateMode(str, enum.Enum):
    auto = "auto"
    required = "required"
    off = "off"


NatsGateOpt = Annotated[Optional[GateMode], typer.Option(
    "--nats-gate", help="the NATS part of the rollout gate: auto (skip with one warning when NATS is unreachable "
                        "from here), required (fail), off [default: spec.rollout.natsGate]", show_default=False)]
GateCredsOpt = Annotated[Optional[Path], typer.Option("--creds", help="NATS .creds file for the gate (never printed)",
                                                      show_default=False)]
GateUserOpt = Annotated[Optional[str], typer.Option("--user", envvar="NATS_USER", show_default=False,
                                                    help="NATS user for the gate [env NATS_USER]")]
GatePasswordOpt = Annotated[Optional[str], typer.Option("--password", envvar="NATS_PASSWORD", show_default=False,
                                                        help="NATS password for the gate [env NATS_PASSWORD]; never printed")]


def gate_auth(creds: Optional[Path], user: Optional[str], password: Optional[str]) -> Any:
    """The probe's credentials for the rollout gate (never printed)."""
    from fleetctl.controller.errors import FleetError
    from fleetctl.controller.probe import ProbeAuth

    if creds is not None and not creds.is_file():
        raise FleetError(f"{creds}: no such credentials file")
    return ProbeAuth(creds_file=creds, user=user, password=password)


LockTimeoutOpt = Annotated[float, duration_option(
    "--lock-timeout", help="how long to wait for the fleet's lease while another writer holds it (then exit 2)")]
