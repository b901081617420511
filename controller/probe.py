"""Probe the fleet over NATS: server, services ($SRV.INFO), a responder on every declared subject.

After one connection and one PING for the round-trip time, everything else runs at once:
one `$SRV.INFO` broadcast (every instance of every micro service answers), one
`$SYS.REQ.ACCOUNT.PING.CONNZ` request (every NATS server lists the connections of the probe's
own account with their subscriptions) and the JetStream account info. A declared subject has
a responder when some subscription in the account matches it: the same interest the server
uses to answer "no responders". No message is sent to a service subject, so the probe user
(`fleetctl` in the fleet's NATS permissions, controller/natsperms.py) needs no right to invoke
a business handler: its publish to `payment.refund` is denied.

A failed connection is classified with the diagnose rules, so it reads like a stopped task's
cause (nats_unreachable, nats_auth, nats_dns, nats_tls).
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.controller.diagnose.classify import Classification, TaskEvidence, classify
from fleetctl.controller.manifest.lint import parse_image
from fleetctl.controller.manifest.models import Fleet
from fleetctl.controller.concurrency import gather

WILDCARD_TOKEN = "fleetctl-probe"
RESPONDERS_SUBJECT = "$SYS.REQ.ACCOUNT.PING.CONNZ"
PROBE_USER = "fleetctl"


@dataclass(frozen=True)
class ProbeAuth:
    """Operator credentials for the probe. Never printed."""

    creds_file: Path | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        return self.creds_file is None and self.user is None

    @property
    def inbox_prefix(self) -> str:
        """`_INBOX.<user>`: the fleet's permissions let the probe user read only its own replies."""
        return f"_INBOX.{self.user or PROBE_USER}"

    @classmethod
    def for_fleet(cls, fleet: Fleet, auth: "ProbeAuth | None" = None) -> "ProbeAuth":
        """`auth` when it names credentials; for a sandbox target without any, the sandbox's
        fleetctl user (from the target's credentials file)."""
        if auth is not None and not auth.empty:
            return auth
        target = fleet.spec.target
        if target.kind == "sandbox":
            from fleetctl.sandbox.auth import Credentials, CredentialsError
            from fleetctl.sandbox.config import default_state_dir

            path = Path(target.credentials_file or default_state_dir() / "credentials.json")
            try:
                credentials = Credentials.load(path)
            except CredentialsError:
                return auth or cls()
            if credentials.nats_user:
                return cls(user=credentials.nats_user, password=credentials.nats_password)
        return auth or cls()

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inbox_prefix": self.inbox_prefix}
        if self.creds_file is not None:
            out["user_credentials"] = str(self.creds_file)
        if self.user is not None:
            out["user"] = self.user
            if self.password is not None:
                out["password"] = self.password
        return out


@dataclass(frozen=True)
class ProbeTls:
    enabled: bool = False
    ca_file: Path | None = None
    server_name: str | None = None

    @classmethod
    def for_fleet(cls, fleet: Fleet, ca_file: Path | None = None) -> "ProbeTls":
        tls = fleet.spec.nats.tls
        uses_tls = any(u.startswith(("tls://", "wss://")) for u in fleet.spec.nats.urls)
        if tls is None:
            return cls(enabled=uses_tls or ca_file is not None, ca_file=ca_file)
        local_ca = ca_file or (Path(tls.ca_file) if tls.ca_file and Path(tls.ca_file).is_file() else None)
        return cls(enabled=tls.enabled or uses_tls, ca_file=local_ca, server_name=tls.server_name)

    def context(self) -> Any:
        if not self.enabled:
            return None
        import ssl

        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


class ProbeConnectError(Exception):
    """The probe could not connect; `classification` is the diagnose verdict for it."""

    def __init__(self, url: str, cause: str, detail: str, classification: Classification) -> None:
        super().__init__(f"cannot connect to NATS at {url}: {detail}")
        self.url = url
        self.cause = cause
        self.detail = detail
        self.classification = classification

    def as_dict(self) -> dict[str, Any]:
        c = self.classification
        return {"url": self.url, "cause": self.cause, "category": c.category, "summary": c.summary,
                "hint": c.hint, "evidence": list(c.evidence)}


def classify_connect_error(url: str, error: BaseException, service: str = "fleetctl") -> ProbeConnectError:
    """Render the error the way the SDK logs it, then classify it with the diagnose rules."""
    from fleetctl.controller.sdkcontract import connect_cause as sdk_cause, describe

    cause, detail = sdk_cause(error), describe(error)
    line = json.dumps({"level": "error", "event": "nats_connect_failed", "cause": cause, "url": url, "msg": detail},
                      separators=(",", ":"))
    ev = TaskEvidence(task_arn="probe", service=service, stop_code=None, stopped_reason=None, container=None,
                      exit_code=None, container_reason=None, log=(line,), context={"url": url})
    return ProbeConnectError(url, cause, detail, classify(ev))


