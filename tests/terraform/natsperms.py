"""The NATS permissions the fleet needs, derived from the manifest and the services' use of NATS.

The accounts block itself is rendered by controller/natsperms.py (for terraform's template and
the sandbox); the expectations here are derived independently, from the manifest alone.
Permissions of a service user split in two parts, checked separately:

- service subjects: the manifest's `subjects` (subscribe: its own; publish: those of the
  services it `dependsOn`; the gateway publishes to all of them, the fleetctl user to none);
- infrastructure subjects: its own replies (`_INBOX.<service>.>`), `nats.micro` discovery
  (`$SRV...`) and the JetStream API and data subjects of exactly the KV buckets and streams
  the service owns (JETSTREAM, which tests compare with the services' code).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from fleetctl.controller.natsperms import (  # noqa: F401  (re-exported for the tests)
    GATEWAY,
    JETSTREAM,
    MICRO_VERBS,
    PROBE_PUBLISH,
    PROBE_USER,
    RESPONDERS_SUBJECT,
    JetStreamUse,
    inbox_prefix,
)
from tests.terraform import tfconfig

TEMPLATES = tfconfig.TF_DIR / "templates"
CONF_TEMPLATE = TEMPLATES / "nats-server.conf.tftpl"
NODE_TEMPLATE = TEMPLATES / "nats-node.sh.tftpl"

INBOX = "_INBOX.>"
"""Every client's replies: no user may subscribe to it."""

SAMPLE_VALUES = {
    "server_name": "nats-0",
    "client_port": "4222",
    "cluster_port": "6222",
    "monitor_port": "8222",
    "cluster_name": "gaming-system-nats",
    "routes": json.dumps([f"nats-route://10.40.16.{20 + i}:6222" for i in range(5)]),
    "store_dir": "/var/lib/nats/jetstream",
    "tls_dir": "/etc/nats/tls",
    "max_memory_store": "2G",
    "max_file_store": "80G",
}


def own_inbox(user: str) -> str:
    return f"_INBOX.{user}.>"


def micro_subjects(name: str) -> set[str]:
    """What nats.micro subscribes for service `name`: $SRV.<verb>, .<name> and .<name>.<id>."""
    return {f"$SRV.{verb}{tail}" for verb in MICRO_VERBS for tail in ("", f".{name}", f".{name}.*")}


def jetstream_publish(use: JetStreamUse) -> set[str]:
    """The subjects nats-py publishes to for the buckets and streams of one service.

    Bucket B is stream KV_B on $KV.B.>: bind (STREAM.INFO), create when missing
    (STREAM.CREATE), get (STREAM.MSG.GET: buckets are created without direct get),
    put/create/update/delete (a publish on $KV.B.<key>). keys() adds an ordered push
    consumer: CONSUMER.CREATE (unnamed), CONSUMER.INFO and flow-control replies on $JS.FC.
    A stream S used by publish and get_msg needs the same STREAM subjects and its own
    subject filter.
    """
    subjects: set[str] = {"$JS.API.INFO"} if use.buckets or use.streams else set()  # the SDK health heartbeat
    for bucket in use.buckets:
        stream = f"KV_{bucket}"
        subjects |= {
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.CREATE.{stream}",
            f"$JS.API.STREAM.MSG.GET.{stream}",
            f"$KV.{bucket}.>",
        }
        if use.lists_keys:
            subjects |= {
                f"$JS.API.CONSUMER.CREATE.{stream}",
                f"$JS.API.CONSUMER.INFO.{stream}.*",
                f"$JS.FC.{stream}.>",
            }
    for stream, filter_subject in use.streams.items():
        subjects |= {
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.CREATE.{stream}",
            f"$JS.API.STREAM.MSG.GET.{stream}",
            filter_subject,
        }
    return subjects


@dataclass(frozen=True)
class Expected:
    """Allowed subjects of one user, split into service and infrastructure subjects."""

    publish_service: frozenset[str]
    publish_infra: frozenset[str]
    subscribe_service: frozenset[str]
    subscribe_infra: frozenset[str]
    allow_responses: bool


def manifest_subjects(manifest: dict) -> dict[str, list[str]]:
    return {s["name"]: [x["subject"] if isinstance(x, dict) else x for x in s.get("subjects", [])]
            for s in manifest["spec"]["services"]}


def expected_permissions(manifest: dict) -> dict[str, Expected]:
    """Per NATS user, what it must be allowed, from the manifest and JETSTREAM alone."""
    services = manifest["spec"]["services"]
    subjects = manifest_subjects(manifest)
    every_subject = frozenset(subj for subs in subjects.values() for subj in subs)
    expected = {}
    for svc in services:
        name = svc["name"]
        if name == GATEWAY:
            publish = every_subject
        else:
            publish = frozenset(subj for dep in svc.get("dependsOn", []) for subj in subjects[dep])
        expected[name] = Expected(
            publish_service=publish,
            publish_infra=frozenset(jetstream_publish(JETSTREAM.get(name, JetStreamUse()))),
            subscribe_service=frozenset(subjects[name]),
            subscribe_infra=frozenset({own_inbox(name)} | micro_subjects(name)),
            allow_responses=True,
        )
    expected[PROBE_USER] = Expected(
        publish_service=frozenset(),  # checks responders through the servers, never by a request
        publish_infra=frozenset({"$SRV.>", "$SYS.REQ.ACCOUNT.PING.CONNZ", "$JS.API.INFO"}),
        subscribe_service=frozenset(),
        subscribe_infra=frozenset({own_inbox(PROBE_USER)}),
        allow_responses=False,
    )
    return expected


def subject_matches(subject: str, pattern: str) -> bool:
    """NATS subject matching: `*` is one token, a final `>` one or more."""
    tokens, wanted = subject.split("."), pattern.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or (token != "*" and token != tokens[i]):
            return False
    return len(tokens) == len(wanted)


def rendered_config() -> str:
    return tfconfig.render_template(CONF_TEMPLATE.read_text(), SAMPLE_VALUES)


def accounts_block(rendered: str) -> str:
    """The top-level `accounts { ... }` block of a rendered config, exactly as rendered."""
    marker = "\naccounts {"
    start = rendered.index(marker) + 1
    assert rendered.count(marker) == 1, "expected exactly one top-level accounts block"
    block = tfconfig.balanced_block(rendered, start)
    end = rendered.index(block, start) + len(block)
    return rendered[start:end]
