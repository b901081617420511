"""Leader election in the operator, on the in-memory ECS and an in-memory lease item.

The real lease (DynamoDB conditional writes) and two real `controller run` processes are
tested against the sandbox in test_operator_leader.py; this is the fast seam for the logic:
followers write nothing, the fence refuses a write once the lease is gone, stop releases.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetctl.controller.lease import LeaseRecord
from fleetctl.controller.leader import LeaderSettings, Leadership, NotLeader
from fleetctl.controller.operator import Operator
from tests.controller.unit.conftest import fleet_doc
from tests.fakes.ecs import READ_PREFIXES, FakeAws

SETTINGS = LeaderSettings(ttl=2.0, poll=0.02, fence_every=0.5)


class Item:
    """The fleet's lease item: holder, token, expiry (what DynamoDB holds for controller/lease.py)."""

    def __init__(self) -> None:
        self.holder = ""
        self.token = 0
        self.expires = 0.0
        self.checks = 0   # conditional writes by a holder (renewals and fence checks)

    def record(self) -> LeaseRecord:
        return LeaseRecord("unit", self.holder, "host", 1, "fleetctl controller run", "", self.expires, self.token)

    def seize(self, holder: str = "someone else") -> None:
        self.holder, self.token, self.expires = holder, self.token + 1, time.time() + 60


class ItemLease:
    """controller/lease.py's Lease, on an `Item` in memory (the same conditions)."""

    def __init__(self, item: Item, ttl: float) -> None:
        self.item, self.ttl = item, ttl
        self.holder = uuid.uuid4().hex
        self.token: int | None = None
        self.confirmed = 0.0
        self.seen: LeaseRecord | None = None
        self.lost = asyncio.Event()

    @property
    def held(self) -> bool:
        return self.token is not None and not self.lost.is_set()

    async def try_acquire(self) -> bool:
        await asyncio.sleep(0)
        if self.item.expires > time.time() and self.item.holder != self.holder:
            self.seen = self.item.record()
            return False
        self.item.seize(self.holder)
        self.item.expires = time.time() + self.ttl
        self.token, self.confirmed = self.item.token, time.monotonic()
        return True

    async def renew(self) -> bool:
        await asyncio.sleep(0)
        ours = (self.item.holder, self.item.token) == (self.holder, self.token) and self.item.expires > time.time()
        if not ours:
            self.lost.set()
            return False
        self.item.checks += 1
        self.item.expires, self.confirmed = time.time() + self.ttl, time.monotonic()
        return True

    def start_renewing(self) -> None:
        pass

    async def stop(self) -> None:
        if self.token is not None and (self.item.holder, self.item.token) == (self.holder, self.token):
            self.item.expires = 0.0
        self.token = None


class FencedFake(FakeAws):
    """The fake ECS with the write guard the real client runs in its before-send hook."""

    write_guard: Any = None

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        camel = "".join(p.capitalize() for p in operation.split("_"))
        if self.write_guard is not None and not camel.startswith(READ_PREFIXES):
            await self.write_guard(f"{service}.{camel}")   # refused: never reaches the fake
        return await super().call(service, operation, **params)


@pytest.fixture
def controller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    started: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(fake: FakeAws, item: Item, services: dict[str, list[str]]) -> Operator:
        monkeypatch.setattr("fleetctl.controller.operator.Aws.for_target", classmethod(lambda cls, target, **kw: fake))
        path = tmp_path / "fleet.yaml"
        path.write_text(yaml.safe_dump(fleet_doc(services), sort_keys=False))
        op = Operator(path, interval=0.05, progress_interval=0.01, backoff_base=0.01)
        op.leadership = Leadership(lambda: ItemLease(item, SETTINGS.ttl), "unit", settings=SETTINGS,
                                   metrics=op.metrics)
        stop, ready = asyncio.Event(), asyncio.Event()
        started.append((stop, asyncio.create_task(op.run(stop, ready))))
        await asyncio.wait_for(ready.wait(), 5)
        return op

    yield start
    for stop, task in started:
        stop.set()


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def writes(fake: FakeAws) -> int:
    return sum(n for op, n in fake.calls.items() if not op.split(".", 1)[1].startswith(READ_PREFIXES))


async def test_a_follower_observes_and_writes_nothing_until_the_lease_is_free(controller) -> None:
    fake, item = FencedFake(), Item()
    item.seize()                                  # another controller leads
    op = await controller(fake, item, {"api": []})
    await until(lambda: op.stats.passes >= 5)
    assert writes(fake) == 0 and fake.calls["ecs.DescribeServices"] >= 5   # observed, never wrote
    assert not op.leadership.leads and op.metrics.leader._value.get() == 0
    item.expires = 0.0                            # the leader released it
    await until(lambda: "api" in fake.clusters["fleet"])
    assert op.leadership.leads and op.metrics.leader._value.get() == 1
    assert op.metrics.lease_changes.labels("acquired")._value.get() == 1


