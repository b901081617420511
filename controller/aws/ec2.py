"""Network reads for diagnose: security groups, subnets, and target health behind the NLB."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetctl.controller.aws.client import Aws


@dataclass(frozen=True)
class SecurityRule:
    """One ingress or egress permission, flattened to a single peer."""

    protocol: str              # "-1" (all), "tcp", "udp", ...
    from_port: int | None
    to_port: int | None
    cidr: str | None = None
    group_id: str | None = None

    def allows_tcp(self, port: int) -> bool:
        if self.protocol in ("-1", "all"):
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        if self.from_port is None or self.to_port is None:
            return True
        return self.from_port <= port <= self.to_port


@dataclass(frozen=True)
class SecurityGroupState:
    id: str
    name: str
    vpc_id: str | None
    ingress: tuple[SecurityRule, ...]
    egress: tuple[SecurityRule, ...]


@dataclass(frozen=True)
class SubnetState:
    id: str
    vpc_id: str
    cidr: str


@dataclass(frozen=True)
class TargetHealthState:
    target: str
    port: int | None
    state: str                 # healthy | unhealthy | initial | draining | unused | unavailable
    reason: str | None
    description: str | None


def _rules(permissions: list[dict[str, Any]]) -> tuple[SecurityRule, ...]:
    out: list[SecurityRule] = []
    for p in permissions:
        base = dict(protocol=str(p.get("IpProtocol", "-1")), from_port=p.get("FromPort"), to_port=p.get("ToPort"))
        for r in p.get("IpRanges", []):
            out.append(SecurityRule(**base, cidr=r.get("CidrIp")))
        for r in p.get("Ipv6Ranges", []):
            out.append(SecurityRule(**base, cidr=r.get("CidrIpv6")))
        for r in p.get("UserIdGroupPairs", []):
            out.append(SecurityRule(**base, group_id=r.get("GroupId")))
        for r in p.get("PrefixListIds", []):
            out.append(SecurityRule(**base, cidr=r.get("PrefixListId")))
    return tuple(out)


async def describe_security_groups(aws: Aws, group_ids: list[str]) -> dict[str, SecurityGroupState]:
    if not group_ids:
        return {}
    resp = await aws.call("ec2", "describe_security_groups", GroupIds=sorted(set(group_ids)))
    return {g["GroupId"]: SecurityGroupState(g["GroupId"], g.get("GroupName", ""), g.get("VpcId"),
                                             _rules(g.get("IpPermissions", [])), _rules(g.get("IpPermissionsEgress", [])))
            for g in resp.get("SecurityGroups", [])}


async def describe_subnets(aws: Aws, subnet_ids: list[str]) -> dict[str, SubnetState]:
    if not subnet_ids:
        return {}
    resp = await aws.call("ec2", "describe_subnets", SubnetIds=sorted(set(subnet_ids)))
    return {s["SubnetId"]: SubnetState(s["SubnetId"], s.get("VpcId", ""), s.get("CidrBlock", ""))
            for s in resp.get("Subnets", [])}


async def describe_target_health(aws: Aws, target_group_arn: str) -> list[TargetHealthState]:
    """Targets of an ELBv2 target group with their health (kept with the network reads)."""
    resp = await aws.call("elbv2", "describe_target_health", TargetGroupArn=target_group_arn)
    out = []
    for d in resp.get("TargetHealthDescriptions", []):
        target, health = d.get("Target", {}), d.get("TargetHealth", {})
        out.append(TargetHealthState(target.get("Id", ""), target.get("Port"), health.get("State", "unknown"),
                                     health.get("Reason"), health.get("Description")))
    return out
