"""The NATS server config template: structure, rendering, and account permissions vs the manifest and the code."""
from __future__ import annotations

import ast
import re

import pytest
import yaml
from nats.micro.service import ServiceVerb, control_subject

from tests.terraform import natsconf, natsperms, tfconfig
from tests.terraform.natsperms import CONF_TEMPLATE, INBOX, NODE_TEMPLATE, PROBE_USER, SAMPLE_VALUES

SERVICES_DIR = tfconfig.REPO / "services"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(tfconfig.MANIFEST.read_text())


@pytest.fixture(scope="module")
def conf() -> dict:
    return natsconf.loads(natsperms.rendered_config())


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


def test_one_user_per_manifest_service_and_the_probe_user(users, manifest):
    services = {s["name"] for s in manifest["spec"]["services"]}
    assert set(users) == services | {PROBE_USER}
    fleet_services = set(tfconfig.string_list_literal(tfconfig.load().locals["fleet_services"]))
    assert services == fleet_services
    assert PROBE_USER not in fleet_services


def test_passwords_come_from_the_environment(users):
    for name, user in users.items():
        assert user["password"] == natsconf.Var(f"NATS_PASSWORD_{name.upper()}")
    node = NODE_TEMPLATE.read_text()
    # The bootstrap writes exactly those variable names: one per key of the services'
    # credentials secret, and the probe user's from its own secret.
    assert '"NATS_PASSWORD_\\(.key | ascii_upcase)=\\(.value)"' in node
    assert 'fleetctl_password="$(get_secret "$FLEETCTL_SECRET")"' in node
    assert 'echo "NATS_PASSWORD_FLEETCTL=$fleetctl_password" >> /etc/nats/auth.env' in node
    assert 'FLEETCTL_SECRET="${fleetctl_secret_arn}"' in node


def test_generated_passwords_are_letters_only():
    # nats-server parses an environment variable it substitutes as a configuration value:
    # a password such as "1e5..." or "12345" is read as a number and the server refuses
    # the configuration. Letters only keep every password a string.
    text = "\n".join(p.read_text() for p in tfconfig.tf_files())
    for name in ("nats", "nats_fleetctl"):
        block = tfconfig.balanced_block(text, text.index(f'ephemeral "random_password" "{name}"'))
        settings = dict(re.findall(r"^\s*(\w+)\s*=\s*(\S+)\s*$", block, re.M))
        assert settings["special"] == "false" and settings["numeric"] == "false", name
        assert int(settings["length"]) >= 40, name
    version = tfconfig.load().resources["aws_secretsmanager_secret_version"]["nats_fleetctl"]
    assert version["secret_string_wo_version"] == "${var.nats_credentials_version}"


@pytest.fixture(scope="module")
def every_subject(manifest) -> set[str]:
    return {subj for subs in natsperms.manifest_subjects(manifest).values() for subj in subs}


def allow_list(perms: dict, direction: str) -> list[str]:
    block = perms[direction]
    if set(block) == {"deny"}:
        # Nothing allowed: only `deny: [">"]` (with allow_responses, replies still pass).
        assert block["deny"] == [">"], block
        return []
    assert set(block) == {"allow"}, f"{direction} must be an allow list (or deny everything)"
    # An empty allow list is read by nats-server as no restriction at all.
    assert block["allow"], f"{direction}: an empty allow list would allow everything; deny [\">\"] instead"
    assert len(set(block["allow"])) == len(block["allow"]), f"duplicate {direction} subjects"
    return block["allow"]


