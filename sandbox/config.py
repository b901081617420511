"""Constants and daemon settings shared by the sandbox modules."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
CLUSTER_NAME = "gaming-system-cluster"
LOG_GROUP_NAME = "/ecs/gaming-system-nats"
STATE_DIR_ENV = "FLEETCTL_SANDBOX_DIR"
FLEET_DIR_ENV = "FLEETCTL_FLEET_DIR"
LOCAL_MANIFEST = Path("manifests") / "local.yaml"


def _source_checkout() -> Path | None:
    """The fleetctl checkout this code runs from (fleetctl/sandbox links to <checkout>/sandbox), or
    None when fleetctl is installed from a wheel and this file lives in site-packages."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "fleetctl" / "__init__.py").is_file() else None


SOURCE_CHECKOUT = _source_checkout()


class FleetDirError(ValueError):
    """No fleet checkout to run: the sandbox needs services/<name>/ and manifests/local.yaml."""


def is_fleet_checkout(path: Path) -> bool:
    """A directory the sandbox can run: services/ (one image per services/<name>/) and the local manifest."""
    return (path / "services").is_dir() and (path / LOCAL_MANIFEST).is_file()


def fleet_dir(explicit: Path | str | None = None) -> Path:
    """The fleet checkout whose services the sandbox runs.

    `explicit` (``--fleet-dir``), else ``$FLEETCTL_FLEET_DIR``, else the current directory when it
    is a fleet checkout, else the checkout fleetctl itself runs from. Raises FleetDirError.
    """
    chosen = explicit or os.environ.get(FLEET_DIR_ENV)
    if chosen:
        path = Path(chosen).expanduser().resolve()
        if not is_fleet_checkout(path):
            source = "--fleet-dir" if explicit else FLEET_DIR_ENV
            raise FleetDirError(f"{source}: {path} is not a fleet checkout (needs services/ and {LOCAL_MANIFEST})")
        return path
    for candidate in (Path.cwd(), SOURCE_CHECKOUT):
        if candidate is not None and is_fleet_checkout(candidate):
            return candidate.resolve()
    raise FleetDirError(f"no fleet checkout here: run in one, pass --fleet-dir PATH or set {FLEET_DIR_ENV}")


def default_state_dir(fleet: Path | None = None) -> Path:
    """``$FLEETCTL_SANDBOX_DIR`` if set; else ``.sandbox`` in the fleet checkout (`fleet`, or the one
    `fleet_dir` finds), which is where manifests/local.yaml reads the sandbox's outputs; else, with
    no fleet checkout at hand, ``$XDG_STATE_HOME/fleetctl/sandbox`` (``~/.local/state/...``).
    Never inside site-packages."""
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    if fleet is None:
        try:
            fleet = fleet_dir()
        except FleetDirError:
            state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
            return Path(state_home).expanduser().resolve() / "fleetctl" / "sandbox"
    return fleet / ".sandbox"


def ecr_registry(account_id: str = ACCOUNT_ID, region: str = REGION) -> str:
    """The registry host moto uses for repository URIs of this account and region."""
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"


@dataclass(frozen=True)
class SandboxConfig:
    """Tunables of the daemon; the defaults suit interactive use, tests shorten them."""

    port: int = 0  # AWS endpoint port; 0 picks a free one
    nats_port: int = 0
    startup_grace: float = 1.0  # seconds a container must stay up before RUNNING
    tick: float = 0.2  # scheduler period
    backoff_base: float = 1.0  # first delay before replacing a failed task
    backoff_max: float = 60.0
    stopped_task_retention: float = 3600.0  # seconds a STOPPED task stays visible
    default_stop_timeout: float = 30.0  # container stopTimeout when the task def has none
    shutdown_stop_timeout: float = 5.0  # SIGKILL delay when the daemon itself stops
    workdir: str = ""  # containers' working directory: the fleet checkout (see `for_fleet`)
    # Container health checks: until a container first passes, the sandbox checks it every
    # `health_check_start_interval` seconds (like Docker's --health-start-interval; ECS waits the
    # full interval), so rollouts gated on health stay quick; afterwards at the task definition's
    # interval, capped at `health_check_interval_max` (0: no cap).
    health_check_start_interval: float = 0.5
    health_check_interval_max: float = 5.0
    nats_manifest: str = ""  # NATS users and permissions come from it: the checkout's manifests/local.yaml

    def for_fleet(self, directory: Path) -> "SandboxConfig":
        """This config running the fleet checkout `directory` (fields set explicitly are kept)."""
        return dataclasses.replace(
            self, workdir=self.workdir or str(directory),
            nats_manifest=self.nats_manifest or str(directory / LOCAL_MANIFEST),
        )  # fmt: skip

    def to_args(self) -> list[str]:
        """Command-line flags that reproduce this config in ``python -m fleetctl.sandbox daemon``."""
        args: list[str] = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value != field.default:
                args += [f"--{field.name.replace('_', '-')}", str(value)]
        return args