async def connect(urls: list[str], auth: ProbeAuth, tls: ProbeTls, timeout: float = 5.0) -> Any:
    """A connected nats-py client, or ProbeConnectError with the cause of the first failure.

    The attempt is raced against the first error nats-py reports and bounded by `timeout`,
    since a failed TLS handshake can otherwise leave `connect` waiting.
    """
    from nats.aio.client import Client
    from fleetctl.controller.sdkcontract import redact_url

    loop = asyncio.get_running_loop()
    first_error: asyncio.Future[BaseException] = loop.create_future()

    async def on_error(error: Exception) -> None:
        if not first_error.done():
            first_error.set_result(error)

    client = Client()
    options: dict[str, Any] = {"tls": tls.context(), **auth.options()}
    if tls.server_name:
        options["tls_hostname"] = tls.server_name
    connecting = asyncio.ensure_future(client.connect(
        servers=urls, error_cb=on_error, allow_reconnect=False, max_reconnect_attempts=0,
        connect_timeout=timeout, name="fleetctl-probe", dont_randomize=True, **options))
    done, _ = await asyncio.wait({connecting, first_error}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if connecting in done and connecting.exception() is None and client.is_connected:
        return client
    if first_error.done():
        error: BaseException = first_error.result()
    elif connecting.done() and connecting.exception() is not None:
        error = connecting.exception()  # type: ignore[assignment]
    else:
        error = TimeoutError(f"no connection within {timeout:.1f}s")
    connecting.cancel()
    await asyncio.wait({connecting, asyncio.ensure_future(client.close())}, timeout=1.0)
    raise classify_connect_error(redact_url(urls[0]), error)


@dataclass
class SubjectCheck:
    service: str
    subject: str
    probed: str          # the subject actually requested (wildcards made concrete)
    status: str          # ok | missing | no_reply
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "subject": self.subject, "probed": self.probed, "status": self.status,
                "detail": self.detail}


@dataclass
class ServiceProbe:
    name: str
    desired: int
    instances: int
    versions: list[str]
    expected_version: str | None   # the manifest's image digest; None for an unresolved tag
    subjects: list[SubjectCheck] = field(default_factory=list)

    @property
    def version_ok(self) -> bool | None:
        if self.expected_version is None or not self.versions:
            return None
        return set(self.versions) == {self.expected_version}

    @property
    def ok(self) -> bool:
        return (self.instances >= self.desired and all(s.status == "ok" for s in self.subjects)
                and self.version_ok is not False)

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.name, "ok": self.ok, "desired": self.desired, "instances": self.instances,
                "versions": self.versions, "expectedVersion": self.expected_version, "versionOk": self.version_ok,
                "subjects": [s.as_dict() for s in self.subjects]}


@dataclass
class Orphan:
    name: str
    instance: str
    version: str
    subjects: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.name, "instance": self.instance, "version": self.version, "subjects": self.subjects}


@dataclass
class ProbeReport:
    url: str
    server: dict[str, Any] = field(default_factory=dict)
    rtt_ms: float | None = None
    jetstream: dict[str, Any] = field(default_factory=dict)
    services: list[ServiceProbe] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    error: ProbeConnectError | None = None
    elapsed_ms: float = 0.0        # connect excluded: the parallel phase only
    connect_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and all(s.ok for s in self.services)

    @property
    def missing(self) -> list[SubjectCheck]:
        return [c for s in self.services for c in s.subjects if c.status != "ok"]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "url": self.url}
        if self.error is not None:
            out["error"] = self.error.as_dict()
            return out
        out.update({
            "server": self.server, "rttMs": self.rtt_ms, "jetstream": self.jetstream,
            "connectMs": round(self.connect_ms, 2), "elapsedMs": round(self.elapsed_ms, 2),
            "roundTrips": round(self.elapsed_ms / self.rtt_ms, 1) if self.rtt_ms else None,
            "services": [s.as_dict() for s in self.services],
            "missing": [c.as_dict() for c in self.missing],
            "orphans": [o.as_dict() for o in self.orphans],
        })
        return out


def concrete(subject: str) -> str:
    """A subject a wildcard subscription would receive: `*` and `>` become one token."""
    return ".".join(WILDCARD_TOKEN if t in ("*", ">") else t for t in subject.split("."))


