"""The rendered NATS permissions in a real nats-server, with real fleet services behind the gateway.

The `accounts` block of terraform/templates/nats-server.conf.tftpl is rendered exactly as
Terraform renders it and run in a local nats-server (loopback, random port, JetStream in a
temporary directory; no TLS, no cluster, no monitoring port). Services run as processes
with their own NATS user, as in ECS, and traffic goes through the gateway's HTTP path.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import nats
import pytest
from nats.aio.client import Client

from sdk.testing import ServiceProcess, base_env, free_port, nats_server_binary, wait_for_port
from tests.terraform import natsconf, natsperms, tfconfig

pytestmark = pytest.mark.timeout(90)

# A plain stateless service, KV buckets (settings; payment also lists keys), a stream
# (event_bus), callers of dependencies (performance_mode -> settings, world_state ->
# event_bus, payment -> auth) and the gateway.
SERVICES = ("language_system", "settings", "performance_mode", "event_bus", "world_state", "auth", "payment", "gateway")
SECRETS = {"AUTH_SIGNING_KEY": "live-test-signing-key-0123456789", "PAYMENT_LEDGER_KEY": "live-test-ledger-key-0123456789"}
VIOLATION = re.compile(r'"FLEET/user:(?P<user>[a-z_]+)" - (?P<kind>Publish|Subscription) Violation - .*?Subject "(?P<subject>[^"]+)"')


def nats_password() -> str:
    """A password like Terraform generates them (secrets.tf): 48 letters."""
    return "".join(secrets.choice(string.ascii_letters) for _ in range(48))


def local_config(accounts: str, port: int, store_dir: Path) -> str:
    """A single-node config around the rendered accounts block."""
    return "\n".join([
        "# Local test server around the accounts block of templates/nats-server.conf.tftpl.",
        'server_name: "fleet-permissions-test"',
        f'listen: "127.0.0.1:{port}"',
        "jetstream {",
        f'  store_dir: "{store_dir}"',
        "  max_memory_store: 64MB",
        "  max_file_store: 256MB",
        "}",
        "",
        accounts,
        "",
    ])


@dataclass
class LiveFleet:
    url: str
    gateway_port: int
    passwords: dict[str, str]
    server_log: Path
    processes: dict[str, ServiceProcess]

    def violations(self) -> list[dict[str, str]]:
        return [m.groupdict() for m in VIOLATION.finditer(self.server_log.read_text(errors="replace"))]

    def logs(self) -> str:
        parts = [f"--- nats-server\n{self.server_log.read_text(errors='replace')[-3000:]}"]
        parts += [f"--- {name}\n{proc.output()[-2000:]}" for name, proc in self.processes.items()]
        return "\n".join(parts)

    async def connect(self, user: str, errors: list[str] | None = None) -> Client:
        async def on_error(error: Exception) -> None:
            if errors is not None:
                errors.append(str(error))

        return await nats.connect(
            self.url, user=user, password=self.passwords[user], error_cb=on_error,
            allow_reconnect=False, connect_timeout=2, inbox_prefix=natsperms.inbox_prefix(user),
        )


async def wait_for_ping(client: Client, name: str, deadline: float) -> dict[str, Any]:
    while True:
        try:
            return json.loads((await client.request(f"$SRV.PING.{name}", b"", timeout=0.5)).data)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveFleet]:
    root = tmp_path_factory.mktemp("nats-live")
    rendered = natsperms.rendered_config()
    accounts = natsperms.accounts_block(rendered)
    users = [u["user"] for u in natsconf.loads(accounts)["accounts"]["FLEET"]["users"]]
    passwords = {user: nats_password() for user in users}

    port = free_port()
    config = root / "nats-server.conf"
    config.write_text(local_config(accounts, port, root / "jetstream"))
    assert accounts in config.read_text()  # the permission blocks, byte for byte
    server_env = {**os.environ, **{f"NATS_PASSWORD_{user.upper()}": pw for user, pw in passwords.items()}}
    server_log = root / "nats-server.log"
    with server_log.open("ab") as log:
        server = subprocess.Popen([nats_server_binary(), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT, env=server_env)
    url = f"nats://127.0.0.1:{port}"
    gateway_port = free_port()
    processes: dict[str, ServiceProcess] = {}
    fleet = LiveFleet(url, gateway_port, passwords, server_log, processes)
    try:
        wait_for_port(port, 10, server)
        for name in SERVICES:
            env = base_env(
                url, NATS_USER=name, NATS_PASSWORD=passwords[name], SERVICE_NAME=name, SERVICE_VERSION="dev",
                NATS_CONNECT_TIMEOUT="10", **SECRETS,
            )
            if name == natsperms.GATEWAY:
                env.update(GATEWAY_PORT=str(gateway_port), GATEWAY_REQUEST_TIMEOUT="3")
            processes[name] = ServiceProcess(name, env, root / f"{name}.log").start()
        probe = await fleet.connect(natsperms.PROBE_USER)
        try:
            deadline = time.monotonic() + 30
            await asyncio.gather(*(wait_for_ping(probe, name, deadline) for name in SERVICES))
            wait_for_port(gateway_port, max(deadline - time.monotonic(), 1))
        except Exception:
            pytest.fail(f"the services did not come up:\n{fleet.logs()}")
        finally:
            await probe.close()
        yield fleet
    finally:
        for process in processes.values():
            if process.process is not None and process.process.poll() is None:
                process.process.send_signal(15)
        for process in processes.values():
            process.terminate()
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


async def post(live: LiveFleet, service: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{live.gateway_port}/v1/{service}/{endpoint}", json=body) as response:
            payload = await response.json()
            assert response.status == 200, (service, endpoint, response.status, payload, live.logs())
            return payload


async def test_requests_through_the_gateway(live: LiveFleet) -> None:
    before = len(live.violations())
    # Stateless service.
    translated = await post(live, "language_system", "translate", {"text": "good day", "target": "dwarvish"})
    assert translated["text"] == "ruk ninz"

    # KV bucket: put and get.
    stored = await post(live, "settings", "set", {"key": "live.difficulty", "value": "hard"})
    assert int(stored["revision"]) >= 1
    read = await post(live, "settings", "get", {"key": "live.difficulty"})
    assert read["found"] is True and read["value"] == "hard" and read["revision"] == stored["revision"]

    # A service calling its dependency: performance_mode -> settings.
    assert (await post(live, "performance_mode", "get", {"scope": "p-1"}))["is_default"] is True
    await post(live, "performance_mode", "set", {"scope": "p-1", "mode": "performance"})
    profile = await post(live, "performance_mode", "get", {"scope": "p-1"})
    assert profile["is_default"] is False and profile["profile"]["mode"] == "performance"

    # Stream: publish and replay; world_state (KV) publishes its update through event_bus.
    published = await post(live, "event_bus", "publish", {"topic": "live.check", "payload": "aGk=", "message_id": "m-1"})
    assert int(published["sequence"]) >= 1
    updated = await post(live, "world_state", "update", {"region": "north", "set_facts": {"gate": "open"}})
    assert int(updated["event_sequence"]) > int(published["sequence"])
    region = await post(live, "world_state", "get", {"region": "north"})
    assert region["found"] is True and region["region"]["facts"] == {"gate": "open"}
    replayed = await post(live, "event_bus", "replay", {"topic": ">"})
    assert [e["topic"] for e in replayed["events"]] == ["live.check", "world.north.updated"]

    # payment -> auth, and the ledger bucket listed through a consumer (keys()).
    token = (await post(live, "auth", "issue", {"subject": "player-1", "scopes": ["payment:charge"]}))["token"]
    charged = await post(live, "payment", "charge", {
        "token": token, "account": "player-1", "amount_cents": 250, "currency": "EUR", "idempotency_key": "live-1",
    })
    assert int(charged["balance_cents"]) == 250 and charged["replayed"] is False
    balance = await post(live, "payment", "balance", {"account": "player-1"})
    assert int(balance["balance_cents"]) == 250 and balance["entries"] == 1

    # None of that needed anything the permissions do not grant.
    assert live.violations()[before:] == [], live.logs()


async def test_fleetctl_probe_discovers_the_services(live: LiveFleet) -> None:
    before = len(live.violations())
    probe = await live.connect(natsperms.PROBE_USER)
    try:
        inbox = probe.new_inbox()
        replies: list[dict[str, Any]] = []

        async def collect(msg: Any) -> None:
            replies.append(json.loads(msg.data))

        sub = await probe.subscribe(inbox, cb=collect)
        await probe.publish("$SRV.PING", b"", reply=inbox)
        deadline = time.monotonic() + 5
        while {r["name"] for r in replies} != set(SERVICES) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await sub.unsubscribe()
        assert {r["name"] for r in replies} == set(SERVICES)

        info = json.loads((await probe.request("$SRV.INFO.settings", b"", timeout=2)).data)
        assert {e["subject"] for e in info["endpoints"]} == {"settings.get", "settings.set"}
        ping = json.loads((await probe.request("$SRV.PING.payment", b"", timeout=2)).data)
        stats = json.loads((await probe.request(f"$SRV.STATS.payment.{ping['id']}", b"", timeout=2)).data)
        assert stats["name"] == "payment" and stats["id"] == ping["id"]

    finally:
        await probe.close()
    assert live.violations()[before:] == [], live.logs()


def probe_manifest(tmp_path: Path, url: str, services: list[str]) -> Path:
    import yaml

    prod = yaml.safe_load(tfconfig.MANIFEST.read_text())
    subjects = natsperms.manifest_subjects(prod)
    doc = {
        "apiVersion": "fleetctl/v1", "kind": "Fleet", "metadata": {"name": "live"},
        "spec": {"target": {"kind": "aws", "region": "us-east-1", "cluster": "c"}, "nats": {"urls": [url]},
                 "allowImageTags": True, "defaults": {"network": {"subnets": ["subnet-1"]}},
                 "services": [{"name": name, "image": f"r.example/{name}:1", "desiredCount": 1,
                               "subjects": subjects[name]} for name in services]},
    }  # fmt: skip
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_fleetctl_probe_reports_responders_without_invoking_a_handler(live: LiveFleet, tmp_path: Path) -> None:
    """The probe user cannot request a service subject, yet `fleetctl probe` still tells which
    subjects have responders: from the servers' own subscription lists."""
    from fleetctl.controller.manifest import load_manifest
    from fleetctl.controller.probe import ProbeAuth, account_subscriptions, check_responders, probe

    before = len(live.violations())
    errors: list[str] = []
    client = await live.connect(natsperms.PROBE_USER, errors)
    try:
        with pytest.raises(nats.errors.TimeoutError):
            await client.request("payment.refund", b"{}", timeout=0.5)
        await client.flush(timeout=2)
        subscribed = await account_subscriptions(client, 2.0)
        checks = await check_responders(client, [("payment", "payment.refund"), ("quest", "quest.get")], 2.0)
    finally:
        await client.close()
    assert any('permissions violation for publish to "payment.refund"' in e for e in errors), errors
    assert {"user": "fleetctl", "kind": "Publish", "subject": "payment.refund"} in live.violations()[before:]
    assert "payment.refund" in subscribed
    assert [(c.subject, c.status) for c in checks] == [("payment.refund", "ok"), ("quest.get", "missing")]

    before = len(live.violations())
    fleet = load_manifest(probe_manifest(tmp_path, live.url, [*SERVICES, "quest"])).fleet
    report = await probe(fleet, ProbeAuth(user="fleetctl", password=live.passwords["fleetctl"]), timeout=3, request_timeout=2)
    by_name = {s.name: s for s in report.services}
    for name in SERVICES:
        assert by_name[name].instances == 1, (name, report.as_dict())
        assert {c.status for c in by_name[name].subjects} <= {"ok"}, (name, report.as_dict())
    assert {c.status for c in by_name["quest"].subjects} == {"missing"} and by_name["quest"].instances == 0
    assert report.jetstream.get("ok") is True, report.jetstream
    assert live.violations()[before:] == [], live.logs()


