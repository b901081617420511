"""The fleet's NATS permission model, rendered as nats-server's `accounts` block.

One source for both servers that run the fleet: terraform's config template
(terraform/templates/nats-server.conf.tftpl, rendered from manifests/prod.yaml) and the
sandbox's nats-server (rendered from manifests/local.yaml) carry the text this module writes.
Regenerate the template's block, in the checkout's root, with

    python -m fleetctl.controller.natsperms manifests/prod.yaml --write-template

In the account FLEET every service is a user named after it (password from the environment
variable NATS_PASSWORD_<USER>) that may
  - subscribe to its own subjects, to its own replies on _INBOX.<service>.> (its inbox
    prefix; nobody else's), and to the nats.micro discovery subjects $SRV.<verb>[.<service>[.<id>]];
  - publish to the subjects of the services it `dependsOn` (the gateway: to every service
    subject) and to the JetStream API and data subjects of exactly its own buckets/streams;
  - answer requests it received (allow_responses), and nothing else on _INBOX.
The fleetctl user (`fleetctl probe`, the serving gate) discovers services ($SRV.>), asks the
servers which subscriptions exist in its own account ($SYS.REQ.ACCOUNT.PING.CONNZ, answered
by nats-server itself) and reads JetStream account info; it cannot publish to any service
subject, so it can check that subjects have responders without invoking a handler.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "FLEET"
GATEWAY = "gateway"
PROBE_USER = "fleetctl"
INBOX_ROOT = "_INBOX"
MICRO_VERBS = ("PING", "INFO", "STATS")
RESPONDERS_SUBJECT = "$SYS.REQ.ACCOUNT.PING.CONNZ"
"""Every server answers with the connections of the requester's account and their subscriptions."""
JS_INFO = "$JS.API.INFO"
"""JetStream account info: the probe reads it, and a service using JetStream asks it in its health heartbeat."""
PROBE_PUBLISH = ("$SRV.>", RESPONDERS_SUBJECT, JS_INFO)

TEMPLATE = Path("terraform") / "templates" / "nats-server.conf.tftpl"
"""terraform's config template, relative to the fleet checkout `--write-template` runs in."""


def inbox_prefix(user: str) -> str:
    """The reply-subject prefix of `user` (nats-py `inbox_prefix`): `_INBOX.<user>`."""
    return f"{INBOX_ROOT}.{user}"


def password_variable(user: str) -> str:
    return f"NATS_PASSWORD_{user.upper()}"


@dataclass(frozen=True)
class JetStreamUse:
    """The KV buckets and streams one service owns (sdk/store.py, services/<name>/)."""

    buckets: tuple[str, ...] = ()
    lists_keys: bool = False
    """Calls Bucket.keys(), which watches the bucket through an ordered push consumer."""
    streams: dict[str, str] = field(default_factory=dict)
    """Stream name -> the subject filter the service publishes on."""


JETSTREAM: dict[str, JetStreamUse] = {
    "ai_router": JetStreamUse(buckets=("ai_rules",)),
    "body_broker": JetStreamUse(buckets=("allocations",), lists_keys=True),
    "capability_registry": JetStreamUse(buckets=("capabilities",), lists_keys=True),
    "event_bus": JetStreamUse(streams={"EVENTS": "events.>"}),
    "knowledge_base": JetStreamUse(buckets=("knowledge",), lists_keys=True),
    "model_mgmt": JetStreamUse(buckets=("models",), lists_keys=True),
    "payment": JetStreamUse(buckets=("ledger",), lists_keys=True),
    "settings": JetStreamUse(buckets=("settings",)),
    "state_manager": JetStreamUse(buckets=("state",)),
    "time_manager": JetStreamUse(buckets=("clock",)),
    "world_state": JetStreamUse(buckets=("world",)),
}


def micro_subjects(name: str) -> list[str]:
    """What nats.micro subscribes for service `name`: $SRV.<verb>, .<name> and .<name>.<id>."""
    return [f"$SRV.{verb}{tail}" for verb in MICRO_VERBS for tail in ("", f".{name}", f".{name}.*")]


def jetstream_lines(use: JetStreamUse) -> list[tuple[str, list[str]]]:
    """(comment, subjects) groups nats-py publishes to for the buckets and streams of one service.

    Bucket B is stream KV_B on $KV.B.>: bind (STREAM.INFO), create when missing
    (STREAM.CREATE), get (STREAM.MSG.GET: buckets are created without direct get),
    put/create/update/delete (a publish on $KV.B.<key>). keys() adds an ordered push
    consumer: CONSUMER.CREATE (unnamed), CONSUMER.INFO and flow-control replies on $JS.FC.
    """
    groups: list[tuple[str, list[str]]] = []
    if use.buckets or use.streams:
        groups.append(("JetStream account info: the SDK's health heartbeat checks JetStream answers", [JS_INFO]))
    for bucket in use.buckets:
        stream = f"KV_{bucket}"
        what = "bind/create, get, put/create/update/delete" + (", keys() via an ordered consumer" if use.lists_keys else "")
        subjects = [f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.CREATE.{stream}",
                    f"$JS.API.STREAM.MSG.GET.{stream}", f"$KV.{bucket}.>"]  # fmt: skip
        groups.append((f"JetStream KV bucket {bucket} (stream {stream}): {what}", subjects))
        if use.lists_keys:
            groups.append(("", [f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.API.CONSUMER.INFO.{stream}.*",
                                f"$JS.FC.{stream}.>"]))  # fmt: skip
    for stream, filter_subject in use.streams.items():
        subjects = [f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.CREATE.{stream}",
                    f"$JS.API.STREAM.MSG.GET.{stream}", filter_subject]  # fmt: skip
        groups.append((f"JetStream stream {stream} on {filter_subject}: bind/create, publish, get by sequence", subjects))
    return groups