def subject_matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def expected_version(image: str) -> str | None:
    _repo, _tag, digest = parse_image(image)
    return digest


class RespondersUnknown(Exception):
    """No NATS server answered the subscription query (no permission, or no system account)."""


async def account_subscriptions(client: Any, timeout: float) -> list[str]:
    """Every subscription subject of the client's own NATS account, on every server.

    One `$SYS.REQ.ACCOUNT.PING.CONNZ` request: each server of the cluster answers with the
    account's connections there and their subscriptions (nats-server answers it for any account;
    the fleet's permissions grant the publish to the fleetctl user only). Replies are collected
    until every server known from the connect INFO answered, a short quiet spell, or `timeout`.
    """
    loop = asyncio.get_running_loop()
    servers = max(1, len(set(client._server_info.get("connect_urls") or [])))
    replies: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def on_reply(msg: Any) -> None:
        try:
            replies.append(json.loads(msg.data))
        except ValueError:
            return
        arrived.set()

    inbox = client.new_inbox()
    sub = await client.subscribe(inbox, cb=on_reply)
    query = json.dumps({"subscriptions": True, "limit": 100000}).encode()
    await client.publish(RESPONDERS_SUBJECT, query, reply=inbox)
    deadline = loop.time() + timeout
    try:
        while len(replies) < servers:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), remaining if not replies else min(remaining, 0.25))
            except asyncio.TimeoutError:
                break
    finally:
        await sub.unsubscribe()
    answered = [r for r in replies if not r.get("error")]
    if not answered:
        error = next((r["error"] for r in replies if r.get("error")), None)
        detail = (error or {}).get("description") if isinstance(error, dict) else None
        raise RespondersUnknown(detail or f"no NATS server answered {RESPONDERS_SUBJECT} within {timeout:.1f}s")
    return [s for r in answered for conn in (r.get("data") or {}).get("connections") or []
            for s in conn.get("subscriptions_list") or []]


async def check_responders(client: Any, subjects: list[tuple[str, str]], timeout: float) -> list[SubjectCheck]:
    """The responder check used by `probe` and the serving gate, for (service, subject) pairs.

    A subject is `ok` when at least one subscription in the account matches it (a wildcard
    subject is made concrete first), `missing` when none does, and `no_reply` for every
    subject when the servers could not be asked. Sends nothing to any service subject.
    """
    try:
        subscribed = await account_subscriptions(client, timeout)
    except RespondersUnknown as exc:
        return [SubjectCheck(svc, subj, concrete(subj), "no_reply", str(exc)) for svc, subj in subjects]
    return match_responders(subscribed, subjects)


def match_responders(subscribed: list[str], subjects: list[tuple[str, str]]) -> list[SubjectCheck]:
    """`ok` or `missing` for each (service, subject), from the account's subscription subjects."""
    checks = []
    for service, subject in subjects:
        probed = concrete(subject)
        count = sum(1 for pattern in subscribed if subject_matches(pattern, probed))
        checks.append(SubjectCheck(service, subject, probed, "ok", f"{count} subscription(s)") if count
                      else SubjectCheck(service, subject, probed, "missing", "no responders"))
    return checks


async def _check_subject(client: Any, service: str, subject: str, timeout: float) -> SubjectCheck:
    """One subject's responder check (see `check_responders`)."""
    return (await check_responders(client, [(service, subject)], timeout))[0]


async def _collect_info(client: Any, expected: int, rtt: float, deadline: float,
                        subject: str = "$SRV.INFO") -> list[dict[str, Any]]:
    """$SRV.INFO (or another `$SRV` verb's) replies: stop once `expected` answered and one more round trip
    brought nothing new, after a quiet spell, or at the deadline."""
    loop = asyncio.get_running_loop()
    replies: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def on_reply(msg: Any) -> None:
        try:
            replies.append(json.loads(msg.data))
        except ValueError:
            return
        arrived.set()

    inbox = client.new_inbox()
    sub = await client.subscribe(inbox, cb=on_reply)
    await client.publish(subject, b"", reply=inbox)
    try:  # bounded by the round's deadline: a server that stopped answering must not hold the round
        await client.flush(timeout=max(deadline - loop.time(), 0.001))
    except asyncio.TimeoutError:  # nats' FlushTimeoutError is one: nothing answered, no replies
        await sub.unsubscribe()
        return replies
    grace = 2 * rtt
    quiet = max(20 * rtt, 0.05)
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            wait = min(remaining, grace if len(replies) >= expected else quiet)
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), wait)
            except asyncio.TimeoutError:
                break
    finally:
        await sub.unsubscribe()
    return replies


