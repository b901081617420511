"""The manifest trust boundary: no credential from the environment, no clear-text AWS endpoint,
and no error that echoes a value taken from the environment or a URL's password."""
from __future__ import annotations

import pytest

from fleetctl.controller import redact
from fleetctl.controller.errors import ManifestError
from fleetctl.controller.manifest import parse_manifest
from tests.conftest import FIXTURES, run_cli

SMALL = (FIXTURES / "manifests" / "small.yaml").read_text()
CANARY = "canary-8f3c1e9a7b2d"


@pytest.fixture(autouse=True)
def _fresh_registry():
    redact.clear()
    yield
    redact.clear()


def _issues(text: str, env: dict[str, str]) -> list[str]:
    with pytest.raises(ManifestError) as err:
        parse_manifest(text, source="m.yaml", env=env)
    return [str(i) for i in err.value.issues]


@pytest.mark.parametrize("name", [
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "GITHUB_TOKEN", "DB_PASSWORD",
    "STRIPE_API_KEY", "SIGNING_KEY", "MY_SECRET", "GOOGLE_APPLICATION_CREDENTIALS", "NATS_CREDS", "dbpasswd",
])
def test_credential_named_variables_are_refused_with_a_pointer_to_secrets(name):
    text = SMALL.replace("subjects: [auth.issue, auth.verify]",
                         "subjects: [auth.issue, auth.verify]\n      environment: {HARMLESS: \"${%s}\"}" % name)
    issues = _issues(text, {name: CANARY})
    assert len(issues) == 1
    line = issues[0]
    assert line.startswith("m.yaml:") and "spec.services[0].environment.HARMLESS" in line
    assert name in line and "secrets:" in line and "\n" not in line
    assert CANARY not in line


@pytest.mark.parametrize("name", ["LOG_LEVEL", "KEYCLOAK_URL", "MONKEY_COUNT", "FLEETCTL_SANDBOX_DIR", "PWD"])
def test_ordinary_variables_interpolate(name):
    text = SMALL.replace("subjects: [auth.issue, auth.verify]",
                         "subjects: [auth.issue, auth.verify]\n      environment: {X: \"${%s}\"}" % name)
    loaded = parse_manifest(text, source="m.yaml", env={name: "value-from-env"})
    assert loaded.fleet.service("auth").environment["X"] == "value-from-env"
    assert "value-from-env" in redact.known()


def test_errors_never_echo_a_value_from_the_environment():
    text = (SMALL.replace("region: eu-west-1", "region: ${REGION}")
                 .replace("[nats://nats.internal:4222]", "[\"${NATS_HOSTPORT}\"]")
                 .replace("- quest.>", "- \"${QUEST_SUBJECT}\""))
    issues = _issues(text, {"REGION": "not a region " + CANARY, "NATS_HOSTPORT": "bad url " + CANARY,
                            "QUEST_SUBJECT": "a..b" + CANARY})
    assert {i.split(": ")[1] for i in issues} >= {"spec.target.region", "spec.nats.urls"}
    for line in issues:
        assert CANARY not in line, line


def test_a_nats_url_password_is_never_echoed():
    text = SMALL.replace("[nats://nats.internal:4222]", f"[\"nats://fleet:{CANARY}@nats.internal:99999\"]")
    for line in _issues(text, {}):
        assert CANARY not in line and "nats.urls" in line
    text = SMALL.replace("[nats://nats.internal:4222]", f"[\"nats://fleet:{CANARY}@nats.internal:4222\"]")
    (line,) = _issues(text, {})
    assert CANARY not in line and "use nats.credentials" in line


@pytest.mark.parametrize("endpoint, ok", [
    ("https://ecs.example.com", True),
    ("http://127.0.0.1:5000", True),
    ("http://127.9.9.9:5000", True),
    ("http://localhost:5000", True),
    ("http://[::1]:5000", True),
    ("http://10.0.0.5:5000", False),
    ("http://ecs.example.com", False),
    ("http://127.0.0.1.nip.io:5000", False),
    ("ftp://ecs.example.com", False),
])
def test_an_aws_endpoint_is_https_unless_loopback(endpoint, ok):
    text = SMALL.replace("cluster: small-cluster", f"cluster: small-cluster\n    endpoint: \"{endpoint}\"")
    if ok:
        assert parse_manifest(text, source="m.yaml", env={}).fleet.spec.target.endpoint == endpoint
    else:
        (line,) = _issues(text, {})
        assert "spec.target" in line and "https://" in line


def test_the_sandbox_target_keeps_its_loopback_http_endpoint():
    text = SMALL.replace("kind: aws", "kind: sandbox").replace(
        "cluster: small-cluster", "cluster: small-cluster\n    endpoint: http://127.0.0.1:4566")
    assert parse_manifest(text, source="m.yaml", env={}).fleet.spec.target.kind == "sandbox"


def test_cli_validate_refuses_a_credential_and_prints_one_line(tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(SMALL.replace("subjects: [auth.issue, auth.verify]",
                                      "subjects: [auth.issue, auth.verify]\n      environment: {K: \"${AWS_SECRET_ACCESS_KEY}\"}"))
    result = run_cli("validate", str(manifest), env={"AWS_SECRET_ACCESS_KEY": CANARY})
    assert result.code == 2
    assert CANARY not in result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert str(manifest) in line and "secrets:" in line


# --- controller.redact ---------------------------------------------------------------------

def test_redact_masks_registered_values_and_url_userinfo():
    redact.register(CANARY, "${X}")
    redact.register("short")  # too short to be told apart from ordinary words: not registered
    assert redact.text(f"a {CANARY} b") == "a ${X} b"
    assert redact.text("nats://u:pw@host:4222 and tls://tok@h") == "nats://***@host:4222 and tls://***@h"
    assert redact.text("short") == "short"
    assert redact.text('{"v": "%s"}' % CANARY) == '{"v": "${X}"}'


def test_redacting_stream_sees_a_secret_written_in_pieces():
    import io

    inner = io.StringIO()
    stream = redact.RedactingStream(inner)
    redact.register(CANARY)
    stream.write("before " + CANARY[:5])
    stream.write(CANARY[5:] + " after\nnext")
    stream.flush()
    assert inner.getvalue() == "before *** after\nnext"


def test_secret_names():
    assert all(redact.secret_name(n) for n in ("AWS_SECRET_ACCESS_KEY", "api_key", "NATS_PASSWORD", "X_TOKEN"))
    assert not any(redact.secret_name(n) for n in ("LOG_LEVEL", "KEYCLOAK_URL", "PATH", "HOME", "PWD"))
