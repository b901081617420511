"""Leader election between real `controller run` processes over one sandbox fleet.

Each controller sends its AWS calls through a proxy of its own (bench/faults/proxy.py, no faults
configured), so every write is counted on the server side and attributed to its sender. Short
lease settings (ttl 6 s, poll 0.2 s) keep the test cheap; the times measured are printed.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.faults import harness
from bench.faults.proxy import is_write
from bench.faults.proxy import start as start_proxy
from tests.conftest import REPO

pytestmark = pytest.mark.timeout(300)  # sandbox tests on a shared 2-core machine: waits are condition-based

TTL, POLL = 6.0, 0.2
HEALTH = re.compile(r"health endpoints .* on [\d.]+:(\d+)")


@dataclass
class Controller:
    proc: subprocess.Popen
    proxy_url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def health_url(self) -> str | None:
        found = HEALTH.search(self.log.read_text(errors="replace"))
        return f"http://127.0.0.1:{found.group(1)}" if found else None

    def metric(self, name: str, **labels: str) -> float | None:
        url = self.health_url()
        if url is None:
            return None
        try:
            with urllib.request.urlopen(f"{url}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return None

    def writes(self) -> list[list]:
        """Write calls this controller sent (lease writes included), as the server side saw them."""
        return harness.control(self.proxy_url, "stats")["writes"]

    def fleet_writes(self) -> list[list]:
        return [w for w in self.writes() if not w[0].startswith("DynamoDB")]


def until(predicate, timeout: float, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def controllers(make_fleet, sandbox_handle, tmp_path):
    fleet = make_fleet(["settings"])
    # what is measured here is the lease, not the serving gate: a rollout is done when ECS says so
    fleet.doc["spec"]["rollout"] = {"minReadySeconds": 0, "progressDeadlineSeconds": 60, "natsGate": "off"}
    fleet.doc["spec"]["defaults"]["healthCheck"] = False
    fleet.write()
    proxies, started = [], []

    def start(name: str) -> Controller:
        proxy, url = start_proxy(sandbox_handle.endpoint_url)
        proxies.append(proxy)
        outputs = tmp_path / f"outputs-{name}.json"
        outputs.write_text(fleet.outputs.read_text())
        harness.point_outputs_at(outputs, url)
        log = tmp_path / f"controller-{name}.log"
        args = ["controller", "run", str(fleet.manifest), "--tf-outputs", str(outputs), "--interval", "1s",
                "--health-port", "0", "--lease-ttl", f"{TTL}s", "--lease-poll", f"{POLL}s"]
        with log.open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "fleetctl.cli", *args], cwd=REPO, env=harness._env(None),
                                    stdout=subprocess.DEVNULL, stderr=err)
        started.append(proc)
        return Controller(proc, url, log)

    yield fleet, start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=30)
    for proxy in proxies:
        proxy.shutdown()
        proxy.server_close()


def holder_pid(ddb, fleet: str) -> int | None:
    item = ddb.get_item(TableName="fleetctl-locks", Key={"fleet": {"S": fleet}}, ConsistentRead=True).get("Item")
    if item and float(item["expires"]["N"]) > time.time():
        return int(item["pid"]["N"])
    return None


def taken(ddb, fleet: str, candidates: list[Controller], since: float,
          timeout: float = TTL * 4) -> tuple[Controller, float]:
    """The candidate that took the fleet's lease, and the seconds from `since` until it had."""
    pid = until(lambda: (p := holder_pid(ddb, fleet)) in {c.pid for c in candidates} and p, timeout, step=0.01)
    return next(c for c in candidates if c.pid == pid), time.monotonic() - since


def desired(ecs, fleet) -> int:
    return ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"][0]["desiredCount"]


def test_one_controller_writes_and_the_lease_moves_on_sigterm_sigstop_and_sigkill(controllers, sandbox_handle):
    fleet, start = controllers
    ecs, ddb = sandbox_handle.client("ecs"), sandbox_handle.client("dynamodb")
    everyone = [start("a"), start("b"), start("c")]
    leader, _ = taken(ddb, fleet.name, everyone, time.monotonic(), timeout=90)
    followers = [c for c in everyone if c is not leader]
    # the leader creates the service; the followers observe it (two passes each) and never write
    # to the fleet; once the election settled they send reads only (GetItem of the lease, Describe*)
    until(lambda: any(op == "ecs.CreateService" for op, _name, _ in leader.fleet_writes()), 60, 0.1)
    assert [f.fleet_writes() for f in followers] == [[], []]
    for c in followers:
        harness.control(c.proxy_url, "reset")
    for f in followers:
        until(lambda: harness.control(f.proxy_url, "stats")["forwarded"].get("ecs.DescribeServices", 0) >= 2, 30, 0.1)
    assert [f.writes() for f in followers] == [[], []]
    assert holder_pid(ddb, fleet.name) == leader.pid
    assert leader.metric("fleetctl_leader") == 1 and leader.metric("fleetctl_lease_changes_total", change="acquired")
    assert [f.metric("fleetctl_leader") for f in followers] == [0, 0]

    # SIGTERM: released at once, a follower takes over at its next poll
    sent = time.monotonic()
    leader.proc.send_signal(signal.SIGTERM)
    new, handover = taken(ddb, fleet.name, followers, sent)
    assert leader.proc.wait(timeout=30) == 0, leader.log.read_text()[-2000:]
    print(f"SIGTERM hand-over: {handover:.2f}s")
    assert handover < 2.0
    assert "released the lease" in leader.log.read_text()
    until(lambda: new.metric("fleetctl_leader") == 1, 10)
    assert "leading fleet" in new.log.read_text()

    # SIGSTOP (a hung leader, as another host sees a dead one): taken over once its lease expired;
    # resumed, it finds the lease gone and sends no write to the fleet
    hung, last = new, next(f for f in followers if f is not new)
    harness.control(hung.proxy_url, "reset")
    sent = time.monotonic()
    hung.proc.send_signal(signal.SIGSTOP)
    _, takeover = taken(ddb, fleet.name, [last], sent)
    print(f"take-over of a hung leader: {takeover:.2f}s (ttl {TTL}s, poll {POLL}s)")
    assert TTL * 2 / 3 - 0.5 < takeover < TTL + POLL + 1.5
    ecs.update_service(cluster=fleet.cluster, service="settings", desiredCount=2)   # drift: work for both
    hung.proc.send_signal(signal.SIGCONT)
    until(lambda: hung.metric("fleetctl_leader") == 0, 15)
    until(lambda: desired(ecs, fleet) == 1, 30, 0.1)
    assert any(op == "ecs.UpdateService" for op, _name, _ in last.fleet_writes())   # healed by the new leader
    assert hung.fleet_writes() == [], hung.fleet_writes()     # fenced: the old leader sent nothing
    assert "lost the lease" in hung.log.read_text()

    # SIGKILL: the survivor takes over within ttl + poll (at once here: the killed pid was on this host)
    sent = time.monotonic()
    last.proc.kill()
    _, killed = taken(ddb, fleet.name, [hung], sent)
    print(f"take-over after SIGKILL: {killed:.2f}s")
    assert killed < TTL + POLL + 1.5
    hung.proc.send_signal(signal.SIGTERM)
    assert hung.proc.wait(timeout=30) == 0
