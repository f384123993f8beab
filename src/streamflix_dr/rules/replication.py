"""DR rule E9801: every data store with a DR counterpart is replicated to it."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from streamflix_dr.constants import Param, Role
from streamflix_dr.rules import _common as c


def _source_side(cfn: Any) -> tuple[bool, dict[str, Any] | None]:
    """(check at all, parameters that select the replication source side).

    A template with the project's Role parameter is checked as the primary (the side that replicates),
    with every other parameter free: replication that depends on a peer value (a DR file system id)
    still counts as configured. A parameter set for the DR role has nothing to replicate.
    """
    if Param.ROLE not in (cfn.template.get("Parameters", {}) or {}):
        return True, None
    roles = {s.get(Param.ROLE) for s in c.parameter_values(cfn)}
    if roles and Role.PRIMARY.value not in roles:
        return False, None
    return True, {Param.ROLE: Role.PRIMARY.value}


def _any_scenario(
    cfn: Any, name: str, res: dict[str, Any], test: Any, params: dict[str, Any] | None = None
) -> bool | None:
    """True if ``test(props)`` holds in some scenario where the resource exists; None if it never exists."""
    found: bool | None = None
    for _, resolved in c.resource_scenarios(cfn, name, res, params=params):
        found = bool(found) or bool(test(c.props(resolved)))
        if found:
            return True
    return found


def _has(p: dict[str, Any], key: str) -> bool:
    return key in p and p[key] not in (None, "", [], {})


def _efs_replicates(p: dict[str, Any]) -> bool:
    rc = p.get("ReplicationConfiguration")
    return isinstance(rc, dict) and bool(rc.get("Destinations"))


def _efs_is_destination(p: dict[str, Any]) -> bool:
    prot = p.get("FileSystemProtection")
    return isinstance(prot, dict) and "ReplicationOverwriteProtection" in prot


def _plan_copies(p: dict[str, Any]) -> bool:
    plan = p.get("BackupPlan")
    rules = plan.get("BackupPlanRule", []) if isinstance(plan, dict) else []
    return bool(rules) and all(isinstance(r, dict) and r.get("CopyActions") for r in rules)


class DrReplication(CloudFormationLintRule):
    """Data stores that have a DR counterpart replicate to it."""

    id = "E9801"
    shortdesc = "Replication configured for every data store with a DR counterpart"
    description = (
        "A primary RDS instance needs a cross-region read replica resource (SourceDBInstanceIdentifier) in "
        "the "
        "template; an EFS file system needs a ReplicationConfiguration or must be a replication destination "
        "(FileSystemProtection.ReplicationOverwriteProtection); Secrets Manager secrets need ReplicaRegions; "
        "ECR repositories need an AWS::ECR::ReplicationConfiguration; every Backup plan rule needs "
        "CopyActions. "
        "Replication may sit behind a condition (it is removed for teardown) but must exist in some branch."
    )
    source_url = "https://docs.aws.amazon.com/whitepapers/latest/disaster-recovery-workloads-on-aws/disaster-recovery-options-in-the-cloud.html"
    tags = ["resources", "replication", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        check, side = _source_side(cfn)
        if not check:
            return matches
        all_res = list(c.resources(cfn))
        by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for name, res in all_res:
            by_type.setdefault(res["Type"], []).append((name, res))

        def report(name: str, prop: str | None, msg: str, fix: str) -> None:
            path = ["Resources", name, "Properties", prop] if prop else ["Resources", name]
            matches.append(RuleMatch(path, f"{msg}. Fix: {fix}"))

        dbs = by_type.get("AWS::RDS::DBInstance", [])
        replicas = [
            n for n, r in dbs if _any_scenario(cfn, n, r, lambda p: _has(p, "SourceDBInstanceIdentifier"), {})
        ]
        for name, res in dbs:
            is_primary = _any_scenario(
                cfn, name, res, lambda p: not _has(p, "SourceDBInstanceIdentifier"), side
            )
            if is_primary and not replicas:
                report(
                    name,
                    None,
                    f"AWS::RDS::DBInstance {name} has no cross-region read replica in the template",
                    "add the DR-side DBInstance with SourceDBInstanceIdentifier = the primary's ARN, "
                    "SourceRegion and KmsKeyId (it may share this resource behind a Role condition)",
                )
        for name, res in by_type.get("AWS::EFS::FileSystem", []):
            ok = _any_scenario(
                cfn,
                name,
                res,
                lambda p: _efs_replicates(p) or (side is None and _efs_is_destination(p)),
                side,
            )
            if ok is False:
                report(
                    name,
                    "ReplicationConfiguration",
                    f"AWS::EFS::FileSystem {name} neither replicates nor is a replication destination",
                    "set ReplicationConfiguration.Destinations to the DR file system, or "
                    "FileSystemProtection.ReplicationOverwriteProtection on the DR destination",
                )
        for name, res in by_type.get("AWS::SecretsManager::Secret", []):
            if _any_scenario(cfn, name, res, lambda p: _has(p, "ReplicaRegions"), side) is False:
                report(
                    name,
                    "ReplicaRegions",
                    f"AWS::SecretsManager::Secret {name} has no ReplicaRegions",
                    "add ReplicaRegions: [{Region: <peer region>, KmsKeyId: <peer key ARN>}]",
                )
        repos = [
            (n, r) for n, r in by_type.get("AWS::ECR::Repository", []) if _any_scenario(cfn, n, r, bool, side)
        ]
        ecr_rc = [
            n
            for n, r in by_type.get("AWS::ECR::ReplicationConfiguration", [])
            if _any_scenario(
                cfn, n, r, lambda p: bool((p.get("ReplicationConfiguration") or {}).get("Rules"))
            )
        ]
        if repos and not ecr_rc:
            report(
                repos[0][0],
                None,
                f"AWS::ECR::Repository {repos[0][0]} is not covered by an AWS::ECR::ReplicationConfiguration",
                "add an AWS::ECR::ReplicationConfiguration (primary only: it is a registry singleton) with a "
                "destination in the peer region",
            )
        for name, res in by_type.get("AWS::Backup::BackupPlan", []):
            if _any_scenario(cfn, name, res, _plan_copies, side) is False:
                report(
                    name,
                    "BackupPlan",
                    f"AWS::Backup::BackupPlan {name} has a rule without CopyActions",
                    "add CopyActions with DestinationBackupVaultArn = the DR vault ARN to every rule",
                )
        return matches
