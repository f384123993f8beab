"""DR rule E9501: security group ingress only from other security groups, except the ALB's 443 and 80."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from streamflix_dr.rules import _common as c

PUBLIC_PORTS = (80, 443)


def _alb_security_groups(cfn: Any) -> set[str]:
    """Logical ids of security groups attached to an application load balancer."""
    groups: set[str] = set()
    sg_ids = [n for n, r in c.resources(cfn) if r["Type"] == "AWS::EC2::SecurityGroup"]
    for _, res in c.resources(cfn):
        if res["Type"] != "AWS::ElasticLoadBalancingV2::LoadBalancer":
            continue
        p = c.props(res)
        if p.get("Type", "application") != "application":
            continue
        groups.update(sg for sg in sg_ids if c.mentions(p.get("SecurityGroups"), sg))
    return groups


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _rule_problem(rule: dict[str, Any], is_alb: bool) -> str | None:
    if rule.get("SourceSecurityGroupId") or rule.get("SourceSecurityGroupName"):
        return None
    source = next(
        (f"{k} {rule[k]!r}" for k in ("CidrIp", "CidrIpv6", "SourcePrefixListId") if k in rule), "(no source)"
    )
    lo, hi = _port(rule.get("FromPort")), _port(rule.get("ToPort"))
    protocol = str(rule.get("IpProtocol", ""))
    if is_alb and protocol in ("tcp", "6") and lo == hi and lo in PUBLIC_PORTS:
        return None
    ports = f"{rule.get('FromPort')}-{rule.get('ToPort')}/{protocol}"
    if is_alb:
        return f"ingress {ports} from {source}: the ALB accepts non-group sources only on tcp 443 and 80"
    return f"ingress {ports} from {source}: only other security groups may be sources"


class DrSecurityGroupIngress(CloudFormationLintRule):
    """Ingress comes from security groups, except the public ALB listener ports."""

    id = "E9501"
    shortdesc = "Security group ingress only from other security groups (ALB: 443 and 80 from anywhere)"
    description = (
        "Every ingress rule (inline SecurityGroupIngress or AWS::EC2::SecurityGroupIngress) names a source "
        "security group; CIDR or prefix-list sources are allowed only on a group attached to an application "
        "load balancer, and only for tcp 443 and 80."
    )
    source_url = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"
    tags = ["resources", "network", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        seen: set[str] = set()
        alb_groups = _alb_security_groups(cfn)
        sg_ids = [n for n, r in c.resources(cfn) if r["Type"] == "AWS::EC2::SecurityGroup"]

        def report(path: list[Any], name: str, problem: str, when: str) -> None:
            msg = f"{name}: {problem}{when}"
            if msg not in seen:
                seen.add(msg)
                matches.append(
                    RuleMatch(
                        path,
                        f"{msg}. Fix: use SourceSecurityGroupId with the calling tier's group "
                        "(the ALB group for the service, the service group for data stores)",
                    )
                )

        for name, res in c.resources(cfn):
            if res["Type"] == "AWS::EC2::SecurityGroup":

                def inline(resolved: dict[str, Any], name: str = name) -> Any:
                    for i, rule in enumerate(c.props(resolved).get("SecurityGroupIngress", []) or []):
                        problem = _rule_problem(rule, name in alb_groups) if isinstance(rule, dict) else None
                        if problem:
                            yield (
                                problem,
                                (["Resources", name, "Properties", "SecurityGroupIngress", i], problem),
                            )

                for (path, problem), when in c.problems_by_scenario(cfn, name, res, inline):
                    report(path, name, problem, when)
            elif res["Type"] == "AWS::EC2::SecurityGroupIngress":

                def standalone(resolved: dict[str, Any]) -> Any:
                    p = c.props(resolved)
                    target = next((sg for sg in sg_ids if c.refs_resource(p.get("GroupId"), sg)), None)
                    problem = _rule_problem(p, target in alb_groups)
                    if problem:
                        yield problem, problem

                for problem, when in c.problems_by_scenario(cfn, name, res, standalone):
                    report(["Resources", name, "Properties"], name, problem, when)
        return matches
