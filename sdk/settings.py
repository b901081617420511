"""Settings every service reads from its environment.

The deploy controller renders exactly these variable names into each ECS task definition,
so they are part of the contract. `load` turns a missing or malformed value into a
`ConfigError` that names the variable and never echoes its value.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import nkeys
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sdk.errors import ConfigError
from sdk.log import LEVELS

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_SCHEMES = ("nats", "tls", "ws", "wss")
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_JWT_BLOCK = "NATS USER JWT"
_SEED_BLOCK = "USER NKEY SEED"


def parse_creds(text: str) -> tuple[str, str]:
    """The user JWT and the user nkey seed held in the text of a NATS `.creds` file.

    Like the Go tooling, this tolerates CRLF line ends, indentation and a missing final
    newline. A `ValueError` says which part is missing or malformed and never quotes the text.
    """
    lines = [line.strip() for line in text.splitlines()]
    blocks: dict[str, str] = {}
    for index, line in enumerate(lines[:-1]):
        if line.startswith("---") and "BEGIN " in line:
            blocks.setdefault(line.strip("-").strip().removeprefix("BEGIN ").strip(), lines[index + 1])
    jwt, seed = blocks.get(_JWT_BLOCK), blocks.get(_SEED_BLOCK)
    if jwt is None:
        raise ValueError(f"has no {_JWT_BLOCK} block")
    if not _JWT.match(jwt):
        raise ValueError(f"its {_JWT_BLOCK} block does not hold a JWT")
    if seed is None:
        raise ValueError(f"has no {_SEED_BLOCK} block")
    if not _is_user_seed(seed):
        raise ValueError(f"its {_SEED_BLOCK} block does not hold a user nkey seed")
    return jwt, seed


def _is_user_seed(seed: str) -> bool:
    """A well-formed user nkey seed: base32, the seed and user prefixes, and a matching CRC-16."""
    try:
        raw = base64.b32decode(seed + "=" * (-len(seed) % 8))
        prefix, _ = nkeys.decode_seed(bytearray(seed.encode()))
    except Exception:
        return False
    return prefix == nkeys.PREFIX_BYTE_USER and len(raw) == 36 and nkeys.crc16_checksum(raw[:-2]) == raw[-2:]


def format_creds(jwt: str, seed: str) -> str:
    """A `.creds` file in the exact layout nats-py reads."""
    return (
        f"-----BEGIN {_JWT_BLOCK}-----\n{jwt}\n------END {_JWT_BLOCK}------\n\n"
        f"-----BEGIN {_SEED_BLOCK}-----\n{seed}\n------END {_SEED_BLOCK}------\n"
    )


def _check_creds_file(path: Path) -> None:
    """nats-py reads the file itself at every (re)connect, so it must already be in its layout."""
    try:
        text = path.read_bytes().decode()
    except (OSError, UnicodeDecodeError):
        raise _Conflict("NATS_CREDS_FILE", f"file {str(path)!r} cannot be read as text") from None
    try:
        jwt, seed = parse_creds(text)
    except ValueError as error:
        raise _Conflict("NATS_CREDS_FILE", f"file {str(path)!r} is not a NATS .creds file: it {error}") from None
    if f"-----\n{jwt}\n" not in text or f"-----\n{seed}\n" not in text:
        raise _Conflict(
            "NATS_CREDS_FILE",
            f"file {str(path)!r} is not laid out as nsc writes it (CRLF line ends, indentation or no final newline)",
        )


class EnvSettings(BaseSettings):
    """Base for settings read from the environment; names are the upper-cased field names."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)


