"""Pre-flight checks of a fleet against its AWS account (`fleetctl verify`), before any task starts.

Every check reads; nothing is written. The rendered task definitions and service inputs are
what is checked (exactly what apply would send): each image digest exists in ECR, each role
exists and trusts ecs-tasks.amazonaws.com, each secret exists and the execution role may read it,
each log group exists, the cluster, subnets and security groups exist, the task security groups
allow egress and the NATS security groups ingress on the NATS port, and NATS answers from here.

A check is OK, NG (will fail at deploy or run time) or SKIP (not checkable from here, or not
applicable). Role permissions are judged from the role's identity policies (inline and
attached): resource policies, permission boundaries and SCPs are not evaluated, and a statement
with a Condition is counted as allowing (said so in the detail).
"""
from __future__ import annotations

import asyncio
import fnmatch
from dataclasses import dataclass
from typing import Any

from fleetctl.controller.aws import verify_reads as reads
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.aws.ec2 import describe_security_groups, describe_subnets
from fleetctl.controller.concurrency import gather
from fleetctl.controller.diagnose.netcheck import egress_check, host_port, ingress_check
from fleetctl.controller.errors import CloudError
from fleetctl.controller.manifest.lint import parse_image
from fleetctl.controller.manifest.models import Fleet
from fleetctl.controller.observe import ecr_repository
from fleetctl.controller.render import RenderedService, render

OK, NG, SKIP = "OK", "NG", "SKIP"
ECS_TASKS = "ecs-tasks.amazonaws.com"


@dataclass(frozen=True)
class Check:
    name: str          # cluster, subnets, security-groups, image, execution-role, task-role, secret, log-group, ...
    subject: str       # the resource checked
    status: str        # OK | NG | SKIP
    detail: str
    services: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "subject": self.subject, "status": self.status, "detail": self.detail,
                "services": list(self.services)}


@dataclass(frozen=True)
class Verification:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return not any(c.status == NG for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in (OK, NG, SKIP)}

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts(), "checks": [c.as_dict() for c in self.checks]}


# --- IAM policy judgement (pure) ---------------------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def trusts(trust_policy: dict[str, Any], service: str = ECS_TASKS) -> bool:
    """The trust policy lets `service` assume the role (an Allow of sts:AssumeRole to that principal)."""
    for st in _as_list(trust_policy.get("Statement")):
        if st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if principal == "*" or service in services:
            if any(_matches(a, "sts:AssumeRole", ci=True) for a in _as_list(st.get("Action"))):
                return True
    return False


