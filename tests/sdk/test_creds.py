"""NATS_CREDS / NATS_CREDS_FILE end to end, against a nats-server in operator (JWT) mode.

The operator, account and user nkeys and their JWTs are minted here with `nkeys`, in the
NATS JWT v2 format that nats-server checks: header `{"typ":"JWT","alg":"ed25519-nkey"}`,
claims with `jti` (base32 of the SHA-512/256 of the claims without it), `iat`, `iss`, `sub`,
`name` and `nats`, and an ed25519 signature by the issuer over `header.claims`, all
base64url without padding.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import nats
import nkeys
import pytest

from sdk.errors import EXIT_CONFIG, EXIT_CONNECT
from sdk.proto import language_system_pb2 as pb
from sdk.testing import ROOT, base_env, free_port, nats_server_binary, wait_for_port

SERVICE = "services.language_system"
UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key(prefix: int) -> nkeys.KeyPair:
    return nkeys.from_seed(bytearray(nkeys.encode_seed(os.urandom(32), prefix)))


def public(key: nkeys.KeyPair) -> str:
    return key.public_key.decode()


def mint_jwt(issuer: nkeys.KeyPair, subject: nkeys.KeyPair, name: str, nats_claims: dict[str, Any]) -> str:
    claims: dict[str, Any] = {"iat": int(time.time()), "iss": public(issuer), "name": name, "sub": public(subject), "nats": nats_claims}
    digest = hashlib.new("sha512_256", json.dumps(claims, separators=(",", ":")).encode()).digest()
    claims["jti"] = base64.b32encode(digest).rstrip(b"=").decode()
    signing_input = b64(b'{"typ":"JWT","alg":"ed25519-nkey"}') + "." + b64(json.dumps(claims, separators=(",", ":")).encode())
    return signing_input + "." + b64(issuer.sign(signing_input.encode()))


def user_creds(account: nkeys.KeyPair) -> tuple[str, str]:
    """A `.creds` file, as nsc writes it, for a new user signed by `account`; and the user's seed."""
    user = new_key(nkeys.PREFIX_BYTE_USER)
    jwt = mint_jwt(account, user, "svc", {"pub": {}, "sub": {}, **UNLIMITED, "type": "user", "version": 2})
    seed = user.seed.decode()
    text = (
        f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )
    return text, seed


@dataclass
class OperatorNats:
    url: str
    account: nkeys.KeyPair
    directory: Path


