"""A service that cannot start says why in one line and exits non-zero, within its deadline."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from sdk.errors import EXIT_CONFIG, EXIT_CONNECT
from sdk.testing import ROOT, NatsServer, base_env, free_port

SERVICE = "services.language_system"


def run(env: dict[str, str], timeout: float = 20) -> tuple[int, list[dict], str, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", SERVICE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, lines, output, elapsed


def only_env(**values: str) -> dict[str, str]:
    env = base_env("unused", **values)
    env.pop("NATS_URL")
    if "NATS_URL" in values:
        env["NATS_URL"] = values["NATS_URL"]
    return env


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({}, "NATS_URL"),
        ({"NATS_URL": "http://example:80"}, "NATS_URL"),
        ({"NATS_URL": "nats://127.0.0.1:4222", "NATS_CONNECT_TIMEOUT": "soon"}, "NATS_CONNECT_TIMEOUT"),
        ({"NATS_URL": "nats://127.0.0.1:4222", "NATS_CONNECT_ATTEMPTS": "0"}, "NATS_CONNECT_ATTEMPTS"),
        ({"NATS_URL": "nats://127.0.0.1:4222", "SERVICE_VERSION": "latest"}, "SERVICE_VERSION"),
        ({"NATS_URL": "nats://127.0.0.1:4222", "NATS_TLS": "perhaps"}, "NATS_TLS"),
        ({"NATS_URL": "nats://127.0.0.1:4222", "NATS_TLS_CA_FILE": "/no/such/ca.pem"}, "NATS_TLS_CA_FILE"),
        ({"NATS_URL": "nats://127.0.0.1:4222", "NATS_PASSWORD": "s3cr3t-value"}, "NATS_USER"),
        ({"NATS_URL": "nats://127.0.0.1:4222", "NATS_CREDS": "s3cr3t-value"}, "NATS_CREDS"),
        ({"NATS_URL": "nats://127.0.0.1:4222", "SERVICE_NAME": "auth"}, "SERVICE_NAME"),
    ],
)
def test_bad_setting_is_one_line_and_exit_1(values: dict[str, str], variable: str) -> None:
    code, lines, output, _ = run(only_env(**values))
    assert code == EXIT_CONFIG, output
    assert len(output.strip().splitlines()) == 1, output
    assert lines[0]["event"] == "config_invalid" and lines[0]["variable"] == variable
    assert variable in lines[0]["msg"]
    assert "s3cr3t-value" not in output and "Traceback" not in output


def test_missing_service_secret_is_named_and_not_printed() -> None:
    env = only_env(NATS_URL="nats://127.0.0.1:4222", AUTH_SIGNING_KEY="short")
    done = subprocess.run([sys.executable, "-m", "services.auth"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode == EXIT_CONFIG
    line = json.loads(done.stdout.strip())
    assert line["variable"] == "AUTH_SIGNING_KEY" and "short" not in done.stdout.replace("at least", "")


def assert_connect_failure(env: dict[str, str], cause: str, text: str, attempts: int, deadline: float) -> None:
    code, lines, output, elapsed = run(env, timeout=deadline + 10)
    assert code == EXIT_CONNECT, output
    assert elapsed < deadline + 3, f"took {elapsed:.1f}s"
    assert "Traceback" not in output
    failures = [line for line in lines if line["event"] == "nats_connect_failed"]
    assert 1 <= len(failures) <= attempts, output
    assert {line["cause"] for line in failures} == {cause}, output
    assert text in failures[0]["msg"]
    assert [line["attempt"] for line in failures] == list(range(1, len(failures) + 1))
    assert lines[-1]["event"] == "service_stopped" and lines[-1]["cause"] == cause
    assert len(lines) == len(failures) + 1, output


def connect_env(url: str, **values: str) -> dict[str, str]:
    return base_env(url, NATS_CONNECT_ATTEMPTS="2", NATS_CONNECT_TIMEOUT="5", **values)


def test_refused() -> None:
    port = free_port()
    assert_connect_failure(connect_env(f"nats://127.0.0.1:{port}"), "connection_refused", "Connect call failed", 2, 5)


def test_unknown_host() -> None:
    assert_connect_failure(connect_env("nats://no-such-host.invalid:4222"), "dns_failure", "gaierror", 2, 5)


def test_wrong_password(auth_nats: NatsServer) -> None:
    env = connect_env(auth_nats.url, NATS_USER="fleet", NATS_PASSWORD="wrong-password")
    assert_connect_failure(env, "authorization_violation", "Authorization Violation", 2, 5)
    code, _, output, _ = run(env)
    assert "wrong-password" not in output


def test_tls_verification_failure(tls_nats: tuple[NatsServer, Path]) -> None:
    server, _ = tls_nats
    assert_connect_failure(connect_env(server.url, NATS_TLS="true"), "tls_verification_failed", "CERTIFICATE_VERIFY_FAILED", 2, 5)


def test_tls_hostname_mismatch(tls_nats: tuple[NatsServer, Path]) -> None:
    server, cert = tls_nats
    env = connect_env(server.url, NATS_TLS="1", NATS_TLS_CA=cert.read_text(), NATS_TLS_SERVER_NAME="nats.example.com")
    assert_connect_failure(env, "tls_hostname_mismatch", "Hostname mismatch", 2, 5)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never says anything."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_silent_server_times_out_within_the_deadline(silent_listener: int) -> None:
    env = base_env(f"nats://127.0.0.1:{silent_listener}", NATS_CONNECT_ATTEMPTS="5", NATS_CONNECT_TIMEOUT="2")
    assert_connect_failure(env, "timeout", "", 5, 2)


def test_tls_with_the_right_ca_connects(tls_nats: tuple[NatsServer, Path], tmp_path: Path) -> None:
    server, cert = tls_nats
    env = base_env(server.url, NATS_TLS="true", NATS_TLS_CA_FILE=str(cert), NATS_CONNECT_TIMEOUT="5")
    process = subprocess.Popen([sys.executable, "-m", SERVICE], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(process.stdout.readline())
        assert first["event"] == "nats_connected", first
    finally:
        process.terminate()
        assert process.wait(10) == 0