def _matches(pattern: str, value: str, *, ci: bool = False) -> bool:
    if ci:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _statement_covers(st: dict[str, Any], action: str, resource: str) -> bool:
    if "Action" in st:
        if not any(_matches(a, action, ci=True) for a in _as_list(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(_matches(a, action, ci=True) for a in _as_list(st["NotAction"])):
            return False
    else:
        return False
    if "Resource" in st:
        return any(_matches(r, resource) for r in _as_list(st["Resource"]))
    if "NotResource" in st:
        return not any(_matches(r, resource) for r in _as_list(st["NotResource"]))
    return False


def allows(policies: list[dict[str, Any]], action: str, resource: str) -> tuple[bool, bool]:
    """(allowed, conditional) by identity policies: an explicit Deny wins, else any Allow."""
    allowed = conditional = False
    for doc in policies:
        for st in _as_list(doc.get("Statement")):
            if not isinstance(st, dict) or not _statement_covers(st, action, resource):
                continue
            if st.get("Effect") == "Deny" and not st.get("Condition"):
                return False, False
            if st.get("Effect") == "Allow":
                if st.get("Condition"):
                    conditional = True
                else:
                    allowed = True
    return allowed or conditional, conditional and not allowed


def secret_action(value_from: str) -> tuple[str, str]:
    """The action and resource ECS's execution role needs for one container secret."""
    if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
        return "secretsmanager:GetSecretValue", reads.secret_arn(value_from)
    if value_from.startswith("arn:"):
        return "ssm:GetParameters", value_from
    return "ssm:GetParameters", f"arn:aws:ssm:*:*:parameter/{value_from.lstrip('/')}"


# --- the checks ----------------------------------------------------------------------------------

def _services_by(rendered: list[RenderedService], key: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rendered:
        for value in key(r):
            if value:
                out.setdefault(value, [])
                if r.name not in out[value]:
                    out[value].append(r.name)
    return out


def _containers(r: RenderedService) -> list[dict[str, Any]]:
    return r.register_task_definition.get("containerDefinitions", [])


def _awsvpc(r: RenderedService) -> dict[str, Any]:
    return (r.create_service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}


async def _guard(name: str, subject: str, services: list[str], coro: Any) -> list[Check]:
    """A check that could not be made (access denied, throttled) is NG with the AWS error."""
    try:
        result = await coro
    except CloudError as exc:
        return [Check(name, subject, NG, f"could not check: {exc}", tuple(services))]
    return result if isinstance(result, list) else [result]


async def _check_image(aws: Aws, image: str, services: list[str]) -> Check:
    where = ecr_repository(image)
    repo, tag, digest = parse_image(image)
    if where is None:
        return Check("image", image, SKIP, "not an ECR image: pulled (or not) when a task starts", tuple(services))
    found = await reads.image_exists(aws, where[1], digest=digest, tag=tag)
    ref = digest or f"tag {tag or 'latest'}"
    if found:
        return Check("image", image, OK, f"{ref} is in ECR repository {where[1]}", tuple(services))
    return Check("image", image, NG, f"{ref} is not in ECR repository {where[1]} (push it, or fix the digest)",
                 tuple(services))


async def _check_role(aws: Aws, kind: str, arn: str, services: list[str],
                      roles: dict[str, reads.RoleState | None]) -> Check:
    role = await reads.describe_role(aws, arn)
    roles[arn] = role
    if role is None:
        return Check(kind, arn, NG, "the role does not exist", tuple(services))
    if not trusts(role.trust):
        return Check(kind, arn, NG, f"the role's trust policy does not let {ECS_TASKS} assume it (sts:AssumeRole)",
                     tuple(services))
    return Check(kind, arn, OK, f"exists and trusts {ECS_TASKS}", tuple(services))


async def _check_secret(aws: Aws, value_from: str, services: list[str], execution_roles: list[str],
                        roles: dict[str, reads.RoleState | None]) -> Check:
    subject = value_from
    if not await reads.secret_exists(aws, value_from):
        return Check("secret", subject, NG, "the secret does not exist (tasks stop with ResourceInitializationError)",
                     tuple(services))
    action, resource = secret_action(value_from)
    problems, notes = [], []
    for arn in execution_roles:
        role = roles.get(arn)
        if role is None:
            problems.append(f"execution role {arn.rsplit('/', 1)[-1]} does not exist")
            continue
        allowed, conditional = allows(role.policies, action, resource)
        if not allowed:
            problems.append(f"execution role {role.name} is not allowed {action} on it")
        elif conditional:
            notes.append(f"{role.name}: allowed under a Condition (not evaluated)")
    if not execution_roles:
        problems.append("the task definition has no executionRoleArn: ECS cannot fetch secrets")
    if problems:
        return Check("secret", subject, NG, "exists, but " + "; ".join(problems), tuple(services))
    who = ", ".join(r.rsplit("/", 1)[-1] for r in execution_roles)
    return Check("secret", subject, OK, f"exists; {who} may {action}" + (f" ({'; '.join(notes)})" if notes else ""),
                 tuple(services))


async def _check_log_group(aws: Aws, group: str, services: list[str]) -> Check:
    if await reads.log_group_exists(aws, group):
        return Check("log-group", group, OK, "exists", tuple(services))
    return Check("log-group", group, NG, "does not exist (awslogs does not create it unless awslogs-create-group "
                                         "is set; tasks fail to start)", tuple(services))


async def _check_cluster(aws: Aws, cluster: str) -> Check:
    status = await reads.cluster_status(aws, cluster)
    if status == "ACTIVE":
        return Check("cluster", cluster, OK, "ACTIVE")
    return Check("cluster", cluster, NG, "does not exist" if status is None else f"is {status}")


async def _check_existing(name: str, wanted: dict[str, list[str]], read: Any) -> Check:
    if not wanted:
        return Check(name, "-", SKIP, "none named (no awsvpc network configuration)")
    found = await read(list(wanted))
    missing = sorted(set(wanted) - found)
    subject = ", ".join(sorted(wanted))
    services = sorted({s for ids in missing for s in wanted[ids]}) if missing else sorted({s for v in wanted.values() for s in v})
    if missing:
        return Check(name, subject, NG, f"missing: {', '.join(missing)}", tuple(services))
    return Check(name, subject, OK, f"{len(wanted)} found", tuple(services))


async def _check_network(aws: Aws, fleet: Fleet, rendered: list[RenderedService]) -> list[Check]:
    """Task egress and NATS-side ingress on the NATS port, per distinct task network."""
    nats = fleet.spec.nats
    host, port = host_port(nats.urls[0])
    networks: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for r in rendered:
        vpc = _awsvpc(r)
        key = (tuple(sorted(vpc.get("securityGroups", []))), tuple(sorted(vpc.get("subnets", []))))
        networks.setdefault(key, []).append(r.name)
    all_groups = sorted({g for sgs, _ in networks for g in sgs} | set(nats.security_groups))
    all_subnets = sorted({s for _, subnets in networks for s in subnets})
    groups, subnets = await gather(describe_security_groups(aws, all_groups), describe_subnets(aws, all_subnets))
    checks: list[Check] = []
    for (sgs, subnet_ids), services in networks.items():
        subject = ", ".join(sgs) or "-"
        if not sgs:
            checks.append(Check("task-egress", subject, SKIP, "no awsvpc security groups to check", tuple(services)))
            checks.append(Check("nats-ingress", subject, SKIP, "no awsvpc security groups to check", tuple(services)))
            continue
        addresses = [host] if _is_address(host) else []
        e = egress_check({g: groups[g] for g in sgs if g in groups}, port, list(nats.security_groups), addresses)
        checks.append(Check("task-egress", subject, _status(e.ok), e.detail, tuple(services)))
        i = ingress_check({g: groups[g] for g in nats.security_groups if g in groups}, port, list(sgs),
                          [subnets[s] for s in subnet_ids if s in subnets])
        checks.append(Check("nats-ingress", ", ".join(nats.security_groups) or "-",
                            _status(i.ok), i.detail, tuple(services)))
    return checks


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _status(ok: bool | None) -> str:
    return SKIP if ok is None else OK if ok else NG


async def check_nats_reachable(url: str, timeout: float = 3.0) -> Check:
    """A TCP connection to the NATS URL and the server's INFO line, from where fleetctl runs.
    SKIP when it cannot be reached from here (a private NLB usually cannot)."""
    host, port = host_port(url)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else (exc.strerror or type(exc).__name__)
        return Check("nats-reachable", f"{host}:{port}", SKIP,
                     f"not reachable from here ({reason}); a private endpoint is checked from inside the VPC only")
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (OSError, asyncio.TimeoutError):
        line = b""
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except (OSError, asyncio.TimeoutError):
            pass
    if not line.startswith(b"INFO "):
        return Check("nats-reachable", f"{host}:{port}", NG, "a server answers on the port, but not with NATS INFO")
    import json

    try:
        info = json.loads(line[5:])
    except ValueError:
        info = {}
    return Check("nats-reachable", f"{host}:{port}", OK,
                 f"NATS {info.get('server_name', '?')} {info.get('version', '?')} answers from here")


async def verify(aws: Aws, fleet: Fleet, *, only: list[str] | None = None, network: bool = True) -> Verification:
    """Every check for the fleet (or the services in `only`), in a stable order."""
    rendered = render(fleet, only)
    cluster = fleet.spec.target.cluster
    images = _services_by(rendered, lambda r: [c.get("image") for c in _containers(r)])
    execution = _services_by(rendered, lambda r: [r.register_task_definition.get("executionRoleArn")])
    task_roles = _services_by(rendered, lambda r: [r.register_task_definition.get("taskRoleArn")])
    secrets = _services_by(rendered, lambda r: [s.get("valueFrom") for c in _containers(r) for s in c.get("secrets", [])])
    groups = _services_by(rendered, lambda r: [(c.get("logConfiguration") or {}).get("options", {}).get("awslogs-group")
                                               for c in _containers(r)
                                               if (c.get("logConfiguration") or {}).get("logDriver") == "awslogs"])
    subnets = _services_by(rendered, lambda r: _awsvpc(r).get("subnets", []))
    sgs = _services_by(rendered, lambda r: list(_awsvpc(r).get("securityGroups", [])))
    nats_sgs = {g: ["spec.nats"] for g in fleet.spec.nats.security_groups}
    roles: dict[str, reads.RoleState | None] = {}
    execution_of = {}
    for r in rendered:
        for c in _containers(r):
            for s in c.get("secrets", []):
                execution_of.setdefault(s["valueFrom"], set()).add(r.register_task_definition.get("executionRoleArn"))

    first = await gather(
        _guard("cluster", cluster, [], _check_cluster(aws, cluster)),
        _guard("subnets", "-", [], _check_existing("subnets", subnets, lambda ids: reads.existing_subnets(aws, ids))),
        _guard("security-groups", "-", [], _check_existing("security-groups", {**sgs, **nats_sgs},
                                                          lambda ids: reads.existing_security_groups(aws, ids))),
        *(_guard("image", i, s, _check_image(aws, i, s)) for i, s in images.items()),
        *(_guard("execution-role", a, s, _check_role(aws, "execution-role", a, s, roles)) for a, s in execution.items()),
        *(_guard("task-role", a, s, _check_role(aws, "task-role", a, s, roles)) for a, s in task_roles.items()),
        *(_guard("log-group", g, s, _check_log_group(aws, g, s)) for g, s in groups.items()),
    )
    second = await gather(
        *(_guard("secret", v, s, _check_secret(aws, v, s, sorted(a for a in execution_of[v] if a), roles))
          for v, s in secrets.items()),
        _guard("task-egress", "-", [], _check_network(aws, fleet, rendered)),
    )
    checks = [c for group in (*first, *second) for c in group]
    if network:
        checks.append(await check_nats_reachable(fleet.spec.nats.urls[0]))
    else:
        checks.append(Check("nats-reachable", fleet.spec.nats.urls[0], SKIP, "--no-network"))
    order = ["cluster", "subnets", "security-groups", "image", "execution-role", "task-role", "secret", "log-group",
             "task-egress", "nats-ingress", "nats-reachable"]
    checks.sort(key=lambda c: order.index(c.name) if c.name in order else len(order))
    return Verification(checks)