@pytest.fixture(scope="module")
def operator_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorNats]:
    directory = tmp_path_factory.mktemp("operator-nats")
    operator = new_key(nkeys.PREFIX_BYTE_OPERATOR)
    account = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    operator_jwt = mint_jwt(operator, operator, "fleet-operator", {"type": "operator", "version": 2})
    limits = {**UNLIMITED, "imports": -1, "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}
    account_jwt = mint_jwt(operator, account, "fleet", {"limits": limits, "type": "account", "version": 2})
    port = free_port()
    config = directory / "server.conf"
    config.write_text(
        f'listen: "127.0.0.1:{port}"\n'
        f"operator: {operator_jwt}\n"
        "resolver: MEMORY\n"
        f"resolver_preload: {{\n  {public(account)}: {account_jwt}\n}}\n"
    )
    with open(directory / "nats-server.log", "ab") as log:
        process = subprocess.Popen([nats_server_binary(), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 10, process)
        yield OperatorNats(f"nats://127.0.0.1:{port}", account, directory)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def service_env(server: OperatorNats, tmp: Path, **values: str) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    return base_env(
        server.url, SERVICE_NAME="language_system", SERVICE_VERSION="dev", NATS_CONNECT_TIMEOUT="5", TMPDIR=str(tmp), **values
    )


async def detect_with(url: str, creds_path: Path, text: str) -> str:
    client = await nats.connect(url, user_credentials=str(creds_path), max_reconnect_attempts=0, connect_timeout=2)
    try:
        reply = await client.request("language_system.detect", pb.DetectRequest(text=text).SerializeToString(), timeout=2)
        return pb.DetectResponse.FromString(reply.data).language
    finally:
        await client.close()


def serve_and_ask(server: OperatorNats, env: dict[str, str], client_creds: Path, seed: str) -> None:
    """Start the service, wait for service_started, ask it one question, stop it; nothing leaks."""
    process = subprocess.Popen(
        [sys.executable, "-m", SERVICE], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if json.loads(line)["event"] in ("service_started", "service_stopped"):
                break
        assert json.loads(output[-1])["event"] == "service_started", "".join(output)
        assert asyncio.run(detect_with(server.url, client_creds, "mellon")) == "elvish"
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=10)
        output.append(rest)
    text = "".join(output)
    assert process.returncode == 0, text
    assert "Traceback" not in text and seed not in text
    assert list(Path(env["TMPDIR"]).iterdir()) == [], "the service left files in its temporary directory"


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_creds_in_the_environment_connect_and_serve(operator_nats: OperatorNats, tmp_path: Path, line_end: str) -> None:
    text, seed = user_creds(operator_nats.account)
    client_creds = tmp_path / "client.creds"
    client_creds.write_text(text)
    env = service_env(operator_nats, tmp_path / "tmp", NATS_CREDS=text.replace("\n", line_end))
    serve_and_ask(operator_nats, env, client_creds, seed)


def test_creds_file_connects_and_serves(operator_nats: OperatorNats, tmp_path: Path) -> None:
    text, seed = user_creds(operator_nats.account)
    creds = tmp_path / "service.creds"
    creds.write_text(text)
    creds.chmod(0o600)
    env = service_env(operator_nats, tmp_path / "tmp", NATS_CREDS_FILE=str(creds))
    serve_and_ask(operator_nats, env, creds, seed)
    assert creds.read_text() == text


def run(env: dict[str, str], timeout: float = 20) -> tuple[int, list[dict[str, Any]], str, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", SERVICE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], output, time.monotonic() - started


@pytest.mark.parametrize("source", ["NATS_CREDS", "NATS_CREDS_FILE"])
def test_user_of_an_unknown_account_is_refused_as_an_authorization_violation(
    operator_nats: OperatorNats, tmp_path: Path, source: str
) -> None:
    text, seed = user_creds(new_key(nkeys.PREFIX_BYTE_ACCOUNT))
    if source == "NATS_CREDS":
        value = text
    else:
        value = str(tmp_path / "stranger.creds")
        Path(value).write_text(text)
    env = service_env(operator_nats, tmp_path / "tmp", NATS_CONNECT_ATTEMPTS="1", **{source: value})
    code, lines, output, elapsed = run(env)
    assert code == EXIT_CONNECT, output
    assert elapsed < 5 + 3, f"took {elapsed:.1f}s"
    assert "Traceback" not in output and seed not in output
    assert [line["event"] for line in lines] == ["nats_connect_failed", "service_stopped"], output
    assert {line["cause"] for line in lines} == {"authorization_violation"}
    assert "Authorization Violation" in lines[0]["msg"]


def jwt_block(text: str) -> str:
    return text.split("\n\n")[0] + "\n"


def seed_block(seed: str) -> str:
    return f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"


CONTENTS = {
    "bare seed": lambda text, seed: seed,
    "seed block only": lambda text, seed: seed_block(seed),
    "jwt block only": lambda text, seed: jwt_block(text),
    "account seed": lambda text, seed: jwt_block(text) + seed_block(new_key(nkeys.PREFIX_BYTE_ACCOUNT).seed.decode()),
    "mangled seed": lambda text, seed: text.replace(seed, seed[:-4] + "A" * 4),
}


@pytest.mark.parametrize("variable", ["NATS_CREDS", "NATS_CREDS_FILE"])
@pytest.mark.parametrize("content", list(CONTENTS))
def test_content_that_is_not_creds_is_one_line_and_exit_1(
    operator_nats: OperatorNats, tmp_path: Path, variable: str, content: str
) -> None:
    text, seed = user_creds(operator_nats.account)
    value = CONTENTS[content](text, seed)
    if variable == "NATS_CREDS_FILE":
        path = tmp_path / "broken.creds"
        path.write_text(value)
        value = str(path)
    code, lines, output, elapsed = run(service_env(operator_nats, tmp_path / "tmp", **{variable: value}), timeout=15)
    assert code == EXIT_CONFIG, output
    assert len(output.strip().splitlines()) == 1, output
    assert lines[0]["event"] == "config_invalid" and lines[0]["variable"] == variable
    assert variable in lines[0]["msg"]
    assert "Traceback" not in output and seed not in output and seed[:-4] not in output and "eyJ" not in output


def test_creds_file_with_crlf_line_ends_is_refused_at_start(operator_nats: OperatorNats, tmp_path: Path) -> None:
    """nats-py reads the file itself, line by line, and cannot read a CRLF seed line."""
    text, seed = user_creds(operator_nats.account)
    path = tmp_path / "windows.creds"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    code, lines, output, _ = run(service_env(operator_nats, tmp_path / "tmp", NATS_CREDS_FILE=str(path)), timeout=15)
    assert code == EXIT_CONFIG, output
    assert lines[0]["variable"] == "NATS_CREDS_FILE" and "CRLF" in lines[0]["msg"]
    assert seed not in output
