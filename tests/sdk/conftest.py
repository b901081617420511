"""Real nats-servers for the SDK tests: a plain one, one with user/password auth, one with TLS."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nats.aio.client import Client

from sdk.testing import NatsServer


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="session")
def sdk_nats(nats_server: NatsServer) -> NatsServer:
    return nats_server


@pytest.fixture
def sdk_client(client: Client) -> Client:
    return client


@pytest.fixture(scope="session")
def auth_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("auth-nats"), extra_args=["--user", "fleet", "--pass", "right-password"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NatsServer, Path]]:
    directory = tmp_path_factory.mktemp("tls-nats")
    cert, key = self_signed(directory)
    server = NatsServer(directory / "store", extra_args=["--tls", "--tlscert", str(cert), "--tlskey", str(key)]).start()
    yield server, cert
    server.stop()