async def test_replies_are_isolated_between_services(live: LiveFleet) -> None:
    """weather_manager cannot read the token auth sends back to payment: it may subscribe
    neither to every inbox nor to payment's; payment's own request to auth still works."""
    before = len(live.violations())
    for subject in ("_INBOX.>", "_INBOX.payment.>", "_INBOX.*.>", ">"):
        errors = await denied(live, "weather_manager", "subscribe", subject)
        assert any("permissions violation" in e.lower() for e in errors), (subject, errors)
    payment = await live.connect("payment")
    try:
        reply = await payment.request("auth.issue", json.dumps({"subject": "p", "scopes": []}).encode(), timeout=3)
        assert reply.subject.startswith("_INBOX.payment.")
    finally:
        await payment.close()
    assert [v for v in live.violations()[before:] if v["user"] != "weather_manager"] == [], live.logs()


async def denied(live: LiveFleet, user: str, action: str, subject: str) -> list[str]:
    """Errors the server reports to `user` for one publish or subscribe on `subject`."""
    errors: list[str] = []
    client = await live.connect(user, errors)
    try:
        if action == "publish":
            await client.publish(subject, b"{}")
        else:
            await client.subscribe(subject)
        await client.flush(timeout=2)
        deadline = time.monotonic() + 2
        while not errors and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        await client.close()
    return errors


