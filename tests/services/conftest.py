"""One nats-server and the whole fleet (22 services + gateway) as real processes, per session."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

import nats
import pytest

from fleet_support import Fleet, manifest_services, service_env, wait_for_ping
from sdk.testing import NatsServer, ServiceProcess, free_port


@pytest.fixture(scope="session")
async def fleet(nats_server: NatsServer, jetstream_ready: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    logs = tmp_path_factory.mktemp("fleet-logs")
    gateway_port = free_port()
    processes = {
        name: ServiceProcess(
            name, service_env(nats_server.url, name, GATEWAY_PORT=str(gateway_port), GATEWAY_REQUEST_TIMEOUT="3"), logs / f"{name}.log"
        ).start()
        for name in manifest_services()
    }
    fleet = Fleet(nats_server, processes, gateway_port)
    deadline = time.monotonic() + 60
    # A connection of its own, closed again: a session-long one would go stale (see the `client` fixture).
    client = await nats.connect(nats_server.url)
    try:
        await asyncio.gather(*(wait_for_ping(client, name, deadline) for name in processes))
    except Exception:
        pytest.fail(f"the fleet did not come up:\n{fleet.logs()}")
    finally:
        await client.close()
    yield fleet
    for process in processes.values():
        if process.process is not None and process.process.poll() is None:
            process.process.send_signal(15)
    for process in processes.values():
        process.terminate()