class Settings(EnvSettings):
    nats_url: str
    nats_creds: SecretStr | None = None
    nats_creds_file: Path | None = None
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_token: SecretStr | None = None
    nats_tls: bool = False
    nats_tls_ca: str | None = None
    nats_tls_ca_file: Path | None = None
    nats_tls_cert_file: Path | None = None
    nats_tls_key_file: Path | None = None
    nats_tls_server_name: str | None = None
    nats_inbox_prefix: str | None = None
    service_name: str | None = None
    service_version: str = "dev"
    log_level: str = "info"
    nats_connect_timeout: float = Field(default=10.0, gt=0, le=600)
    nats_connect_attempts: int = Field(default=3, ge=1, le=1000)
    fault_error_rate: float = Field(default=0.0, ge=0, le=1)
    """FAULT_ERROR_RATE: the fraction of requests every endpoint fails on purpose with a 500 (canary
    drills and tests); 0, the default, is off."""

    @field_validator("nats_url")
    @classmethod
    def _check_urls(cls, value: str) -> str:
        urls = [part.strip() for part in value.split(",") if part.strip()]
        if not urls:
            raise ValueError("must list at least one server URL")
        for number, url in enumerate(urls, start=1):
            parsed = urlparse(url)
            if parsed.scheme not in _SCHEMES or not parsed.hostname:
                raise ValueError(f"entry {number} is not a URL like nats://host:4222")
            try:
                parsed.port
            except ValueError:
                raise ValueError(f"entry {number} has an invalid port") from None
        return ",".join(urls)

    @field_validator("nats_inbox_prefix")
    @classmethod
    def _check_inbox_prefix(cls, value: str | None) -> str | None:
        if value is not None and not all(_TOKEN.match(token) for token in value.split(".")):
            raise ValueError("must be dot-separated subject tokens (letters, digits, _ and -), e.g. _INBOX.payment")
        return value

    @field_validator("service_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if value == "dev" or _DIGEST.match(value) or _SEMVER.match(value):
            return value
        raise ValueError("must be an image digest sha256:<64 hex>, a semantic version, or 'dev'")

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level == "warn":
            level = "warning"
        if level not in LEVELS:
            raise ValueError(f"must be one of {', '.join(LEVELS)}")
        return level

    @field_validator("nats_creds_file", "nats_tls_ca_file", "nats_tls_cert_file", "nats_tls_key_file")
    @classmethod
    def _check_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {str(value)!r} does not exist")
        return value

    @model_validator(mode="after")
    def _check_pairs(self) -> Settings:
        if self.nats_creds is not None and self.nats_creds_file is not None:
            raise _Conflict("NATS_CREDS", "set either NATS_CREDS or NATS_CREDS_FILE, not both")
        if self.nats_tls_ca is not None and self.nats_tls_ca_file is not None:
            raise _Conflict("NATS_TLS_CA", "set either NATS_TLS_CA or NATS_TLS_CA_FILE, not both")
        if (self.nats_tls_cert_file is None) != (self.nats_tls_key_file is None):
            raise _Conflict("NATS_TLS_CERT_FILE", "NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together")
        if self.nats_password is not None and self.nats_user is None:
            raise _Conflict("NATS_USER", "NATS_PASSWORD is set but NATS_USER is not")
        if self.nats_creds is not None:
            try:
                parse_creds(self.nats_creds.get_secret_value())
            except ValueError as error:
                raise _Conflict("NATS_CREDS", f"is not the contents of a NATS .creds file: it {error}") from None
        if self.nats_creds_file is not None:
            _check_creds_file(self.nats_creds_file)
        return self

    @property
    def servers(self) -> list[str]:
        return self.nats_url.split(",")

    @property
    def inbox_prefix(self) -> str:
        """Where this service's replies arrive: NATS_INBOX_PREFIX, else `_INBOX.<SERVICE_NAME>`.

        The fleet's NATS permissions let each service subscribe to its own prefix only, so no
        service can read the replies sent to another (`_INBOX.>` would be all of them).
        """
        if self.nats_inbox_prefix:
            return self.nats_inbox_prefix
        if self.service_name and _TOKEN.match(self.service_name):
            return f"_INBOX.{self.service_name}"
        return "_INBOX"

    @property
    def uses_tls(self) -> bool:
        return self.nats_tls or any(url.startswith(("tls://", "wss://")) for url in self.servers)

    @property
    def micro_version(self) -> str:
        """SERVICE_VERSION as a semantic version, which `nats.micro` requires.

        A digest `sha256:<hex>` becomes `0.0.0+sha256.<hex>` (build metadata), so the
        digest stays readable from `$SRV.INFO`; the exact value is also in the service
        metadata under `service_version`.
        """
        if self.service_version == "dev":
            return "0.0.0-dev"
        if self.service_version.startswith("sha256:"):
            return "0.0.0+sha256." + self.service_version.removeprefix("sha256:")
        return self.service_version


class _Conflict(ValueError):
    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(reason)
        self.variable = variable
        self.reason = reason


S = TypeVar("S", bound=BaseSettings)


def load(model: type[S]) -> S:
    """Build `model` from the environment, raising one `ConfigError` on the first problem."""
    try:
        return model()
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        conflict = first.get("ctx", {}).get("error")
        if isinstance(conflict, _Conflict):
            raise ConfigError(conflict.variable, conflict.reason) from None
        variable = ".".join(str(part) for part in first["loc"]).upper() or "environment"
        reason = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            reason = "is required but not set"
        raise ConfigError(variable, reason) from None


def redact_url(url: str) -> str:
    """The URL without any user or password in it, fit for a log line."""
    parsed = urlparse(url)
    if parsed.username is None and parsed.password is None:
        return url
    host = parsed.hostname or ""
    netloc = f"{host}:{parsed.port}" if parsed.port else host
    return parsed._replace(netloc=netloc).geturl()
