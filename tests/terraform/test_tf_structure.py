"""Static checks of terraform/ against manifests/prod.yaml, without terraform or a cloud."""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import yaml

from tests.terraform import tfconfig
from tests.terraform.tfconfig import MANIFEST, OUTPUTS_FIXTURE, load, resolve_int


@pytest.fixture(scope="module")
def cfg() -> tfconfig.TerraformConfig:
    return load()


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


@pytest.fixture(scope="module")
def manifest_tf_refs() -> set[str]:
    return set(tfconfig.TF_REF.findall(MANIFEST.read_text()))


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", tfconfig.tf_files(), ids=lambda p: p.name)
def test_tf_file_parses(path):
    doc = tfconfig.load_file(path)
    assert doc, f"{path.name} parsed to nothing"


def test_terraform_dir_is_split_by_concern():
    names = {p.name for p in tfconfig.tf_files()}
    assert {"versions.tf", "providers.tf", "variables.tf", "outputs.tf"} <= names


# --- outputs consumed by the manifest ----------------------------------------------------------


def test_manifest_uses_tf_outputs(manifest_tf_refs):
    # Guard against a regex that silently matches nothing.
    assert len(manifest_tf_refs) >= 10


def test_every_manifest_tf_reference_is_a_declared_output(cfg, manifest_tf_refs):
    missing = manifest_tf_refs - set(cfg.outputs)
    assert not missing, f"manifests/prod.yaml uses ${{tf:...}} names with no output: {sorted(missing)}"


def test_every_fixture_output_is_declared(cfg):
    fixture = json.loads(OUTPUTS_FIXTURE.read_text())
    missing = set(fixture) - set(cfg.outputs)
    assert not missing, f"outputs in {OUTPUTS_FIXTURE.name} not declared in terraform/: {sorted(missing)}"


def test_outputs_have_descriptions_and_no_secret_values(cfg):
    secret_sources = re.compile(r"random_password|secret_string|private_key|auth_token|ephemeral\.")
    for name, body in cfg.outputs.items():
        assert body.get("description"), f"output {name} has no description"
        assert not secret_sources.search(str(body["value"])), f"output {name} exposes a secret value"


def test_list_output_for_subnets(cfg):
    # private_subnet_ids is a list in the fixture (tuple of 3 strings): splat, not a string.
    assert cfg.outputs["private_subnet_ids"]["value"] == "${aws_subnet.private[*].id}"


# --- variables and providers ----------------------------------------------------------------


def test_variables_have_description_and_type(cfg):
    for name, body in cfg.variables.items():
        assert body.get("description"), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"


def test_required_providers_are_pinned():
    doc = tfconfig.load_file(tfconfig.TF_DIR / "versions.tf")
    terraform = tfconfig.clean(doc["terraform"][0])
    assert terraform["required_version"]
    providers = terraform["required_providers"]
    if isinstance(providers, list):
        providers = providers[0]
    for name, spec in providers.items():
        assert spec.get("source"), name
        assert re.match(r"^(~>|=|>=)\s*\d", spec.get("version", "")), f"provider {name} is not pinned"


def test_provider_sets_default_tags():
    doc = tfconfig.clean(tfconfig.load_file(tfconfig.TF_DIR / "providers.tf"))
    aws = doc["provider"][0]["aws"]
    assert aws["region"] == "${var.region}"
    assert aws["default_tags"], "aws provider has no default_tags"


def test_region_and_names_match_manifest(cfg, manifest):
    fixture = json.loads(OUTPUTS_FIXTURE.read_text())
    assert cfg.variables["region"]["default"] == manifest["spec"]["target"]["region"]
    project = cfg.variables["project"]["default"]
    # local.ecs_cluster_name = "${local.name}-cluster", local.name = var.project
    assert cfg.locals["name"] == "${var.project}"
    assert cfg.locals["ecs_cluster_name"].replace("${local.name}", project) == fixture["ecs_cluster_name"]["value"]
    assert cfg.locals["log_group_name"].replace("${local.name}", project) == fixture["log_group_name"]["value"]


# --- network -----------------------------------------------------------------------------


