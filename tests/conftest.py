"""Shared test helpers: paths and running the real fleetctl CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
PROD_TF_OUTPUTS = FIXTURES / "prod-tf-outputs.json"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    """Run `fleetctl` as a user would: a separate process, real exit code and streams."""
    proc = subprocess.run(
        [sys.executable, "-m", "fleetctl.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory):
    """One real nats-server with JetStream on a free loopback port, shared by the session."""
    from sdk.testing import NatsServer

    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def jetstream_ready(nats_server):
    """`nats_server` answers JetStream API requests (checked once, on a connection that is closed again)."""
    from sdk.testing import wait_for_jetstream

    await wait_for_jetstream(nats_server.url)
    return nats_server


@pytest.fixture
async def client(jetstream_ready):
    """A plain nats-py connection to `nats_server`, JetStream ready; a fresh one for each test.

    Not shared across tests: between async tests the event loop does not run, so a long-lived
    connection cannot answer the server's PINGs, and after minutes of synchronous tests the server
    closes it as stale; subscribe and flush on the reconnecting client then do not reach the server."""
    import nats

    connection = await nats.connect(jetstream_ready.url)
    yield connection
    await connection.close()
