"""The probe against real nats-servers: connection failures classified, responders and orphans."""
from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import nats.micro
import pytest
import yaml

from fleetctl.controller.manifest import load_manifest
from fleetctl.controller.probe import ProbeAuth, ProbeTls, concrete, probe, subject_matches
from sdk.testing import NatsServer, free_port
from tests.conftest import run_cli
from tests.sdk.conftest import self_signed

DIGEST = "sha256:" + "ab" * 32


def _manifest(tmp_path: Path, url: str, services: list[dict]) -> Path:
    doc = {
        "apiVersion": "fleetctl/v1", "kind": "Fleet", "metadata": {"name": "probe-test"},
        "spec": {"target": {"kind": "aws", "region": "us-east-1", "cluster": "c"},
                 "nats": {"urls": [url]}, "allowImageTags": True,
                 "defaults": {"network": {"subnets": ["subnet-1"]}},
                 "services": services},
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def plain_nats(tmp_path_factory) -> NatsServer:
    server = NatsServer(tmp_path_factory.mktemp("probe-nats")).start()
    yield server
    server.stop()


def test_concrete_and_matching() -> None:
    assert concrete("quest.*.get") == "quest.fleetctl-probe.get"
    assert concrete("events.>") == "events.fleetctl-probe"
    assert subject_matches("quest.*", "quest.get") and not subject_matches("quest.*", "quest.a.b")
    assert subject_matches("events.>", "events.a.b") and not subject_matches("events.>", "events")


async def test_probe_finds_instances_versions_missing_and_orphans(plain_nats, tmp_path) -> None:
    client = await nats.connect(plain_nats.url)
    handled: list[bytes] = []

    async def handler(req) -> None:
        handled.append(req.data)
        await req.respond(b"ok")

    svc = await nats.micro.add_service(client, name="quest", version="0.0.0+sha256." + "ab" * 32,
                                       metadata={"service_version": DIGEST}, queue_group="quest")
    await svc.add_endpoint(name="get", subject="quest.get", queue_group="quest", handler=handler)
    await svc.add_endpoint(name="legacy", subject="quest.legacy", queue_group="quest", handler=handler)
    old = await nats.micro.add_service(client, name="old_quest", version="1.0.0")
    await old.add_endpoint(name="get", subject="old_quest.get", handler=handler)
    try:
        path = _manifest(tmp_path, plain_nats.url, [
            {"name": "quest", "image": f"r.example/quest@{DIGEST}", "desiredCount": 2,
             "subjects": ["quest.get", "quest.*.advance"]},
        ])
        report = await probe(load_manifest(path).fleet, timeout=2, request_timeout=0.5)
    finally:
        await svc.stop()
        await old.stop()
        await client.close()
    assert not report.ok
    quest = report.services[0]
    assert (quest.instances, quest.desired, quest.version_ok) == (1, 2, True)
    status = {c.subject: c.status for c in quest.subjects}
    assert status == {"quest.get": "ok", "quest.*.advance": "missing"}
    assert next(c for c in quest.subjects if c.subject == "quest.*.advance").probed == "quest.fleetctl-probe.advance"
    orphans = {(o.name, tuple(o.subjects)) for o in report.orphans}
    assert ("quest", ("quest.legacy",)) in orphans and ("old_quest", ("old_quest.get",)) in orphans
    assert report.rtt_ms and report.elapsed_ms < 1000


async def test_handler_answers_probe_with_its_reply(plain_nats, tmp_path) -> None:
    """An endpoint answering anything counts as a responder."""
    client = await nats.connect(plain_nats.url)

    async def echo(msg) -> None:
        await msg.respond(b"pong")

    sub = await client.subscribe("plain.echo", cb=echo)
    try:
        path = _manifest(tmp_path, plain_nats.url, [
            {"name": "plain", "image": "r.example/plain:1", "desiredCount": 0, "subjects": ["plain.echo"]}])
        report = await probe(load_manifest(path).fleet, timeout=2, request_timeout=0.5)
    finally:
        await sub.unsubscribe()
        await client.close()
    assert report.ok and report.services[0].subjects[0].status == "ok"


@pytest.mark.parametrize("kind", ["refused", "dns", "auth", "tls"])
async def test_connection_failures_use_diagnose_categories(kind, tmp_path, tmp_path_factory) -> None:
    server = None
    auth, tls = ProbeAuth(), None
    if kind == "refused":
        url = f"nats://127.0.0.1:{free_port()}"
    elif kind == "dns":
        url = "nats://nats.no-such-zone.invalid:4222"
    elif kind == "auth":
        server = NatsServer(tmp_path_factory.mktemp("auth"), extra_args=["--user", "fleet", "--pass", "right"]).start()
        url, auth = server.url, ProbeAuth(user="fleet", password="wrong-secret")
    else:
        directory = tmp_path_factory.mktemp("tls")
        cert, key = self_signed(directory)
        server = NatsServer(directory / "s", extra_args=["--tls", "--tlscert", str(cert), "--tlskey", str(key)]).start()
        url, tls = server.url, ProbeTls(enabled=True)
    try:
        fleet = load_manifest(_manifest(tmp_path, url, [{"name": "a", "image": "r.example/a:1"}])).fleet
        report = await asyncio.wait_for(probe(fleet, auth, tls, timeout=2), 10)
    finally:
        if server:
            server.stop()
    expected = {"refused": "nats_unreachable", "dns": "nats_dns", "auth": "nats_auth", "tls": "nats_tls"}[kind]
    assert report.error is not None and report.error.classification.category == expected
    assert "wrong-secret" not in repr(report.as_dict())


def test_cli_never_prints_the_password(tmp_path, tmp_path_factory) -> None:
    server = NatsServer(tmp_path_factory.mktemp("auth-cli"), extra_args=["--user", "fleet", "--pass", "right"]).start()
    try:
        path = _manifest(tmp_path, server.url, [{"name": "a", "image": "r.example/a:1", "desiredCount": 0}])
        out = run_cli("probe", str(path), env={"NATS_USER": "fleet", "NATS_PASSWORD": "s3cret-value"})
        good = run_cli("probe", str(path), "-o", "json", env={"NATS_USER": "fleet", "NATS_PASSWORD": "right"})
    finally:
        server.stop()
    assert out.code == 1 and "nats_auth" in out.stdout
    assert "s3cret-value" not in out.stdout + out.stderr
    assert good.code == 0, good.stdout + good.stderr
