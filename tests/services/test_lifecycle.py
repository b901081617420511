"""SIGTERM drains and exits 0; a nats-server restart under running services loses nothing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import nats

from fleet_support import CallError, call, service_env, wait_for_ping
from sdk.proto import event_bus_pb2 as event_bus
from sdk.proto import time_manager_pb2 as time_manager
from sdk.testing import NatsServer, ServiceProcess


def events(log: str, name: str) -> list[dict]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == name]


async def wait_for_log(process: ServiceProcess, event: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not events(process.output(), event):
        assert time.monotonic() < deadline, f"no {event} in:\n{process.output()}"
        await asyncio.sleep(0.05)


async def test_sigterm_drains_and_exits_zero(nats_server: NatsServer, tmp_path: Path) -> None:
    process = ServiceProcess("language_system", service_env(nats_server.url, "language_system"), tmp_path / "ls.log").start()
    await wait_for_log(process, "service_started", 20)
    started = time.monotonic()
    code = process.terminate(timeout=5)
    elapsed = time.monotonic() - started
    output = process.output()
    assert code == 0, output
    assert elapsed < 5
    assert events(output, "stop_requested") and events(output, "service_stopped")[0]["exit_code"] == 0
    assert "Traceback" not in output


async def replay_all(client: nats.aio.client.Client) -> event_bus.ReplayResponse:
    return await call(client, "event_bus.replay", event_bus.ReplayRequest(topic="restart.>", limit=1000), timeout=1)


async def test_services_reconnect_and_keep_acknowledged_events(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats").start()
    processes = [
        ServiceProcess(name, service_env(server.url, name), tmp_path / f"{name}.log").start() for name in ("event_bus", "time_manager")
    ]
    client = await nats.connect(server.url, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    try:
        deadline = time.monotonic() + 30
        for process in processes:
            await wait_for_ping(client, process.name, deadline)
        acknowledged = []
        for number in range(20):
            published = await call(
                client, "event_bus.publish", event_bus.PublishRequest(topic=f"restart.n{number}", payload=str(number).encode(), message_id=f"m{number}")
            )
            acknowledged.append(published.sequence)

        server.kill()
        server.start()
        restarted = time.monotonic()
        while True:
            try:
                replayed = await replay_all(client)
                await call(client, "time_manager.now", time_manager.NowRequest(), timeout=1)
                break
            except (CallError, nats.errors.Error, asyncio.TimeoutError):
                assert time.monotonic() - restarted < 5, "services did not serve again within 5 s"
                await asyncio.sleep(0.1)
        assert time.monotonic() - restarted < 5
        assert [e.sequence for e in replayed.events] == acknowledged
        assert [e.payload for e in replayed.events] == [str(n).encode() for n in range(20)]

        again = await call(client, "event_bus.publish", event_bus.PublishRequest(topic="restart.n0", payload=b"0", message_id="m0"))
        assert again.duplicate, "de-duplication state was lost across the restart"
        for process in processes:
            output = process.output()
            assert len(events(output, "nats_disconnected")) == 1, output
            assert len(events(output, "nats_reconnected")) == 1, output
            assert "Traceback" not in output
    finally:
        await client.close()
        for process in processes:
            process.terminate()
        server.stop()
