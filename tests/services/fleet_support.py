"""Helpers for the fleet tests: the manifest, the service environment, and one-shot calls."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import nats
import yaml
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER

from sdk import codec, contracts
from sdk.testing import ROOT, NatsServer, ServiceProcess, base_env

MANIFEST = ROOT / "manifests" / "prod.yaml"
DIGEST = "sha256:" + "ab" * 32
SECRETS = {"AUTH_SIGNING_KEY": "test-signing-key-0123456789", "PAYMENT_LEDGER_KEY": "test-ledger-key-0123456789"}


def manifest_services() -> dict[str, list[str]]:
    """Service name -> subjects, from manifests/prod.yaml."""
    spec = yaml.safe_load(MANIFEST.read_text())["spec"]
    return {service["name"]: list(service.get("subjects", [])) for service in spec["services"]}


def service_env(url: str, name: str, **extra: str) -> dict[str, str]:
    return base_env(url, SERVICE_NAME=name, SERVICE_VERSION=DIGEST, NATS_CONNECT_TIMEOUT="10", **SECRETS, **extra)


@dataclass
class Fleet:
    server: NatsServer
    processes: dict[str, ServiceProcess]
    gateway_port: int

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{proc.output()[-3000:]}" for name, proc in self.processes.items())


class CallError(Exception):
    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description


async def call(client: Client, subject: str, request: Message, timeout: float = 5.0) -> Any:
    """One protobuf request; returns the decoded response or raises CallError for an error reply."""
    contract = contracts.endpoint(subject)
    reply = await client.request(subject, codec.encode(request), timeout=timeout)
    code = (reply.headers or {}).get(ERROR_CODE_HEADER)
    if code:
        raise CallError(code, (reply.headers or {}).get(ERROR_HEADER, ""))
    return codec.decode(reply.data, contract.response)


async def wait_for_ping(client: Client, name: str, deadline: float) -> dict[str, Any]:
    while True:
        try:
            reply = await client.request(f"$SRV.PING.{name}", b"", timeout=0.5)
            return json.loads(reply.data)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


