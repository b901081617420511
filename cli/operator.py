"""`fleetctl controller ...`: run the operator, suspend and resume its reconcile (registered on the main app)."""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from fleetctl.cli import output
from fleetctl.cli.options import duration_option
from fleetctl.controller.errors import FleetError


class TextOrJson(str, enum.Enum):
    text = "text"
    json = "json"


TfOutputsOpt = Annotated[
    Optional[str],
    typer.Option("--tf-outputs", help="`terraform output -json` source for ${tf:...}: a path, s3://bucket/key or "
                                      "git+URL (overrides spec.terraformOutputs)"),
]

controller_app = typer.Typer(help="Run fleetctl as an operator that keeps ECS at the manifest.", no_args_is_help=True)


def configure_logging(fmt: TextOrJson) -> None:
    """Operator logs on stderr: text, or the SDK's JSON lines (tracebacks kept under `exc`)."""
    import logging
    import sys

    from fleetctl.controller import redact
    from fleetctl.controller.sdkcontract import JsonFormatter

    class Redacting(logging.Formatter):
        """No log line prints a secret (controller/redact.py)."""

        def __init__(self, inner: logging.Formatter) -> None:
            super().__init__()
            self.inner = inner

        def format(self, record: logging.LogRecord) -> str:
            return redact.text(self.inner.format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting(JsonFormatter({"component": "controller"}) if fmt is TextOrJson.json else
                                   logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")))
    root = logging.getLogger("fleetctl")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


LeaseTtlOpt = Annotated[float, duration_option(
    "--lease-ttl", help="the leader's lease lasts this long unless renewed (every third of it): a leader that dies "
                        "without releasing it is replaced within this plus --lease-poll")]
LeasePollOpt = Annotated[float, duration_option(
    "--lease-poll", help="how often a follower looks at the lease: the hand-over time after a leader's SIGTERM")]
NatsUserOpt = Annotated[Optional[str], typer.Option(
    "--nats-user", envvar="FLEETCTL_NATS_USER", help="NATS user of the serving gate's probe (the fleet's `fleetctl` "
                                                     "user) [env FLEETCTL_NATS_USER]")]
NatsPasswordOpt = Annotated[Optional[str], typer.Option(
    "--nats-password", envvar="FLEETCTL_NATS_PASSWORD", show_default=False,
    help="its password [env FLEETCTL_NATS_PASSWORD, from a secret]; never printed")]
NatsCredsOpt = Annotated[Optional[Path], typer.Option(
    "--nats-creds", envvar="FLEETCTL_NATS_CREDS", help="or a NATS .creds file for the probe [env FLEETCTL_NATS_CREDS]")]
NatsCaOpt = Annotated[Optional[Path], typer.Option(
    "--nats-ca", help="CA bundle (PEM) to verify NATS with; default: the PEM text in $NATS_TLS_CA (what fleetctl "
                      "gives a task from spec.nats.tls.caFrom), else spec.nats.tls.caFile")]


@controller_app.command("run")
def controller_run(
    manifest: Annotated[Optional[str], typer.Argument(
        help="fleet manifest: a path, s3://bucket/key, or git+https://host/repo.git//path/in/repo.yaml?ref=main "
             "(git+file:// too); default $FLEETCTL_MANIFEST, then ./fleet.yaml or ./fleetctl.yaml",
        show_default=False)] = None,
    tf_outputs: TfOutputsOpt = None,
    interval: Annotated[float, duration_option("--interval", help="resync interval (also how often sources are polled)")] = "30s",  # type: ignore[assignment]
    health_port: Annotated[int, typer.Option("--health-port", help="port for /healthz, /readyz and /metrics (0: any free)")] = 8089,
    health_host: Annotated[str, typer.Option("--health-host", envvar="FLEETCTL_HEALTH_HOST",
                                             help="address /healthz, /readyz and /metrics listen on; 0.0.0.0 in a "
                                                  "container [env FLEETCTL_HEALTH_HOST]")] = "127.0.0.1",
    log_format: Annotated[TextOrJson, typer.Option("--log-format", envvar="FLEETCTL_LOG_FORMAT",
                                                   help="log lines as text or JSON [env FLEETCTL_LOG_FORMAT]")] = TextOrJson.text,
    lease_ttl: LeaseTtlOpt = "30s",  # type: ignore[assignment]
    lease_poll: LeasePollOpt = "1s",  # type: ignore[assignment]
    nats_user: NatsUserOpt = None,
    nats_password: NatsPasswordOpt = None,
    nats_creds: NatsCredsOpt = None,
    nats_ca: NatsCaOpt = None,
    _lock_timeout: Annotated[Optional[str], typer.Option("--lock-timeout", hidden=True)] = None,  # followers wait
) -> None:
    """Reconcile continuously: heal drift, follow manifest edits, back off per service. SIGTERM stops cleanly.

    Several may run over one fleet: the one holding the fleet's lease leads and writes; the others
    follow (observe, serve /healthz and /metrics, write nothing) and take over when the leader stops
    (SIGTERM: within --lease-poll) or dies (within --lease-ttl plus --lease-poll). A user's apply
    waits for the lease or is told who holds it."""
    import asyncio

    from fleetctl.cli.context import resolve_manifest
    from fleetctl.controller.leader import LeaderSettings

    configure_logging(log_format)
    if manifest is None:  # the same resolution as every other verb
        manifest = str(resolve_manifest(None))
    try:
        election = LeaderSettings(ttl=lease_ttl, poll=lease_poll, fence_every=min(1.0, lease_ttl / 10))
    except ValueError as exc:
        output.error_line(f"--lease-ttl/--lease-poll: {exc}")
        raise typer.Exit(output.EXIT_USAGE)
    try:
        from fleetctl.cli.commands.observe import probe_auth

        gate_auth = probe_auth(nats_creds, nats_user, nats_password) if nats_user or nats_creds else None
        asyncio.run(_run_controller(manifest, tf_outputs, election, interval=interval, health_port=health_port,
                                    health_host=health_host, gate_auth=gate_auth, gate_ca_file=_nats_ca(nats_ca)))
    except FleetError as exc:
        output.fail(exc)


async def _run_controller(manifest: str, tf_outputs: Optional[str], election: Any, **operator: Any) -> None:
    """One controller until SIGTERM/SIGINT: following or leading the fleet (controller/leader.py)."""
    import asyncio
    import logging
    import signal

    from fleetctl.cli.context import _command_line, aws_for, ensure_lease_table, load_for_aws
    from fleetctl.cli.durations import format_duration
    from fleetctl.controller.leader import Leadership
    from fleetctl.controller.operator import Operator

    if not _remote(manifest) and not _remote(tf_outputs):
        # fail fast on a bad local manifest; start the sandbox it targets
        load_for_aws(Path(manifest), _tf_source(tf_outputs), start_sandbox=True)
    op = Operator(manifest, tf_outputs=tf_outputs, **operator)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await op.refresh_spec()  # the fleet whose lease to take (run() reads the source again)
    if op.loaded is None:
        raise FleetError(f"cannot load the manifest: {op._spec.error}")
    fleet = op.loaded.fleet
    log = logging.getLogger("fleetctl.controller")
    async with aws_for(op.loaded) as aws:  # the lease's own connection: the operator's writes are fenced
        await ensure_lease_table(aws, op.loaded)
        op.leadership = Leadership.for_table(aws, fleet.spec.lock.table, fleet.metadata.name, command=_command_line(),
                                             settings=election, metrics=op.metrics)
        log.info("controller started for %s (interval %s; lease ttl %s, followers poll every %s)", manifest,
                 format_duration(operator["interval"]), format_duration(election.ttl), format_duration(election.poll))
        await op.run(stop)
        log.info("controller stopped after %d passes", op.stats.passes)


def _nats_ca(given: Optional[Path]) -> Optional[Path]:
    """The CA bundle for the gate: --nats-ca, else the PEM text of $NATS_TLS_CA in a private file."""
    import os
    import tempfile

    pem = os.environ.get("NATS_TLS_CA", "")
    if given is not None or "-----BEGIN" not in pem:
        return given
    fd, path = tempfile.mkstemp(prefix="fleetctl-nats-ca-", suffix=".pem")  # 0600
    with os.fdopen(fd, "w", encoding="ascii", errors="replace") as f:
        f.write(pem)
    return Path(path)


def _tf_source(tf_outputs: Optional[str]) -> Optional[Path]:
    return Path(tf_outputs) if tf_outputs is not None else None


def _remote(source: Optional[str]) -> bool:
    return source is not None and source.startswith(("s3://", "git+"))


from fleetctl.cli.options import ManifestOpt  # noqa: E402  (-m/--manifest, then $FLEETCTL_MANIFEST, then ./fleet.yaml)
ServicesArg = Annotated[Optional[list[str]], typer.Argument(help="services (or --all)", show_default=False)]
AllOpt = Annotated[bool, typer.Option("--all", help="the whole fleet")]


def _suspension_command(verb: str, services: Optional[list[str]], all_: bool, manifest: Optional[Path],
                        tf_outputs: Optional[str]) -> None:
    import asyncio

    from fleetctl.cli.context import aws_for, load_for_aws
    from fleetctl.controller import suspend as suspension

    from fleetctl.cli.context import resolve_manifest

    manifest = resolve_manifest(manifest)
    if bool(services) == all_:
        output.error_line(f"{verb}: name SERVICE... or give --all")
        raise typer.Exit(output.EXIT_USAGE)

    async def run() -> list[str]:
        loaded = load_for_aws(manifest, _tf_source(tf_outputs), start_sandbox=False)
        fleet = loaded.fleet
        known = [s.name for s in fleet.spec.services]
        unknown = [s for s in services or [] if s not in known]
        if unknown:
            raise FleetError(f"{manifest}: no service {', '.join(repr(u) for u in unknown)}")
        cluster = fleet.spec.target.cluster
        async with aws_for(loaded) as aws:
            if verb == "suspend":
                return await suspension.suspend(aws, cluster, fleet.metadata.name, services or None, by="manual")
            return await suspension.resume(aws, cluster, fleet.metadata.name, services or None, known)

    try:
        changed = asyncio.run(run())
    except FleetError as exc:
        output.fail(exc)
    done = "suspended" if verb == "suspend" else "resumed"
    if changed:
        typer.echo(f"{done}: {', '.join(changed)}")
    same = [s for s in services or [] if s not in changed]
    if same or not changed:
        typer.echo(f"already {done}: {', '.join(same) if same else 'fleet'}")


@controller_app.command("suspend")
def controller_suspend(services: ServicesArg = None, all_: AllOpt = False, manifest: ManifestOpt = None,
                       tf_outputs: TfOutputsOpt = None) -> None:
    """Stop the controller from reconciling SERVICE... (or the whole fleet with --all), on every controller
    instance: the state is a tag on the service (the cluster for --all). `apply` still works. Exit 0 ok, 2 error."""
    _suspension_command("suspend", services, all_, manifest, tf_outputs)


@controller_app.command("resume")
def controller_resume(services: ServicesArg = None, all_: AllOpt = False, manifest: ManifestOpt = None,
                      tf_outputs: TfOutputsOpt = None) -> None:
    """Let the controller reconcile SERVICE... again; --all lifts the fleet suspension and every service's.
    Exit 0 ok, 2 error."""
    _suspension_command("resume", services, all_, manifest, tf_outputs)


def register(app: typer.Typer) -> None:
    app.add_typer(controller_app, name="controller")
