"""Network checks for NATS findings: security groups both ways, NLB targets, DNS, a live probe.

The judgements (`egress_check`, `ingress_check`, `targets_check`) are pure functions of what
EC2/ELBv2 returned; `run_checks` does the reads.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from fleetctl.controller.aws.client import Aws
from fleetctl.controller.aws.ec2 import (
    SecurityGroupState,
    SubnetState,
    TargetHealthState,
    describe_security_groups,
    describe_subnets,
    describe_target_health,
)
from fleetctl.controller.errors import CloudError
from fleetctl.controller.concurrency import gather

DEFAULT_PORTS = {"nats": 4222, "tls": 4222, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class NetCheck:
    name: str
    ok: bool | None      # None: could not be checked
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "", parsed.port or DEFAULT_PORTS.get(parsed.scheme, 4222)


def _covers(cidr: str | None, address: str) -> bool:
    try:
        return cidr is not None and ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _contains(outer: str | None, inner: str) -> bool:
    try:
        a, b = ipaddress.ip_network(outer or "", strict=False), ipaddress.ip_network(inner, strict=False)
        return a.version == b.version and b.subnet_of(a)  # type: ignore[arg-type]
    except ValueError:
        return False


def egress_check(task_groups: dict[str, SecurityGroupState], port: int, nats_groups: list[str],
                 nats_addresses: list[str]) -> NetCheck:
    if not task_groups:
        return NetCheck("task-egress", None, "the service has no awsvpc security groups to check")
    for sg in task_groups.values():
        for rule in sg.egress:
            if not rule.allows_tcp(port):
                continue
            if rule.group_id and rule.group_id in nats_groups:
                return NetCheck("task-egress", True, f"{sg.id} allows tcp/{port} to the NATS group {rule.group_id}")
            if rule.cidr in ("0.0.0.0/0", "::/0") or any(_covers(rule.cidr, a) for a in nats_addresses):
                return NetCheck("task-egress", True, f"{sg.id} allows tcp/{port} to {rule.cidr}")
    groups = ", ".join(sorted(task_groups))
    return NetCheck("task-egress", False, f"no egress rule of the task security groups ({groups}) allows tcp/{port} "
                                          "to NATS: add one (to the NATS security group or its address)")


def ingress_check(nats_groups: dict[str, SecurityGroupState], port: int, task_groups: list[str],
                  task_subnets: list[SubnetState]) -> NetCheck:
    if not nats_groups:
        return NetCheck("nats-ingress", None, "spec.nats.securityGroups is empty: the NATS side was not checked")
    other_ports: set[str] = set()
    for sg in nats_groups.values():
        for rule in sg.ingress:
            peer_ok = (rule.group_id in task_groups if rule.group_id else
                       bool(task_subnets) and all(_contains(rule.cidr, s.cidr) for s in task_subnets))
            if not peer_ok:
                continue
            if rule.allows_tcp(port):
                peer = rule.group_id or rule.cidr
                return NetCheck("nats-ingress", True, f"{sg.id} admits tcp/{port} from {peer}")
            other_ports.add(f"{rule.from_port}" if rule.from_port == rule.to_port else f"{rule.from_port}-{rule.to_port}")
    groups = ", ".join(sorted(nats_groups))
    if other_ports:
        return NetCheck("nats-ingress", False, f"the NATS security groups ({groups}) admit the tasks on tcp/"
                                               f"{', '.join(sorted(other_ports))} but not on {port}, the port in "
                                               "spec.nats.urls: fix the URL's port or the rule")
    return NetCheck("nats-ingress", False, f"the NATS security groups ({groups}) do not admit the tasks' groups "
                                           f"({', '.join(task_groups) or 'none'}) on tcp/{port}: add an ingress rule "
                                           "from the task security group")


def targets_check(target_group_arn: str | None, targets: list[TargetHealthState] | None) -> NetCheck:
    if not target_group_arn:
        return NetCheck("nlb-targets", None, "spec.nats.targetGroupArn is not set: the NLB was not checked")
    if targets is None:
        return NetCheck("nlb-targets", None, "the target group could not be read")
    healthy = [t for t in targets if t.state == "healthy"]
    if not targets:
        return NetCheck("nlb-targets", False, "the NATS target group has no registered targets")
    if not healthy:
        reasons = "; ".join(f"{t.target}:{t.port} {t.state} ({t.reason or '-'})" for t in targets[:3])
        return NetCheck("nlb-targets", False, f"no healthy NATS targets behind the NLB: {reasons}")
    return NetCheck("nlb-targets", True, f"{len(healthy)}/{len(targets)} NATS targets healthy")


async def dns_check(host: str) -> tuple[NetCheck, list[str]]:
    note = "resolved from where fleetctl runs; the VPC's resolver may answer differently"
    try:
        ipaddress.ip_address(host)
        return NetCheck("dns", True, f"{host} is an address (no DNS involved)"), [host]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), 5)
    except (OSError, asyncio.TimeoutError) as exc:
        return NetCheck("dns", False, f"{host} does not resolve ({exc}); {note}"), []
    addresses = sorted({i[4][0] for i in infos})
    return NetCheck("dns", True, f"{host} -> {', '.join(addresses)} ({note})"), addresses


async def run_checks(aws: Aws, fleet: Any, network: dict[str, Any] | None, *, url: str | None = None,
                     probe: bool = True, probe_auth: Any = None) -> list[NetCheck]:
    """All NATS network checks for tasks placed with `network` (an awsvpcConfiguration)."""
    nats = fleet.spec.nats
    url = url or nats.urls[0]
    host, port = host_port(url)
    awsvpc = (network or {}).get("awsvpcConfiguration", {})
    task_sgs, subnets = list(awsvpc.get("securityGroups", [])), list(awsvpc.get("subnets", []))

    async def read(coro: Any) -> Any:
        try:
            return await coro
        except CloudError as exc:
            return exc

    dns_task = asyncio.ensure_future(dns_check(host))
    groups, subnet_states, targets = await gather(
        read(describe_security_groups(aws, task_sgs + list(nats.security_groups))),
        read(describe_subnets(aws, subnets)),
        read(describe_target_health(aws, nats.target_group_arn)) if nats.target_group_arn else asyncio.sleep(0, None),
    )
    dns, addresses = await dns_task
    checks: list[NetCheck] = []
    if isinstance(groups, CloudError):
        checks.append(NetCheck("security-groups", None, f"could not read security groups: {groups}"))
    else:
        checks.append(egress_check({g: groups[g] for g in task_sgs if g in groups}, port, list(nats.security_groups),
                                   addresses))
        checks.append(ingress_check({g: groups[g] for g in nats.security_groups if g in groups}, port, task_sgs,
                                    [] if isinstance(subnet_states, CloudError) else list(subnet_states.values())))
    checks.append(targets_check(nats.target_group_arn, None if isinstance(targets, CloudError) else targets))
    checks.append(dns)
    if probe:
        checks.append(await probe_check(fleet, url, probe_auth))
    return checks


async def probe_check(fleet: Any, url: str, auth: Any = None) -> NetCheck:
    from fleetctl.controller.probe import ProbeAuth, ProbeConnectError, ProbeTls, connect

    try:
        client = await connect([url], ProbeAuth.for_fleet(fleet, auth), ProbeTls.for_fleet(fleet), timeout=3.0)
    except ProbeConnectError as exc:
        return NetCheck("probe", False, f"from here: {exc.classification.category}: {exc.detail}")
    try:
        version = client._server_info.get("version", "?")
        rtt = await client.rtt()
    finally:
        await asyncio.wait({asyncio.ensure_future(client.close())}, timeout=2.0)
    return NetCheck("probe", True, f"from here: connected to nats-server {version}, rtt {rtt * 1000:.2f} ms")
