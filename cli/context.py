"""What every command shares: finding the manifest, loading it once, opening AWS, mapping errors.

`run_fleet(...)` is the one helper a command calls: it resolves and loads the manifest (starting
the sandbox when the manifest targets it and the command writes), opens the AWS clients, runs the
command's coroutine and turns a FleetError into one line and its exit code.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, NoReturn, TypeVar

from fleetctl.controller.errors import FleetError

if TYPE_CHECKING:
    from fleetctl.controller.aws import Aws
    from fleetctl.controller.manifest import LoadedManifest

T = TypeVar("T")

ENV_MANIFEST = "FLEETCTL_MANIFEST"
DEFAULT_NAMES = ("fleet.yaml", "fleet.yml", "fleetctl.yaml", "fleetctl.yml")


class ManifestNotFound(FleetError):
    exit_code = 2


def find_manifest(given: Path | str | None, *, cwd: Path | None = None) -> Path:
    """The manifest a command uses: the argument, else $FLEETCTL_MANIFEST, else a default name in
    the working directory."""
    if given:
        return Path(given)
    env = os.environ.get(ENV_MANIFEST)
    if env:
        return Path(env)
    where = cwd or Path.cwd()
    for name in DEFAULT_NAMES:
        if (where / name).is_file():
            return Path(name) if cwd is None else where / name
    raise ManifestNotFound(
        f"no manifest: pass MANIFEST (or -m/--manifest), set ${ENV_MANIFEST}, or put one of "
        f"{', '.join(DEFAULT_NAMES)} in the working directory")


def resolve_manifest(given: Path | str | None) -> Path:
    """find_manifest for a command: a missing manifest is a usage error (exit 2)."""
    try:
        return find_manifest(given)
    except FleetError as exc:
        fail(exc)


def fail(exc: FleetError) -> NoReturn:
    from fleetctl.cli import output

    conflicts = getattr(exc, "conflicts", None)  # controller.plan.OwnershipError: one line per conflict
    if conflicts:
        for c in conflicts:
            output.error_line(c.message())
        import typer

        raise typer.Exit(output.EXIT_USAGE)
    output.fail(exc)


def _targets_sandbox(path: Path) -> bool:
    import yaml

    from fleetctl.controller.manifest.load import MAX_BYTES

    try:
        if path.stat().st_size > MAX_BYTES:  # refused by the loader; never parsed
            return False
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return doc["spec"]["target"]["kind"] == "sandbox"
    except Exception:  # an unreadable manifest is reported by the loader
        return False


def tf_values(option: str | None) -> Any:
    """`--tf-outputs` as the loader takes it: a path, or values already read (stdin, S3)."""
    if option is None:
        return None
    from fleetctl.controller.manifest.tfstate import read_terraform_values

    return read_terraform_values(option)


def load_for_aws(manifest: Path, tf_outputs: Any, *, start_sandbox: bool) -> "LoadedManifest":
    """Load a manifest for a command that talks to AWS.

    A manifest that targets the sandbox gets it started first (when `start_sandbox`), since
    the sandbox writes the terraform-shaped outputs the manifest reads.
    """
    from fleetctl.controller.manifest import load_manifest

    if tf_outputs is None and _targets_sandbox(manifest):
        from fleetctl.sandbox.api import SandboxError, ensure_running, status
        from fleetctl.sandbox.config import FLEET_DIR_ENV, default_state_dir, is_fleet_checkout

        # the fleet checkout the manifest lies in (<checkout>/manifests/local.yaml), unless one is named
        checkout = manifest.resolve().parent.parent
        fleet = checkout if is_fleet_checkout(checkout) and not os.environ.get(FLEET_DIR_ENV) else None
        try:
            if start_sandbox:
                from fleetctl.cli import output

                state = default_state_dir(fleet)
                if not status(state).running:
                    output.info("starting the sandbox ...")
                ensure_running(state, fleet=fleet)
        except SandboxError as exc:
            raise FleetError(f"sandbox: {exc}") from None
    return load_manifest(manifest, tf_outputs=tf_outputs)


def aws_for(loaded: "LoadedManifest", **kwargs: Any) -> "Aws":
    from fleetctl.controller.aws import Aws

    return Aws.for_target(loaded.fleet.spec.target, **kwargs)


def check_services(loaded: "LoadedManifest", wanted: list[str] | str | None) -> list[str] | None:
    """The `-s/--service` selection, each name checked against the manifest (a FleetError names the unknown)."""
    if wanted is None or wanted == []:
        return None
    names = [wanted] if isinstance(wanted, str) else list(dict.fromkeys(wanted))
    known = [s.name for s in loaded.fleet.spec.services]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FleetError(f"{loaded.source}: no service {', '.join(repr(u) for u in unknown)} "
                         f"(services: {', '.join(known)})")
    return names


@dataclass
class Invocation:
    """The manifest and terraform values a command runs with; also spells follow-up commands."""

    manifest: Path
    tf_outputs: str | None = None

    def command(self, verb: str, *args: str, manifest_flag: bool = False) -> str:
        """A complete `fleetctl` command line using the same manifest and terraform values."""
        words = ["fleetctl", *verb.split()]
        if manifest_flag:
            words += [*args, "-m", str(self.manifest)]
        else:
            words += [str(self.manifest), *args]
        if self.tf_outputs and self.tf_outputs != "-":
            words += ["--tf-outputs", self.tf_outputs]
        return shlex.join(words)

    def complete(self, text: str) -> str:
        """Make the `fleetctl VERB ...` commands quoted in `text` complete: add this manifest
        (and --tf-outputs) so they run as printed."""
        def fix(m: "re.Match[str]") -> str:
            words = shlex.split(m.group(1))
            if not words or words[0] not in MANIFEST_VERBS | SERVICE_FIRST_VERBS:
                return m.group(0)
            verb, args = words[0], words[1:]
            if "-m" in args or "--manifest" in args or str(self.manifest) in args:
                return m.group(0)
            return "`" + self.command(verb, *args, manifest_flag=verb in SERVICE_FIRST_VERBS) + "`"

        return _QUOTED_COMMAND.sub(fix, text)

    def complete_all(self, data: Any) -> Any:
        """`complete` on every string in JSON-shaped data."""
        if isinstance(data, str):
            return self.complete(data) if "`fleetctl " in data else data
        if isinstance(data, dict):
            return {k: self.complete_all(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.complete_all(v) for v in data]
        return data


MANIFEST_VERBS = frozenset({"validate", "render", "plan", "diff", "apply", "status", "wait", "verify", "diagnose", "probe"})
SERVICE_FIRST_VERBS = frozenset({"logs", "rollback", "rollout"})
_QUOTED_COMMAND = re.compile(r"`fleetctl ([^`]+)`")


def run_fleet(
    manifest: Path | None,
    tf_outputs: str | None,
    body: Callable[["LoadedManifest", "Aws"], Awaitable[T]],
    *,
    start_sandbox: bool = False,
    aws: bool = True,
) -> T:
    """Load the manifest once, open AWS for its target, run `body(loaded, aws)`; a FleetError
    becomes one line on stderr and its exit code."""
    import asyncio

    result: list[T] = []

    async def run() -> None:
        loaded = load_for_aws(path, values, start_sandbox=start_sandbox)
        if not aws:
            result.append(await body(loaded, None))  # type: ignore[arg-type]
            return
        async with aws_for(loaded) as client:
            result.append(await body(loaded, client))

    try:
        path = find_manifest(manifest)
        values = tf_values(tf_outputs)
        # the main task returns nothing: on Python 3.11 asyncio.run's SIGINT clean-up formats the
        # task, result included, twice (seconds for a 5,000-service plan)
        asyncio.run(run())
        return result[0]
    except FleetError as exc:
        fail(exc)


def load_only(manifest: Path | None, tf_outputs: str | None, **kwargs: Any) -> "LoadedManifest":
    """Load (no AWS) with the same resolution and error mapping."""
    from fleetctl.controller.manifest import load_manifest

    try:
        return load_manifest(find_manifest(manifest), tf_outputs=tf_values(tf_outputs), **kwargs)
    except FleetError as exc:
        fail(exc)


def _command_line() -> str:
    import sys

    return " ".join(["fleetctl", *sys.argv[1:]])[:300]


def fleet_lease(aws: Any, loaded: "LoadedManifest", *, wait: float, beside_controller: bool = False):
    """The fleet's lease for this command (held while the `async with` block runs).

    Waiting for another holder is announced once on stderr. The sandbox's table is created on
    first use when the sandbox predates it. `beside_controller`: when a `controller run` holds
    the lease, go on without it (yielding None) — for a rollback that first suspends its service,
    which the controller then leaves alone."""
    import contextlib

    from fleetctl.cli import output
    from fleetctl.controller.lease import LeaseTableMissing, for_fleet

    fleet = loaded.fleet

    def waiting(record: Any) -> None:
        output.info(f"waiting up to {wait:.0f}s for the lease of fleet {fleet.metadata.name!r}: {record.describe()}")

    @contextlib.asynccontextmanager
    async def held():
        lease = for_fleet(aws, fleet, command=_command_line(), wait=wait, on_wait=waiting)
        if beside_controller:
            from fleetctl.controller.lease import read

            try:
                holder = await read(aws, fleet.spec.lock.table, fleet.metadata.name)
            except LeaseTableMissing:
                holder = None
            if holder is not None and holder.held() and " controller run " in f" {holder.command} ":
                output.note(f"the controller holds the fleet's lease ({holder.describe()}); going on beside it")
                yield None
                return
        try:
            await lease.acquire()
        except LeaseTableMissing:
            if not _create_sandbox_lock_table(fleet):
                raise
            await lease.acquire()
        lease.start_renewing()
        try:
            yield lease
        finally:
            await lease.stop()

    return held()


def _create_sandbox_lock_table(fleet: Any) -> bool:
    """A sandbox that predates the lease table gets it (True); any other target's is terraform's."""
    if fleet.spec.target.kind != "sandbox" or not fleet.spec.target.endpoint:
        return False
    from fleetctl.sandbox.auth import Credentials
    from fleetctl.sandbox.config import default_state_dir
    from fleetctl.sandbox.infra import ensure_lock_table

    credentials = fleet.spec.target.credentials_file or str(default_state_dir() / "credentials.json")
    ensure_lock_table(fleet.spec.target.endpoint, Credentials.load(Path(credentials)), fleet.spec.lock.table)
    return True


async def ensure_lease_table(aws: Any, loaded: "LoadedManifest") -> None:
    """The fleet's lease table exists (one read of its item): created for a sandbox that predates
    it, else LeaseTableMissing (exit 2) before anything runs."""
    from fleetctl.controller.lease import LeaseTableMissing, read

    try:
        await read(aws, loaded.fleet.spec.lock.table, loaded.fleet.metadata.name)
    except LeaseTableMissing:
        if not _create_sandbox_lock_table(loaded.fleet):
            raise


def ecs_writes(aws: Any) -> int:
    """ECS write calls attempted so far: once there is one, a failure is no longer 'nothing changed'."""
    reads = ("Describe", "List", "Get", "BatchGet", "Filter")
    return sum(n for op, n in aws.calls.items() if op.startswith("ecs.") and not op.split(".", 1)[1].startswith(reads))