async def test_a_lost_lease_refuses_the_next_write_and_the_controller_follows(controller, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fleetctl")
    fake, item = FencedFake(), Item()
    op = await controller(fake, item, {"api": []})
    await until(lambda: "api" in fake.clusters["fleet"] and op.stats.passes >= 2)
    before = writes(fake)
    errors = op.stats.errors
    item.seize()                                  # taken over while this controller hung past its ttl
    op.leadership.lease.confirmed = 0.0           # ... so its last check of the lease is old
    fake.ecs_update_service(cluster="fleet", service="api", desiredCount=3)   # drift by hand
    await until(lambda: not op.leadership.leads)
    passes = op.stats.passes
    await until(lambda: op.stats.passes >= passes + 5)
    assert writes(fake) == before                 # the scale-back was never sent
    assert fake.service("api")["desiredCount"] == 3 and op.stats.errors == errors
    assert "ecs.UpdateService not sent: the lease of fleet 'unit'" in caplog.text   # the fence refused it
    assert op.metrics.lease_changes.labels("lost")._value.get() == 1
    assert op.metrics.leader._value.get() == 0


async def test_the_fence_checks_the_lease_once_per_write_batch() -> None:
    item = Item()
    leadership = Leadership(lambda: ItemLease(item, SETTINGS.ttl), "unit", settings=SETTINGS)
    stop = asyncio.Event()
    task = asyncio.create_task(leadership.run(stop))
    await until(lambda: leadership.leads)
    leadership.lease.confirmed = 0.0              # the last check is old
    for op in ("ecs.RegisterTaskDefinition", "ecs.UpdateService", "ecs.TagResource"):
        await leadership.fence(op)
    assert item.checks == 1                       # one conditional check for the batch
    item.seize()
    leadership.lease.confirmed = 0.0
    with pytest.raises(NotLeader):
        await leadership.fence("ecs.UpdateService")
    stop.set()
    await task


async def test_stop_refuses_writes_at_once_and_releases_the_lease() -> None:
    item = Item()
    leadership = Leadership(lambda: ItemLease(item, SETTINGS.ttl), "unit", settings=SETTINGS)
    stop = asyncio.Event()
    task = asyncio.create_task(leadership.run(stop))
    await until(lambda: leadership.leads)
    leadership.stop_writing()
    with pytest.raises(NotLeader):
        await leadership.fence("ecs.UpdateService")
    assert item.expires > time.time()             # still held while in-flight work ends
    await leadership.release()
    assert item.expires == 0.0
    stop.set()
    await task


async def test_the_serving_gate_logs_in_with_the_probe_credentials_given_to_controller_run(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fleetctl.cli.operator import _nats_ca
    from fleetctl.controller.probe import ProbeAuth

    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    monkeypatch.setenv("NATS_TLS_CA", pem)   # what ECS injects from spec.nats.tls.caFrom
    ca = _nats_ca(None)
    assert ca is not None and ca.read_text() == pem and ca.stat().st_mode & 0o077 == 0
    assert _nats_ca(tmp_path / "given.pem") == tmp_path / "given.pem"
    fake = FencedFake()
    monkeypatch.setattr("fleetctl.controller.operator.Aws.for_target", classmethod(lambda cls, target, **kw: fake))
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet_doc({"api": []}), sort_keys=False))
    auth = ProbeAuth(user="fleetctl", password="probe-password-123")
    op = Operator(path, interval=0.05, progress_interval=0.01, gate_auth=auth, gate_ca_file=ca)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(op.run(stop, ready))
    await asyncio.wait_for(ready.wait(), 5)
    stop.set()
    await task
    assert op.gate.auth is auth and op.gate.tls.ca_file == ca
    ca.unlink()


async def test_stop_hands_the_lease_over_without_waiting_for_the_pass_in_progress(monkeypatch, tmp_path) -> None:
    fake, item = FencedFake(latency=0.3), Item()   # every call takes 0.3 s: a pass takes seconds
    monkeypatch.setattr("fleetctl.controller.operator.Aws.for_target", classmethod(lambda cls, target, **kw: fake))
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet_doc({"api": [], "db": []}), sort_keys=False))
    op = Operator(path, interval=0.05, progress_interval=0.01, backoff_base=0.01)
    op.leadership = Leadership(lambda: ItemLease(item, SETTINGS.ttl), "unit", settings=SETTINGS)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(op.run(stop, ready))
    await asyncio.wait_for(ready.wait(), 5)
    await until(lambda: op.leadership.leads and fake.calls["ecs.DescribeServices"] >= 1)
    passes = op.stats.passes
    stop.set()
    await until(lambda: item.expires == 0.0, timeout=1.0)     # released ...
    assert op.stats.passes == passes and not task.done()     # ... while the pass was still reading
    await asyncio.wait_for(task, 30)
