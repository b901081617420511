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
REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_ENV = "FLEETCTL_SANDBOX_DIR"


def default_state_dir() -> Path:
    """``$FLEETCTL_SANDBOX_DIR`` if set, else ``<repo>/.sandbox``."""
    env = os.environ.get(STATE_DIR_ENV)
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".sandbox"


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
    workdir: str = str(REPO_ROOT)  # containers' working directory
    # Container health checks: until a container first passes, the sandbox checks it every
    # `health_check_start_interval` seconds (like Docker's --health-start-interval; ECS waits the
    # full interval), so rollouts gated on health stay quick; afterwards at the task definition's
    # interval, capped at `health_check_interval_max` (0: no cap).
    health_check_start_interval: float = 0.5
    health_check_interval_max: float = 5.0
    nats_manifest: str = str(REPO_ROOT / "manifests" / "local.yaml")  # NATS users and permissions come from it

    def to_args(self) -> list[str]:
        """Command-line flags that reproduce this config in ``python -m fleetctl.sandbox daemon``."""
        args: list[str] = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value != field.default:
                args += [f"--{field.name.replace('_', '-')}", str(value)]
        return args