async def probe(fleet: Fleet, auth: ProbeAuth | None = None, tls: ProbeTls | None = None, *,
                timeout: float = 5.0, request_timeout: float = 1.0) -> ProbeReport:
    from fleetctl.controller.sdkcontract import redact_url

    urls = list(fleet.spec.nats.urls)
    report = ProbeReport(redact_url(urls[0]))
    started = time.perf_counter()
    try:
        client = await connect(urls, ProbeAuth.for_fleet(fleet, auth), tls or ProbeTls.for_fleet(fleet), timeout)
    except ProbeConnectError as exc:
        report.error = exc
        return report
    report.connect_ms = (time.perf_counter() - started) * 1000
    try:
        info = client._server_info
        report.server = {k: info.get(k) for k in ("server_name", "version", "cluster", "jetstream", "go", "max_payload")
                         if info.get(k) is not None}
        rtt = await client.rtt()
        report.rtt_ms = round(rtt * 1000, 3)

        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        expected_instances = sum(s.desired_count for s in fleet.spec.services)
        declared_subjects = [(s.name, sub.subject) for s in fleet.spec.services for sub in s.subjects]
        results = await gather(
            _collect_info(client, expected_instances, rtt, loop.time() + request_timeout),
            _jetstream(client, request_timeout),
            check_responders(client, declared_subjects, request_timeout),
        )
        report.elapsed_ms = (time.perf_counter() - began) * 1000
        infos, report.jetstream = results[0], results[1]
        subject_checks: list[SubjectCheck] = list(results[2])
    finally:
        await asyncio.wait({asyncio.ensure_future(client.close())}, timeout=2.0)

    declared = {s.name: s for s in fleet.spec.services}
    for spec in fleet.spec.services:
        mine = [i for i in infos if i.get("name") == spec.name]
        versions = sorted({str((i.get("metadata") or {}).get("service_version") or i.get("version", "")) for i in mine})
        report.services.append(ServiceProbe(spec.name, spec.desired_count, len(mine), versions,
                                            expected_version(spec.image),
                                            [c for c in subject_checks if c.service == spec.name]))
    for i in infos:
        name = str(i.get("name", ""))
        subjects = [str(e.get("subject", "")) for e in i.get("endpoints") or []]
        spec = declared.get(name)
        undeclared = subjects if spec is None else [
            s for s in subjects if not any(subject_matches(d.subject, s) or d.subject == s for d in spec.subjects)]
        if undeclared:
            report.orphans.append(Orphan(name, str(i.get("id", "")),
                                         str((i.get("metadata") or {}).get("service_version") or i.get("version", "")),
                                         undeclared))
    return report


async def _jetstream(client: Any, timeout: float) -> dict[str, Any]:
    if not client._server_info.get("jetstream"):
        return {"enabled": False}
    try:
        info = await client.jetstream(timeout=timeout).account_info()
    except Exception as exc:  # JetStream reports its own errors; the probe only relays them
        return {"enabled": True, "ok": False, "error": str(exc) or type(exc).__name__}
    return {"enabled": True, "ok": True, "streams": info.streams, "consumers": info.consumers,
            "memory": info.memory, "storage": info.storage}


async def fleet_round(client: Any, services: list[tuple[str, int, tuple[str, ...]]], rtt: float,
                      request_timeout: float) -> tuple[list[dict[str, Any]], dict[str, list[str]], str | None]:
    """One batched NATS round for many services at once (the rollout gate's poll): one `$SRV.INFO`
    broadcast and one subscription query for the account (`account_subscriptions`), in parallel.

    Returns the `$SRV.INFO` replies, per service its declared subjects without a responder, and
    why the servers could not be asked for their subscriptions (None when they answered): then
    nothing is known about responders, which is not the same as having none."""
    loop = asyncio.get_running_loop()
    expected = sum(desired for _name, desired, _subjects in services)
    declared = [(name, subject) for name, _desired, subjects in services for subject in subjects]

    async def subscriptions() -> tuple[list[str] | None, str | None]:
        try:
            return await account_subscriptions(client, request_timeout), None
        except RespondersUnknown as exc:
            return None, str(exc)

    infos, (subscribed, unknown) = await gather(_collect_info(client, expected, rtt, loop.time() + request_timeout),
                                                subscriptions())
    missing: dict[str, list[str]] = {}
    for check in match_responders(subscribed or [], declared) if subscribed is not None else []:
        if check.status == "missing":
            missing.setdefault(check.service, []).append(check.subject)
    return infos, missing, unknown