@pytest.mark.parametrize("direction", ["publish", "subscribe"])
def test_service_subjects_match_manifest(users, manifest, every_subject, direction):
    """The service-subject part of each user's permissions is exactly what the manifest implies."""
    expected = natsperms.expected_permissions(manifest)
    problems = []
    for name, want in sorted(expected.items()):
        have = set(allow_list(users[name]["permissions"], direction)) & every_subject
        wanted = want.publish_service if direction == "publish" else want.subscribe_service
        missing, extra = wanted - have, have - wanted
        if missing or extra:
            problems.append(f"{name} {direction}: missing {sorted(missing)}, not in manifest {sorted(extra)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("direction", ["publish", "subscribe"])
def test_infrastructure_subjects_are_exactly_what_the_services_use(users, manifest, every_subject, direction):
    """Replies, $SRV discovery and JetStream subjects: exactly the expected ones, per user."""
    expected = natsperms.expected_permissions(manifest)
    problems = []
    for name, want in sorted(expected.items()):
        have = set(allow_list(users[name]["permissions"], direction)) - every_subject
        wanted = want.publish_infra if direction == "publish" else want.subscribe_infra
        missing, extra = wanted - have, have - wanted
        if missing or extra:
            problems.append(f"{name} {direction}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    assert not problems, "\n".join(problems)


def test_replies_only_through_allow_responses(users, manifest):
    expected = natsperms.expected_permissions(manifest)
    for name, want in expected.items():
        perms = users[name]["permissions"]
        assert set(perms) <= {"publish", "subscribe", "allow_responses"}, f"{name}: unexpected keys {set(perms)}"
        assert perms.get("allow_responses", False) is want.allow_responses, name
        # Nobody may publish into other clients' inboxes except as a reply.
        assert INBOX not in allow_list(perms, "publish"), name
        # Replies are isolated: each user reads only its own inbox prefix, nobody `_INBOX.>`.
        inboxes = [s for s in allow_list(perms, "subscribe") if s.startswith("_INBOX")]
        assert inboxes == [f"_INBOX.{name}.>"], (name, inboxes)


def test_no_user_may_touch_other_accounts_or_the_whole_jetstream_api(users):
    for name, user in users.items():
        for direction in ("publish", "subscribe"):
            for subject in allow_list(user["permissions"], direction):
                assert subject not in (">", "$JS.>", "$JS.API.>", "$KV.>", "$SYS.>"), (name, subject)
                # The one system request: the probe user's subscription list of its own account.
                allowed_sys = name == PROBE_USER and direction == "publish" and subject == "$SYS.REQ.ACCOUNT.PING.CONNZ"
                assert allowed_sys or not subject.startswith("$SYS"), (name, subject)
                if subject.startswith(("$JS.API.", "$KV.", "$JS.FC.")):
                    assert ">" not in subject.split(".")[:-1] and "*" not in subject.split(".")[:-1], (name, subject)


def test_micro_discovery_subjects_are_those_nats_py_subscribes(users, manifest):
    # nats.micro subscribes every verb for all services, by name, and by name and instance id.
    service_id = "kEZ2mWcjxVdVsDX9jsPF0q"
    for svc in manifest["spec"]["services"]:
        name = svc["name"]
        allowed = allow_list(users[name]["permissions"], "subscribe")
        for verb in ServiceVerb:
            for subject in (control_subject(verb), control_subject(verb, name=name), control_subject(verb, name=name, id=service_id)):
                assert any(natsperms.subject_matches(subject, p) for p in allowed), (name, subject)
        other = "auth" if name != "auth" else "payment"
        for subject in (control_subject(ServiceVerb.PING, name=other), control_subject(ServiceVerb.INFO, name=other, id=service_id)):
            assert not any(natsperms.subject_matches(subject, p) for p in allowed), (name, subject)


def test_probe_user_discovers_and_checks_responders_but_invokes_nothing(users, every_subject):
    perms = users[PROBE_USER]["permissions"]
    publish = allow_list(perms, "publish")
    assert set(publish) == {"$SRV.>", "$SYS.REQ.ACCOUNT.PING.CONNZ", "$JS.API.INFO"}
    assert not any(natsperms.subject_matches(s, p) for s in every_subject for p in publish)
    assert allow_list(perms, "subscribe") == ["_INBOX.fleetctl.>"]
    assert "allow_responses" not in perms


def test_subject_matching_helper():
    assert natsperms.subject_matches("$SRV.PING.auth.abc", "$SRV.PING.auth.*")
    assert not natsperms.subject_matches("$SRV.PING.auth", "$SRV.PING.auth.*")
    assert natsperms.subject_matches("$KV.state.a.b", "$KV.state.>")
    assert not natsperms.subject_matches("$KV.state", "$KV.state.>")
    assert not natsperms.subject_matches("$KV.stateX.a", "$KV.state.>")
    assert natsperms.subject_matches("auth.verify", "auth.verify")


def test_expected_permissions_helper(manifest):
    expected = natsperms.expected_permissions(manifest)
    assert expected["auth"].publish_service == set()
    assert expected["auth"].publish_infra == set()
    assert expected["auth"].subscribe_service == {"auth.issue", "auth.verify"}
    assert "$SRV.PING.auth.*" in expected["auth"].subscribe_infra and "_INBOX.auth.>" in expected["auth"].subscribe_infra
    assert INBOX not in expected["auth"].subscribe_infra
    assert "payment.charge" in expected["gateway"].publish_service
    assert expected["payment"].publish_service == {"auth.issue", "auth.verify"}
    assert "$JS.API.CONSUMER.CREATE.KV_ledger" in expected["payment"].publish_infra
    assert "$JS.API.STREAM.MSG.GET.KV_settings" in expected["settings"].publish_infra
    assert not any(s.startswith("$JS.API.CONSUMER") for s in expected["settings"].publish_infra)
    assert "events.>" in expected["event_bus"].publish_infra
    assert expected[PROBE_USER].publish_service == set()
    assert "$SRV.>" in expected[PROBE_USER].publish_infra


def test_template_accounts_block_is_generated_from_the_manifest(manifest):
    """terraform's template carries exactly what controller/natsperms.py renders for prod.yaml
    (regenerate with `python -m fleetctl.controller.natsperms manifests/prod.yaml --write-template`),
    and the sandbox runs the same block rendered from local.yaml: the fleets must agree."""
    from fleetctl.controller import natsperms as model

    template = CONF_TEMPLATE.read_text()
    assert model.accounts_in(template) == model.render_accounts(manifest)
    local = yaml.safe_load((tfconfig.REPO / "manifests" / "local.yaml").read_text())
    assert model.render_accounts(local) == model.render_accounts(manifest)


def test_accounts_block_is_cut_exactly_from_the_rendered_config():
    rendered = natsperms.rendered_config()
    block = natsperms.accounts_block(rendered)
    assert block.startswith("accounts {") and block.endswith("}")
    assert block in rendered
    parsed = natsconf.loads(block)
    assert set(parsed) == {"accounts"}
    assert parsed["accounts"] == natsconf.loads(rendered)["accounts"]


# --- the services' code vs the declared NATS use ----------------------------------------------


def service_sources(name: str) -> str:
    return "\n".join(p.read_text() for p in sorted((SERVICES_DIR / name).glob("*.py")))


def test_jetstream_declaration_matches_the_services_code(manifest):
    bucket_call = re.compile(r"\.bucket\(\s*\"([^\"]+)\"")
    lists_keys = re.compile(r"await\s+self\.\w+\.keys\(\)")
    found = {}
    for svc in manifest["spec"]["services"]:
        name = svc["name"]
        source = service_sources(name)
        assert len(re.findall(r"\.bucket\(", source)) == len(bucket_call.findall(source)), f"{name}: bucket name not a literal"
        streams = {}
        if "rt.js." in source:
            constants = {
                t.id: node.value.value
                for node in ast.parse(source).body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                for t in node.targets if isinstance(t, ast.Name)
            }
            assert 'subjects=[f"{PREFIX}.>"]' in source, f"{name}: stream subjects not as expected"
            streams = {constants["STREAM"]: f"{constants['PREFIX']}.>"}
        use = natsperms.JetStreamUse(
            buckets=tuple(sorted(set(bucket_call.findall(source)))),
            lists_keys=bool(lists_keys.search(source)),
            streams=streams,
        )
        if use != natsperms.JetStreamUse():
            found[name] = use
    assert found == natsperms.JETSTREAM


def test_buckets_are_created_without_direct_get():
    # Bucket gets go through $JS.API.STREAM.MSG.GET.KV_<bucket> because sdk/store.py creates
    # buckets without allow_direct; with direct get they would need $JS.API.DIRECT.GET.KV_<bucket>.
    tree = ast.parse((tfconfig.REPO / "sdk" / "store.py").read_text())
    configs = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "KeyValueConfig"]
    assert configs, "sdk/store.py no longer creates buckets with KeyValueConfig"
    for call in configs:
        assert "direct" not in {kw.arg for kw in call.keywords}


def test_service_calls_stay_within_depends_on(manifest):
    subjects = natsperms.manifest_subjects(manifest)
    owner = {subj: name for name, subs in subjects.items() for subj in subs}
    literal_call = re.compile(r"rt\.call\(\s*\"([^\"]+)\"")
    problems = []
    for svc in manifest["spec"]["services"]:
        name = svc["name"]
        if name == natsperms.GATEWAY:
            continue  # forwards HTTP to any service subject: publishes to all of them
        source = service_sources(name)
        calls = literal_call.findall(source)
        assert len(re.findall(r"rt\.call\(", source)) == len(calls), f"{name}: a call whose subject is not a literal"
        for subject in calls:
            target = owner.get(subject)
            if target is None:
                problems.append(f"{name} calls {subject}, which no service of the manifest serves")
            elif target not in svc.get("dependsOn", []):
                problems.append(f"{name} calls {subject} but does not dependsOn {target}")
    assert not problems, "\n".join(problems)
