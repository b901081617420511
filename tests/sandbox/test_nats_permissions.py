"""The sandbox's nats-server runs the production permission model (controller/natsperms.py)."""
from __future__ import annotations

import asyncio
import json
import os
import stat

import nats
import pytest
import yaml

from fleetctl.controller import natsperms
from fleetctl.controller.probe import check_responders
from tests.conftest import REPO, run_cli


def passwords(sandbox) -> dict[str, str]:
    """The service passwords as a task gets them: the one JSON secret of `nats.credentials`."""
    sm = sandbox.client("secretsmanager")
    return dict(json.loads(sm.get_secret_value(SecretId=sandbox.outputs["nats_credentials_secret_arn"])["SecretString"]))


async def connect(sandbox, user: str, password: str, errors: list[str]) -> nats.NATS:
    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    return await nats.connect(sandbox.info.nats_url, user=user, password=password, error_cb=on_error,
                              allow_reconnect=False, connect_timeout=5, inbox_prefix=natsperms.inbox_prefix(user))


def test_the_sandbox_renders_the_production_accounts_block(sandbox):
    conf = (sandbox.info.state_dir / "nats-server.conf").read_text()
    local = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
    prod = (REPO / "terraform" / "templates" / "nats-server.conf.tftpl").read_text()
    assert natsperms.render_accounts(local) in conf
    assert natsperms.accounts_in(prod) in conf  # byte for byte what terraform deploys
    assert stat.S_IMODE(os.stat(sandbox.info.state_dir / "nats-server.conf").st_mode) == 0o600
    # prod's shape: one JSON secret {service: password}, the fleetctl user's in its own secret
    assert set(passwords(sandbox)) == {s.name for s in natsperms.services_of(local)}
    sm = sandbox.client("secretsmanager")
    fleetctl = sm.get_secret_value(SecretId=sandbox.outputs["nats_fleetctl_password_secret_arn"])["SecretString"]
    assert fleetctl == sandbox.info.credentials().nats_password


async def test_anonymous_and_wrong_password_connections_are_refused(sandbox):
    for kwargs in ({}, {"user": "payment", "password": "guess"}):
        with pytest.raises(Exception) as exc:
            await nats.connect(sandbox.info.nats_url, allow_reconnect=False, connect_timeout=3,
                               max_reconnect_attempts=0, **kwargs)
        assert "authorization" in str(exc.value).lower() or "NoServers" in type(exc.value).__name__


async def test_a_subject_the_permissions_forbid_fails_as_in_prod(sandbox):
    """A subject a manifest declares for `settings` that its permissions do not grant: the
    subscription is refused by the server, so the probe finds no responder, exactly as on the
    production nodes (tests/terraform/test_tf_nats_live.py runs the same block)."""
    pw = passwords(sandbox)
    errors: list[str] = []
    settings = await connect(sandbox, "settings", pw["settings"], errors)
    weather_errors: list[str] = []
    weather = await connect(sandbox, "weather_manager", pw["weather_manager"], weather_errors)
    creds = sandbox.info.credentials()
    probe_errors: list[str] = []
    probe = await connect(sandbox, creds.nats_user, creds.nats_password, probe_errors)
    try:
        async def ignore(msg) -> None:
            pass

        await settings.subscribe("settings.get", queue="q", cb=ignore)     # granted
        await settings.subscribe("settings.export", queue="q", cb=ignore)  # declared, not granted
        await settings.subscribe("_INBOX.>", cb=ignore)                    # nobody reads every reply
        await weather.subscribe("_INBOX.settings.>", cb=ignore)            # nor another service's
        await settings.flush(timeout=2)
        await weather.flush(timeout=2)
        for _ in range(50):
            if len(errors) >= 2 and weather_errors:
                break
            await asyncio.sleep(0.05)
        # (nats-server reports the subject lower-cased)
        assert any('subscription to "settings.export"' in e for e in errors), errors
        assert any('subscription to "_inbox.>"' in e.lower() for e in errors), errors
        assert any('subscription to "_inbox.settings.>"' in e.lower() for e in weather_errors), weather_errors

        checks = await check_responders(probe, [("settings", "settings.get"), ("settings", "settings.export")], 3.0)
        assert [(c.subject, c.status) for c in checks] == [("settings.get", "ok"), ("settings.export", "missing")]
        # the probe user cannot invoke a handler itself
        with pytest.raises(nats.errors.TimeoutError):
            await probe.request("settings.get", b"{}", timeout=0.5)
        assert any('publish to "settings.get"' in e for e in probe_errors), probe_errors
    finally:
        for client in (settings, weather, probe):
            await client.close()


def test_fleetctl_probe_uses_the_sandbox_fleetctl_user(sandbox):
    out = run_cli("probe", "manifests/local.yaml", "--tf-outputs", str(sandbox.info.outputs_path), "-o", "json",
                  timeout=120)  # fmt: skip
    report = json.loads(out.stdout)
    assert "error" not in report, report  # connected and authorised, as fleetctl
    assert out.code == 1  # no fleet runs on this sandbox: every subject is missing
    assert {m["status"] for m in report["missing"]} == {"missing"}
    assert report["jetstream"]["ok"] is True