def manifest_nats_port(manifest) -> int:
    urls = manifest["spec"]["nats"]["urls"]
    ports = {urlsplit(tfconfig.TF_REF.sub("host.invalid", u)).port for u in urls}
    assert len(ports) == 1 and None not in ports, urls
    return ports.pop()


def rules(cfg, kind: str, sg: str) -> dict[str, dict]:
    rtype = f"aws_vpc_security_group_{kind}_rule"
    return {
        name: body
        for name, body in cfg.resources.get(rtype, {}).items()
        if body["security_group_id"] == f"${{aws_security_group.{sg}.id}}"
    }


def test_nats_client_port_in_security_groups_matches_manifest_url(cfg, manifest):
    port = manifest_nats_port(manifest)
    assert port == 4222
    from_tasks = [
        r for r in rules(cfg, "ingress", "nats").values()
        if r.get("referenced_security_group_id") == "${aws_security_group.tasks.id}"
    ]
    assert from_tasks, "no ingress rule lets the tasks reach the NATS servers"
    for rule in from_tasks:
        assert resolve_int(rule["from_port"], cfg) == port
        assert resolve_int(rule["to_port"], cfg) == port
    # The tasks' egress, the NLB's ingress and listener use the same port.
    egress = [
        r for r in rules(cfg, "egress", "tasks").values()
        if r.get("referenced_security_group_id") in ("${aws_security_group.nats.id}", "${aws_security_group.nats_nlb.id}")
    ]
    assert len(egress) == 2
    for rule in egress + list(rules(cfg, "ingress", "nats_nlb").values()):
        assert resolve_int(rule["from_port"], cfg) == resolve_int(rule["to_port"], cfg) == port
    assert resolve_int(cfg.resource("aws_lb_listener.nats_client")["port"], cfg) == port
    assert resolve_int(cfg.resource("aws_lb_target_group.nats_client")["port"], cfg) == port


def test_nats_cluster_and_monitor_ports(cfg):
    nats_in = rules(cfg, "ingress", "nats")
    by_port = {}
    for name, rule in nats_in.items():
        by_port.setdefault(resolve_int(rule["from_port"], cfg), []).append(rule)
    # Routes: only from the NATS group itself.
    assert [r["referenced_security_group_id"] for r in by_port[6222]] == ["${aws_security_group.nats.id}"]
    # Monitoring: the NATS nodes, the NLB's health checks and the admin CIDRs; never the whole VPC.
    monitor = by_port[8222]
    assert sorted(r.get("referenced_security_group_id", "") for r in monitor if "cidr_ipv4" not in r) == [
        "${aws_security_group.nats.id}", "${aws_security_group.nats_nlb.id}"]
    assert [(r.get("for_each"), r["cidr_ipv4"]) for r in monitor if "cidr_ipv4" in r] == [
        ("${toset(var.nats_monitor_admin_cidrs)}", "${each.value}")]
    assert not any("vpc_cidr" in str(r) for r in monitor)
    assert cfg.variables["nats_monitor_admin_cidrs"]["default"] == []
    assert set(by_port) == {4222, 6222, 8222}


def test_no_rule_opens_everything(cfg):
    for kind in ("ingress", "egress"):
        for name, rule in cfg.resources.get(f"aws_vpc_security_group_{kind}_rule", {}).items():
            assert rule["ip_protocol"] != "-1", f"{kind} rule {name} allows all protocols"
            assert rule.get("description"), f"{kind} rule {name} has no description"
            if kind == "ingress":
                assert rule.get("cidr_ipv4") != "0.0.0.0/0", f"ingress rule {name} is open to the world"


def test_nlb_health_check_uses_monitoring_healthz(cfg):
    tg = cfg.resource("aws_lb_target_group.nats_client")
    hc = tg["health_check"][0] if isinstance(tg["health_check"], list) else tg["health_check"]
    assert hc["path"] == "/healthz"
    assert hc["protocol"] == "HTTP"
    assert resolve_int(hc["port"], cfg) == 8222
    lb = cfg.resource("aws_lb.nats")
    assert lb["internal"] is True and lb["load_balancer_type"] == "network"


def test_private_subnets_in_three_azs(cfg):
    assert len(cfg.variables["availability_zone_ids"]["default"]) == 3
    assert cfg.resource("aws_subnet.private")["map_public_ip_on_launch"] is False