@dataclass(frozen=True)
class ServiceUse:
    """What the manifest says about one service's NATS use."""

    name: str
    subjects: tuple[str, ...]
    depends_on: tuple[str, ...]


def services_of(manifest: dict[str, Any]) -> list[ServiceUse]:
    """The services of a manifest document (plain YAML; `${...}` references are irrelevant here)."""
    out = []
    for svc in manifest["spec"]["services"]:
        subjects = tuple(s["subject"] if isinstance(s, dict) else str(s) for s in svc.get("subjects") or [])
        out.append(ServiceUse(str(svc["name"]), subjects, tuple(svc.get("dependsOn") or [])))
    return out


def users_of(manifest: dict[str, Any]) -> list[str]:
    """Every NATS user the accounts block declares: one per service, then the fleetctl user."""
    return [s.name for s in services_of(manifest)] + [PROBE_USER]


def _quoted(subjects: list[str]) -> str:
    return ", ".join(f'"{s}"' for s in subjects)


def _user_block(lines: list[str], user: str, comment: str, publish: list[tuple[str, list[str]]] | None,
                subscribe: list[tuple[str, list[str]]], allow_responses: bool, one_per_line: bool = False) -> None:
    ind = " " * 6
    lines += [f"{ind}{{", f'{ind}  user: "{user}"', f"{ind}  password: ${password_variable(user)}",
              f"{ind}  # {comment}", f"{ind}  permissions: {{"]  # fmt: skip

    def allow(direction: str, groups: list[tuple[str, list[str]]]) -> None:
        lines.append(f"{ind}    {direction}: {{ allow: [")
        for note, subjects in groups:
            if note:
                lines.append(f"{ind}      # {note}")
            if one_per_line and not note.startswith(("nats.micro", "JetStream")):
                lines.extend(f'{ind}      "{s}"' for s in subjects)
            elif subjects:
                lines.append(f"{ind}      {_quoted(subjects)}")
        lines.append(f"{ind}    ] }}")

    if publish is None:
        lines.append(f"{ind}    # Publishes nothing but replies (allow_responses); an empty allow list would allow everything.")
        lines.append(f'{ind}    publish: {{ deny: [">"] }}')
    else:
        allow("publish", publish)
    allow("subscribe", subscribe)
    if allow_responses:
        lines.append(f"{ind}    allow_responses: true")
    lines += [f"{ind}  }}", f"{ind}}}"]


def render_accounts(manifest: dict[str, Any]) -> str:
    """The `accounts { ... }` block of nats-server's configuration for the fleet of `manifest`."""
    services = services_of(manifest)
    by_name = {s.name: s for s in services}
    every_subject = [subj for s in services for subj in s.subjects]
    lines = ["accounts {", f"  {ACCOUNT} {{", "    jetstream: enabled", "", "    users: ["]
    for svc in sorted(services, key=lambda s: s.name):
        subscribe = [("", [*svc.subjects, f"{inbox_prefix(svc.name)}.>"]), ("nats.micro discovery", micro_subjects(svc.name))]
        if svc.name == GATEWAY:
            publish: list[tuple[str, list[str]]] | None = [("service subjects", every_subject)]
            _user_block(lines, svc.name, "HTTP -> NATS gateway: may request every service subject.", publish,
                        subscribe, True, one_per_line=True)  # fmt: skip
            continue
        dep_subjects = [subj for dep in svc.depends_on if dep in by_name for subj in by_name[dep].subjects]
        publish = ([("", dep_subjects)] if dep_subjects else []) + jetstream_lines(JETSTREAM.get(svc.name, JetStreamUse()))
        comment = f"dependsOn: {', '.join(svc.depends_on) or '-'}"
        _user_block(lines, svc.name, comment, publish or None, subscribe, True)
    _user_block(
        lines, PROBE_USER,
        "Operations (fleetctl probe, the serving gate): $SRV discovery, the servers' own list of this "
        "account's subscriptions (responder checks) and JetStream account info; no service subject.",
        [("", list(PROBE_PUBLISH))], [("", [f"{inbox_prefix(PROBE_USER)}.>"])], False,
    )  # fmt: skip
    lines += ["    ]", "  }", "}"]
    return "\n".join(lines)


_BLOCK_START = re.compile(r"^accounts \{$", re.M)


def replace_accounts(config_text: str, block: str) -> str:
    """`config_text` with its top-level `accounts { ... }` block (up to the closing `}` at
    column 0) replaced by `block`."""
    match = _BLOCK_START.search(config_text)
    if match is None:
        raise ValueError("no top-level `accounts {` block")
    end = config_text.index("\n}", match.start()) + 2
    return config_text[: match.start()] + block + config_text[end:]


def accounts_in(config_text: str) -> str:
    """The top-level accounts block of a configuration, exactly as written."""
    match = _BLOCK_START.search(config_text)
    if match is None:
        raise ValueError("no top-level `accounts {` block")
    return config_text[match.start() : config_text.index("\n}", match.start()) + 2]


def load_manifest_doc(path: Path) -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m fleetctl.controller.natsperms MANIFEST [--write-template]", file=sys.stderr)
        return 2
    block = render_accounts(load_manifest_doc(Path(argv[0])))
    if "--write-template" in argv[1:]:
        if not TEMPLATE.is_file():
            print(f"error: {TEMPLATE} not found: run in the fleet checkout's root", file=sys.stderr)
            return 2
        TEMPLATE.write_text(replace_accounts(TEMPLATE.read_text(), block))
    else:
        print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
