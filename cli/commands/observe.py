"""Commands that explain a fleet: diagnose, probe, logs."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from fleetctl.cli import output
from fleetctl.cli.app import app
from fleetctl.cli.context import Invocation, check_services, fail, run_fleet, resolve_manifest, tf_values
from fleetctl.cli.options import (
    Format,
    FormatOpt,
    ManifestArg,
    ManifestOpt,
    ServiceArg,
    ServiceOpt,
    TextOrJson,
    TextOrJsonOpt,
    TfOutputsOpt,
    duration_option,
)
from fleetctl.controller.errors import FleetError

CredsOpt = Annotated[Optional[Path], typer.Option("--creds", help="NATS .creds file for the probe (never printed)")]
UserOpt = Annotated[Optional[str], typer.Option("--user", envvar="NATS_USER", help="NATS user for the probe [env NATS_USER]")]
PasswordOpt = Annotated[Optional[str], typer.Option("--password", envvar="NATS_PASSWORD", show_default=False,
                                                    help="NATS password for the probe [env NATS_PASSWORD]; never printed")]
CaOpt = Annotated[Optional[Path], typer.Option("--ca", help="CA bundle (PEM) to verify the NATS server with")]


def probe_auth(creds: Optional[Path], user: Optional[str], password: Optional[str]) -> Any:
    from fleetctl.controller import redact
    from fleetctl.controller.probe import ProbeAuth

    if creds is not None and not creds.is_file():
        raise FleetError(f"{creds}: no such credentials file")
    if creds is not None and creds.stat().st_size <= 1024 * 1024:
        try:
            redact.register_lines(creds.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            pass  # reported by the NATS client when it reads the file
    redact.register(password)
    return ProbeAuth(creds_file=creds, user=user, password=password)


def _render_findings(findings: list[Any], invocation: Invocation | None, explain: bool = False) -> None:
    if not findings:
        typer.echo("no stopped tasks or deployment failures to explain")
        return
    complete = invocation.complete if invocation else (lambda text: text)
    for f in findings:
        who = f"fleet ({', '.join(f.services)})" if f.scope == "fleet" else f.service
        span = ""
        if f.first_seen and f.last_seen:
            span = f", {f.first_seen:%H:%M:%S}–{f.last_seen:%H:%M:%S}" if f.first_seen != f.last_seen else f", {f.last_seen:%H:%M:%S}"
        typer.echo(f"{who}: {f.category} ({len(f.tasks)} task{'s' if len(f.tasks) != 1 else ''}{span}) [{f.severity.value}]")
        typer.echo(f"  {f.summary}")
        typer.echo(f"  fix: {complete(f.hint)}")
        for line in f.evidence:
            typer.echo(f"  > {line}")
        if explain:
            for line in getattr(f, "explain", []):
                typer.echo(f"  why: {line}")
        for c in f.checks:
            mark = {True: "ok", False: "FAIL", None: "??"}[c.ok]
            typer.echo(f"  check {c.name}: {mark}: {c.detail}")
        typer.echo("")


@app.command()
def diagnose(
    manifest: ManifestArg = None,
    service: ServiceOpt = None,
    since: Annotated[float, duration_option("--since", help="how far back to look at stopped tasks")] = "1h",  # type: ignore[assignment]
    tasks_file: Annotated[Optional[Path], typer.Option("--tasks-file", help="offline: `aws ecs describe-tasks` JSON")] = None,
    log_file: Annotated[Optional[Path], typer.Option("--log-file", help="offline: the task's log tail, one event per line")] = None,
    no_network: Annotated[bool, typer.Option("--no-network", help="skip the network checks and the live probe")] = False,
    tf_outputs: TfOutputsOpt = None,
    creds: CredsOpt = None,
    user: UserOpt = None,
    password: PasswordOpt = None,
    explain: Annotated[bool, typer.Option("--explain", help="show which evidence decided each finding "
                                                            "(JSON always has `explain`)")] = False,
    output_format: FormatOpt = Format.text,
) -> None:
    """Explain why tasks stopped: a category, a fix and the evidence for each failure.

    Online (MANIFEST, or the default manifest): stopped tasks of the last --since, deployment
    failures, log tails and, for NATS causes, network checks. Offline (--tasks-file): classify
    saved describe-tasks output. Exit 0 nothing wrong, 1 findings, 2 error."""
    from fleetctl.controller.diagnose import has_problems

    if log_file is not None and tasks_file is None:
        output.error_line("--log-file goes with --tasks-file")
        raise typer.Exit(output.EXIT_USAGE)
    if tasks_file is not None and manifest is not None:
        output.error_line("give a MANIFEST (online) or --tasks-file FILE (offline), not both")
        raise typer.Exit(output.EXIT_USAGE)
    invocation: Invocation | None = None
    if tasks_file is not None:
        from fleetctl.controller.diagnose.offline import diagnose_files

        try:
            findings, notes = diagnose_files(tasks_file, log_file)
        except FleetError as exc:
            fail(exc)
        body: dict[str, Any] = {"findings": [f.as_dict() for f in findings], "notes": notes}
    else:
        from fleetctl.controller.diagnose.online import diagnose as run_diagnose

        invocation = Invocation(resolve_manifest(manifest), tf_outputs)
        try:
            auth = probe_auth(creds, user, password)
        except FleetError as exc:
            fail(exc)

        async def run(loaded: Any, aws: Any) -> Any:
            check_services(loaded, service)
            return await run_diagnose(aws, loaded.fleet, service=service, since=since, network=not no_network,
                                      probe_auth=auth)

        diagnosis = run_fleet(invocation.manifest, tf_outputs, run)
        findings, notes = diagnosis.findings, diagnosis.notes
        body = invocation.complete_all(diagnosis.as_dict())
    for note in notes:
        output.note(note)
    if not output.is_text(output_format):
        output.emit(output_format, body)
    else:
        _render_findings(findings, invocation, explain)
    raise typer.Exit(output.EXIT_FOUND if has_problems(findings) else output.EXIT_OK)


@app.command()
def probe(
    manifest: ManifestArg = None,
    tf_outputs: TfOutputsOpt = None,
    creds: CredsOpt = None,
    user: UserOpt = None,
    password: PasswordOpt = None,
    ca: CaOpt = None,
    timeout: Annotated[float, duration_option("--timeout", help="bound on connecting and on each request")] = "3s",  # type: ignore[assignment]
    output_format: FormatOpt = Format.text,
) -> None:
    """Probe the fleet over NATS: server, instances and versions per service, a responder on every
    declared subject, and undeclared responders. Exit 0 all present, 1 something missing, 2 error."""
    import asyncio

    from fleetctl.controller.manifest import load_manifest
    from fleetctl.controller.probe import ProbeTls, probe as run_probe

    path = resolve_manifest(manifest)
    try:
        loaded = load_manifest(path, tf_outputs=tf_values(tf_outputs))
        auth = probe_auth(creds, user, password)
        report = asyncio.run(run_probe(loaded.fleet, auth, ProbeTls.for_fleet(loaded.fleet, ca),
                                       timeout=timeout, request_timeout=min(timeout, 1.0)))
    except FleetError as exc:
        fail(exc)
    if not output.is_text(output_format):
        output.emit(output_format, report.as_dict())
    else:
        _render_probe(report)
    raise typer.Exit(output.EXIT_OK if report.ok else output.EXIT_FOUND)


@app.command()
def logs(
    service: ServiceArg,
    manifest: ManifestOpt = None,
    tf_outputs: TfOutputsOpt = None,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="keep printing new events (Ctrl-C stops)")] = False,
    since: Annotated[float, duration_option("--since", help="show events of the last DURATION")] = "10m",  # type: ignore[assignment]
    task: Annotated[Optional[str], typer.Option("--task", help="only this task (id or prefix)")] = None,
    container: Annotated[Optional[str], typer.Option("--container", "-c",
                                                     help="this container's log (default: the essential one)")] = None,
    previous: Annotated[bool, typer.Option("--previous", help="the last stopped task, whole")] = False,
    output_format: TextOrJsonOpt = TextOrJson.text,
) -> None:
    """CloudWatch Logs of a service's tasks, newest task first. -o json: one JSON object per event
    (time, task, container, stream, message). Exit 0 ok, 2 error."""
    import asyncio
    import json
    import sys

    from fleetctl.controller import logs as service_logs

    def emit(log: Any, event: Any) -> None:
        if output_format is TextOrJson.json:
            sys.stdout.write(json.dumps({"time": event.timestamp.isoformat(), "task": log.task.id,
                                         "container": log.location.stream.split("/")[-2] if log.location else None,
                                         "stream": event.stream, "message": event.message}) + "\n")
            sys.stdout.flush()
        else:
            typer.echo(f"{event.timestamp:%H:%M:%S} {log.task.id[:8]} {event.message}")

    async def run(loaded: Any, aws: Any) -> None:
        import signal

        check_services(loaded, service)
        cluster = loaded.fleet.spec.target.cluster
        stop = asyncio.Event()
        if follow:  # before the first read: Ctrl-C at any point ends the follow cleanly
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        found = await service_logs.read(aws, cluster, service, since=since, task=task, previous=previous,
                                        container=container)
        for log in found:
            output.info(log.header)
            for event in log.events:
                emit(log, event)
        if follow:
            await service_logs.follow(aws, found, emit, stop)

    run_fleet(resolve_manifest(manifest), tf_outputs, run)


def _render_probe(report: Any) -> None:
    if report.error is not None:
        e = report.error
        typer.echo(f"NATS {e.url}: cannot connect: {e.classification.category}")
        typer.echo(f"  {e.classification.summary}")
        typer.echo(f"  fix: {e.classification.hint}")
        typer.echo(f"  > {e.detail}")
        return
    s = report.server
    js = report.jetstream
    js_text = ("off" if not js.get("enabled") else
               f"ok ({js.get('streams', 0)} streams)" if js.get("ok") else f"error: {js.get('error')}")
    typer.echo(f"NATS {report.url}: server {s.get('server_name', '?')} {s.get('version', '?')}"
               f"{' cluster ' + s['cluster'] if s.get('cluster') else ''}, JetStream {js_text}, rtt {report.rtt_ms:.2f} ms")
    typer.echo(f"probed {len(report.services)} services in {report.elapsed_ms:.1f} ms"
               f" ({report.elapsed_ms / report.rtt_ms:.1f} RTT)" if report.rtt_ms else "")
    width = max([len(sp.name) for sp in report.services] + [7])
    for sp in report.services:
        subjects_ok = sum(1 for c in sp.subjects if c.status == "ok")
        version = {True: "version ok", False: f"version {','.join(sp.versions)} != {sp.expected_version}",
                   None: f"version {','.join(sp.versions) or '-'}"}[sp.version_ok]
        mark = "ok " if sp.ok else "BAD"
        typer.echo(f"{mark} {sp.name:<{width}} instances {sp.instances}/{sp.desired}  subjects {subjects_ok}/{len(sp.subjects)}  {version}")
        for c in sp.subjects:
            if c.status != "ok":
                typer.echo(f"      {c.status}: {c.subject}" + (f" (probed {c.probed})" if c.probed != c.subject else "")
                           + f": {c.detail}")
    for o in report.orphans:
        typer.echo(f"orphan {o.name} ({o.instance}, version {o.version}) answers undeclared {', '.join(o.subjects)}")
