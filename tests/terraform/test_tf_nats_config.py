"""The NATS server config template: structure, rendering, and account permissions vs the manifest."""
from __future__ import annotations

import json

import pytest
import yaml

from tests.terraform import natsconf, tfconfig

TEMPLATES = tfconfig.TF_DIR / "templates"
CONF_TEMPLATE = TEMPLATES / "nats-server.conf.tftpl"
NODE_TEMPLATE = TEMPLATES / "nats-node.sh.tftpl"
INBOX = "_INBOX.>"

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


def expected_permissions(manifest: dict) -> dict[str, tuple[set[str], set[str]]]:
    """(publish, subscribe) allow sets per service, derived from the manifest alone."""
    services = manifest["spec"]["services"]
    subjects = {s["name"]: list(s.get("subjects", [])) for s in services}
    every_subject = {subj for subs in subjects.values() for subj in subs}
    expected = {}
    for svc in services:
        name = svc["name"]
        if name == "gateway":
            publish = every_subject | {INBOX}
            subscribe = {INBOX}
        else:
            publish = {subj for dep in svc.get("dependsOn", []) for subj in subjects[dep]} | {INBOX}
            subscribe = set(subjects[name]) | {INBOX}
        expected[name] = (publish, subscribe)
    return expected


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(tfconfig.MANIFEST.read_text())


@pytest.fixture(scope="module")
def conf() -> dict:
    return natsconf.loads(tfconfig.render_template(CONF_TEMPLATE.read_text(), SAMPLE_VALUES))


@pytest.fixture(scope="module")
def users(conf) -> dict[str, dict]:
    users = conf["accounts"]["FLEET"]["users"]
    by_name = {u["user"]: u for u in users}
    assert len(by_name) == len(users), "duplicate NATS users"
    return by_name


def test_parser_reads_the_nats_syntax():
    text = """
    # comment
    listen: "0.0.0.0:4222"   // trailing comment
    max_payload = 1MB
    cluster { routes: ["nats-route://a:6222", "nats-route://b:6222"] }
    accounts { A { users: [ {user: "x", password: $PW_X} ] } }
    jetstream: enabled
    """
    doc = natsconf.loads(text)
    assert doc["listen"] == "0.0.0.0:4222"
    assert doc["max_payload"] == 1024 * 1024
    assert doc["cluster"]["routes"] == ["nats-route://a:6222", "nats-route://b:6222"]
    assert doc["accounts"]["A"]["users"][0]["password"] == natsconf.Var("PW_X")
    assert doc["jetstream"] is True
    with pytest.raises(ValueError):
        natsconf.loads("a { b: 1")


def test_template_placeholders_match_terraform_call():
    nats_tf = (tfconfig.TF_DIR / "nats.tf").read_text()
    placeholders = tfconfig.template_placeholders(CONF_TEMPLATE.read_text())
    assert placeholders == set(SAMPLE_VALUES)
    assert tfconfig.templatefile_keys(nats_tf, "nats-server.conf.tftpl") == placeholders
    node_placeholders = tfconfig.template_placeholders(NODE_TEMPLATE.read_text())
    assert tfconfig.templatefile_keys(nats_tf, "nats-node.sh.tftpl") == node_placeholders


def test_rendered_config_structure(conf):
    assert conf["server_name"] == "nats-0"
    assert conf["listen"] == "0.0.0.0:4222"
    assert conf["http"] == "0.0.0.0:8222"
    assert conf["jetstream"]["store_dir"] == "/var/lib/nats/jetstream"
    assert conf["jetstream"]["max_file_store"] == 80 * 1024**3
    assert len(conf["cluster"]["routes"]) == 5
    assert conf["cluster"]["listen"].endswith(":6222")
    assert conf["cluster"]["tls"]["verify"] is True
    for block in (conf["tls"], conf["cluster"]["tls"]):
        assert {"cert_file", "key_file", "ca_file"} <= set(block)
    assert conf["accounts"]["FLEET"]["jetstream"] is True


def test_one_user_per_manifest_service(users, manifest):
    assert set(users) == {s["name"] for s in manifest["spec"]["services"]}
    fleet_services = set(tfconfig.string_list_literal(tfconfig.load().locals["fleet_services"]))
    assert set(users) == fleet_services


def test_passwords_come_from_the_environment(users):
    for name, user in users.items():
        assert user["password"] == natsconf.Var(f"NATS_PASSWORD_{name.upper()}")
    # The bootstrap writes exactly that variable name from the credentials secret's keys.
    assert '"NATS_PASSWORD_\\(.key | ascii_upcase)=\\(.value)"' in NODE_TEMPLATE.read_text()


@pytest.mark.parametrize("direction", ["publish", "subscribe"])
def test_permissions_match_manifest_subjects(users, manifest, direction):
    expected = expected_permissions(manifest)
    index = 0 if direction == "publish" else 1
    problems = []
    for name, (want) in sorted(expected.items()):
        perms = users[name]["permissions"]
        assert set(perms) <= {"publish", "subscribe"}, f"{name}: unexpected permission keys {set(perms)}"
        block = perms[direction]
        assert set(block) == {"allow"}, f"{name}: {direction} must be an allow list only"
        have = set(block["allow"])
        assert len(have) == len(block["allow"]), f"{name}: duplicate {direction} subjects"
        missing, extra = want[index] - have, have - want[index]
        if missing or extra:
            problems.append(f"{name} {direction}: missing {sorted(missing)}, not in manifest {sorted(extra)}")
    assert not problems, "\n".join(problems)


def test_expected_permissions_helper(manifest):
    expected = expected_permissions(manifest)
    assert expected["auth"] == ({INBOX}, {"auth.issue", "auth.verify", INBOX})
    assert "payment.charge" in expected["gateway"][0]
    assert expected["payment"][0] == {"auth.issue", "auth.verify", INBOX}