# --- fleet images and secrets -----------------------------------------------------------------


def test_one_ecr_repository_per_manifest_image(cfg, manifest):
    repos = set()
    for svc in manifest["spec"]["services"]:
        image = tfconfig.TF_REF.sub("registry", svc["image"])
        m = re.fullmatch(r"registry/([a-z0-9_./-]+)@sha256:[0-9a-f]{64}", image)
        assert m, f"{svc['name']}: image is not <registry>/<repo>@sha256:<digest>"
        repos.add(m.group(1))
    services = set(tfconfig.string_list_literal(cfg.locals["fleet_services"]))
    namespace = cfg.locals["ecr_namespace"]
    assert {f"{namespace}/{s}" for s in services} == repos
    assert len(repos) == 23
    repo = cfg.resource("aws_ecr_repository.fleet")
    assert repo["for_each"] == "${local.fleet_services}"
    assert repo["name"] == "${local.ecr_namespace}/${each.key}"
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"][0]["scan_on_push"] is True
    assert repo["encryption_configuration"][0]["encryption_type"] == "KMS"


def _output_resource(cfg, output: str) -> str:
    """aws_secretsmanager_secret.x for an output whose value is ${aws_secretsmanager_secret.x.arn}."""
    m = re.fullmatch(r"\$\{(aws_secretsmanager_secret\.[a-z0-9_]+)\.arn\}", cfg.outputs[output]["value"])
    assert m, f"output {output} is not a secret ARN"
    return m.group(1)


def test_execution_role_reads_exactly_the_manifest_secrets(cfg, manifest):
    text = MANIFEST.read_text()
    secret_outputs = {name for name in tfconfig.TF_REF.findall(text) if name.endswith("_secret_arn")}
    assert secret_outputs == {
        "nats_credentials_secret_arn",
        "nats_ca_secret_arn",
        "auth_signing_key_secret_arn",
        "payment_ledger_key_secret_arn",
    }
    expected = {_output_resource(cfg, o) for o in secret_outputs}

    granted = set(re.findall(r"\$\{(aws_secretsmanager_secret\.[a-z0-9_]+)\.arn\}", str(cfg.locals["task_secret_arns"])))
    assert granted == expected

    doc = cfg.data["aws_iam_policy_document"]["task_execution"]
    secret_statements = [s for s in doc["statement"] if any(a.startswith("secretsmanager:") for a in s["actions"])]
    assert len(secret_statements) == 1
    assert secret_statements[0]["actions"] == ["secretsmanager:GetSecretValue"]
    assert secret_statements[0]["resources"] == "${local.task_secret_arns}"
    # No other statement of the execution role touches Secrets Manager.
    for s in doc["statement"]:
        for r in s["resources"] if isinstance(s["resources"], list) else [s["resources"]]:
            assert "secretsmanager" not in r


def test_secrets_are_kms_encrypted(cfg):
    for name, body in cfg.resources["aws_secretsmanager_secret"].items():
        assert body.get("kms_key_id"), f"secret {name} uses the default key"


def test_redis_is_cluster_mode_multi_az_tls_with_auth_from_secret(cfg):
    rg = cfg.resource("aws_elasticache_replication_group.redis")
    assert rg["cluster_mode"] == "enabled"
    assert rg["multi_az_enabled"] is True and rg["automatic_failover_enabled"] is True
    assert rg["transit_encryption_enabled"] is True and rg["at_rest_encryption_enabled"] is True
    assert rg["auth_token"] == "${aws_secretsmanager_secret_version.redis_auth.secret_string}"
    assert ".cluster.on" in rg["parameter_group_name"]


def test_ecs_cluster_and_log_group(cfg):
    cluster = cfg.resource("aws_ecs_cluster.main")
    assert cluster["setting"][0]["name"] == "containerInsights"
    assert cluster["setting"][0]["value"] in ("enabled", "enhanced")
    group = cfg.resource("aws_cloudwatch_log_group.fleet")
    assert group["name"] == "${local.log_group_name}"
    assert group.get("kms_key_id") and group.get("retention_in_days")


def test_nats_cluster_size(cfg):
    assert cfg.variables["nats_node_count"]["default"] == 5
    assert cfg.resource("aws_instance.nats")["for_each"] == "${local.nats_nodes}"