@pytest.mark.parametrize(
    ("user", "action", "subject"),
    [
        ("settings", "publish", "payment.charge"),  # not a dependency
        ("performance_mode", "publish", "$KV.settings.performance_mode.p-1"),  # another service's bucket
        ("performance_mode", "publish", "$JS.API.STREAM.INFO.KV_settings"),
        ("settings", "publish", "$JS.API.STREAM.DELETE.KV_settings"),  # own bucket, but not an API it uses
        ("settings", "publish", "$JS.API.STREAM.INFO.KV_ledger"),
        ("payment", "publish", "_INBOX.not-a-reply"),  # replies only to requests it received
        ("world_state", "publish", "events.world.forged"),  # the stream's subjects belong to event_bus
        ("settings", "subscribe", "payment.charge"),  # cannot serve another service's subject
        ("settings", "subscribe", "$SRV.PING.payment"),
        ("gateway", "subscribe", "auth.verify"),
        ("gateway", "publish", "$JS.API.STREAM.INFO.KV_ledger"),
        ("fleetctl", "publish", "$KV.ledger.entry.x"),
        ("fleetctl", "subscribe", "payment.charge"),
        ("fleetctl", "publish", "payment.refund"),  # discovers and checks responders, invokes nothing
        ("fleetctl", "publish", "$SYS.REQ.SERVER.PING.CONNZ"),
        ("fleetctl", "subscribe", "_INBOX.>"),
        ("weather_manager", "subscribe", "_INBOX.>"),  # nobody reads other services' replies
        ("weather_manager", "subscribe", "_INBOX.payment.>"),
        ("gateway", "subscribe", "_INBOX.auth.>"),
    ],
)
async def test_actions_outside_the_permissions_are_denied(live: LiveFleet, user: str, action: str, subject: str) -> None:
    errors = await denied(live, user, action, subject)
    assert any("permissions violation" in e.lower() and subject.lower() in e.lower() for e in errors), errors
    kind = "Publish" if action == "publish" else "Subscription"
    wanted = {"user": user, "kind": kind, "subject": subject}
    deadline = time.monotonic() + 5  # the server may log the violation after the client saw its -ERR
    while wanted not in live.violations() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert wanted in live.violations()


@pytest.mark.parametrize(
    ("password", "starts"), [("1e5" + "a" * 45, False), ("12345", False), ("x" * 48, True)], ids=["exponent", "integer", "letters"]
)
def test_server_reads_substituted_passwords_as_config_values(tmp_path: Path, password: str, starts: bool) -> None:
    # Why secrets.tf generates letters only: a substituted variable is parsed as a value.
    port = free_port()
    config = tmp_path / "nats-server.conf"
    config.write_text(
        f'listen: "127.0.0.1:{port}"\n'
        "accounts { FLEET { users: [ { user: \"probe\", password: $NATS_PASSWORD_PROBE } ] } }\n"
    )
    env = {**os.environ, "NATS_PASSWORD_PROBE": password}
    server = subprocess.Popen([nats_server_binary(), "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        if starts:
            wait_for_port(port, 10, server)
        else:
            assert server.wait(10) != 0
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
