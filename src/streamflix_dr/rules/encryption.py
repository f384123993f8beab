"""DR rules E9101/E9102: encryption at rest and in transit on every data store and listener."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from streamflix_dr.rules import _common as c


def _has(p: dict[str, Any], key: str) -> bool:
    return key in p and p[key] not in (None, "")


# A Global Datastore secondary (ReplicationGroup with GlobalReplicationGroupId) inherits its encryption at
# rest and in transit from the global group, whose primary member this rule checks. CreateReplicationGroup
# refuses these properties on a secondary with InvalidParameterCombination ("Cannot use the given parameters
# when creating new replication group in an existing global replication group"; terraform-provider-aws marks
# them ConflictsWith global_replication_group_id). A secondary passes without them; setting one is a finding.
GDS_INHERITED_AT_REST = ("AtRestEncryptionEnabled",)
GDS_INHERITED_IN_TRANSIT = ("TransitEncryptionEnabled", "TransitEncryptionMode")
# S3 server-side encryption with a KMS key (SSE-KMS or DSSE-KMS); AES256 is SSE-S3, an AWS-owned key.
_KMS_SSE = ("aws:kms", "aws:kms:dsse")
_GDS_REFUSED = "a Global Datastore secondary inherits {prop} from the global group; AWS refuses it here"


def _s3_kms_problem(rules: Any) -> str | None:
    for rule in rules if isinstance(rules, list) else []:
        default = rule.get("ServerSideEncryptionByDefault") if isinstance(rule, dict) else None
        algorithm = default.get("SSEAlgorithm") if isinstance(default, dict) else None
        if isinstance(algorithm, str) and algorithm not in _KMS_SSE:
            return f"SSEAlgorithm {algorithm} is not a KMS key (use aws:kms with KMSMasterKeyID)"
    return None


def _at_rest_problems(rtype: str, p: dict[str, Any]) -> list[tuple[str, str]]:
    """(property, problem) pairs for a resource's at-rest settings."""
    out: list[tuple[str, str]] = []
    if rtype == "AWS::RDS::DBInstance":
        if _has(p, "SourceDBInstanceIdentifier"):
            # A replica inherits encryption; cross-region it must name a key in its own region.
            if not _has(p, "KmsKeyId"):
                out.append(("KmsKeyId", "a read replica needs KmsKeyId (a key in its own region)"))
        else:
            if not c.is_true(p.get("StorageEncrypted")):
                out.append(("StorageEncrypted", "StorageEncrypted must be true"))
            if not _has(p, "KmsKeyId"):
                out.append(("KmsKeyId", "KmsKeyId must name a customer managed key"))
    elif rtype == "AWS::RDS::DBCluster":
        if not c.is_true(p.get("StorageEncrypted")):
            out.append(("StorageEncrypted", "StorageEncrypted must be true"))
        if not _has(p, "KmsKeyId"):
            out.append(("KmsKeyId", "KmsKeyId must name a customer managed key"))
    elif rtype == "AWS::EFS::FileSystem":
        if not c.is_true(p.get("Encrypted")):
            out.append(("Encrypted", "Encrypted must be true"))
        if not _has(p, "KmsKeyId"):
            out.append(("KmsKeyId", "KmsKeyId must name a customer managed key"))
    elif rtype == "AWS::ElastiCache::ReplicationGroup":
        if _has(p, "GlobalReplicationGroupId"):
            out.extend(
                (
                    prop,
                    _GDS_REFUSED.format(prop=prop),
                )
                for prop in GDS_INHERITED_AT_REST
                if prop in p
            )
        elif not c.is_true(p.get("AtRestEncryptionEnabled")):
            out.append(("AtRestEncryptionEnabled", "AtRestEncryptionEnabled must be true"))
    elif rtype == "AWS::S3::Bucket":
        sse = p.get("BucketEncryption", {})
        rules = sse.get("ServerSideEncryptionConfiguration") if isinstance(sse, dict) else None
        if not rules:
            out.append(("BucketEncryption", "BucketEncryption.ServerSideEncryptionConfiguration must be set"))
        elif problem := _s3_kms_problem(rules):
            out.append(("BucketEncryption", problem))
    elif rtype == "AWS::SNS::Topic":
        if not _has(p, "KmsMasterKeyId"):
            out.append(("KmsMasterKeyId", "KmsMasterKeyId must be set"))
    elif rtype == "AWS::SQS::Queue":
        if not _has(p, "KmsMasterKeyId") and not c.is_true(p.get("SqsManagedSseEnabled")):
            out.append(("KmsMasterKeyId", "KmsMasterKeyId (or SqsManagedSseEnabled: true) must be set"))
    elif rtype == "AWS::Logs::LogGroup":
        if not _has(p, "KmsKeyId"):
            out.append(("KmsKeyId", "KmsKeyId must be set"))
    elif rtype == "AWS::DynamoDB::Table":
        sse = p.get("SSESpecification")
        if not (
            isinstance(sse, dict) and c.is_true(sse.get("SSEEnabled")) and sse.get("SSEType", "KMS") == "KMS"
        ):
            out.append(("SSESpecification", "SSESpecification must have SSEEnabled: true and SSEType: KMS"))
    elif rtype == "AWS::SecretsManager::Secret" and not _has(p, "KmsKeyId"):
        out.append(("KmsKeyId", "KmsKeyId must name a customer managed key"))
    return out


_AT_REST_FIX = {
    "KmsKeyId": "reference the stack's KMS key (e.g. !GetAtt KmsKey.Arn)",
    "KmsMasterKeyId": "reference the stack's KMS key (e.g. !Ref KmsKey)",
    "BucketEncryption": "use SSEAlgorithm aws:kms with KMSMasterKeyID (the stack's key); where AWS allows "
    "only SSE-S3 (ALB access logs), suppress E9101 on that bucket with the reason",
}


class DrEncryptionAtRest(CloudFormationLintRule):
    """Every data store is encrypted at rest with a KMS key."""

    id = "E9101"
    shortdesc = "Data stores are encrypted at rest"
    description = (
        "RDS (StorageEncrypted + KmsKeyId; replicas KmsKeyId), EFS (Encrypted + KmsKeyId), ElastiCache "
        "(AtRestEncryptionEnabled; a Global Datastore secondary inherits it and must not set it), S3 "
        "(BucketEncryption with a KMS key), SNS/SQS (KmsMasterKeyId), CloudWatch Logs "
        "(KmsKeyId), DynamoDB (SSE KMS) and Secrets Manager (KmsKeyId) must be encrypted at rest in "
        "every condition combination under which they are created."
    )
    source_url = (
        "https://docs.aws.amazon.com/prescriptive-guidance/latest/encryption-best-practices/welcome.html"
    )
    tags = ["resources", "encryption", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, res in c.resources(cfn):
            rtype = res["Type"]

            def check(resolved: dict[str, Any], rtype: str = rtype) -> Any:
                return [
                    ((prop, problem), (prop, problem))
                    for prop, problem in _at_rest_problems(rtype, c.props(resolved))
                ]

            for (prop, problem), when in c.problems_by_scenario(cfn, name, res, check):
                fix = (
                    f"remove {prop} (inherited from the Global Datastore)"
                    if "Global Datastore secondary" in problem
                    else _AT_REST_FIX.get(prop, f"set {prop}")
                )
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", prop],
                        f"{rtype} {name}: {problem}{when}. Fix: {fix}",
                    )
                )
        return matches


def _listener_problem(p: dict[str, Any]) -> str | None:
    protocol = str(p.get("Protocol", ""))
    if protocol in ("HTTPS", "TLS"):
        return None
    if protocol in ("HTTP", "TCP", "UDP", "TCP_UDP", ""):
        actions = p.get("DefaultActions")
        if protocol == "HTTP" and isinstance(actions, list) and actions:
            redirects = [
                a
                for a in actions
                if isinstance(a, dict)
                and a.get("Type") == "redirect"
                and isinstance(a.get("RedirectConfig"), dict)
                and a["RedirectConfig"].get("Protocol") == "HTTPS"
            ]
            if len(redirects) == len(actions):
                return None
        shown = protocol or "(none)"
        return f"listener protocol {shown} must be HTTPS/TLS, or HTTP that only redirects to HTTPS"
    return None


def _in_transit_problems(
    cfn: Any, rtype: str, name: str, p: dict[str, Any]
) -> list[tuple[list[Any], str, str]]:
    """(path below Properties, problem, fix) for a resource's in-transit settings."""
    out: list[tuple[list[Any], str, str]] = []
    if rtype == "AWS::ElasticLoadBalancingV2::Listener":
        problem = _listener_problem(p)
        if problem:
            out.append(
                (
                    ["Protocol"],
                    problem,
                    "use Protocol: HTTPS with Certificates, or make the HTTP listener redirect to HTTPS",
                )
            )
    elif rtype == "AWS::ElastiCache::ReplicationGroup" and _has(p, "GlobalReplicationGroupId"):
        # Inherited from the Global Datastore (see GDS_INHERITED_AT_REST): refused on a secondary.
        out.extend(
            (
                [prop],
                _GDS_REFUSED.format(prop=prop),
                f"remove {prop}",
            )
            for prop in GDS_INHERITED_IN_TRANSIT
            if prop in p
        )
    elif rtype == "AWS::ElastiCache::ReplicationGroup":
        if not c.is_true(p.get("TransitEncryptionEnabled")):
            out.append(
                (["TransitEncryptionEnabled"], "TransitEncryptionEnabled must be true", "set it to true")
            )
        if p.get("TransitEncryptionMode", "required") != "required":
            out.append(
                (["TransitEncryptionMode"], "TransitEncryptionMode must be required", "set it to required")
            )
    elif rtype == "AWS::ECS::TaskDefinition":
        for i, vol in enumerate(p.get("Volumes", []) or []):
            efs = vol.get("EFSVolumeConfiguration") if isinstance(vol, dict) else None
            if isinstance(efs, dict) and efs.get("TransitEncryption") != "ENABLED":
                out.append(
                    (
                        ["Volumes", i, "EFSVolumeConfiguration", "TransitEncryption"],
                        f"EFS volume {vol.get('Name', i)!s} must set TransitEncryption: ENABLED",
                        "set TransitEncryption: ENABLED",
                    )
                )
    elif rtype == "AWS::RDS::DBParameterGroup":
        family = str(p.get("Family", ""))
        params = p.get("Parameters", {}) if isinstance(p.get("Parameters"), dict) else {}
        if family.startswith("postgres") and str(params.get("rds.force_ssl", "0")) != "1":
            out.append((["Parameters"], "rds.force_ssl must be '1'", "add rds.force_ssl: '1' to Parameters"))
    elif rtype == "AWS::S3::Bucket":
        if not _tls_deny_for(cfn, "AWS::S3::BucketPolicy", "Bucket", name):
            out.append(
                (
                    [],
                    "no bucket policy denies requests with aws:SecureTransport false",
                    "add an AWS::S3::BucketPolicy with a Deny on aws:SecureTransport: 'false'",
                )
            )
    elif rtype == "AWS::EFS::FileSystem" and not _denies_plain_transport(p.get("FileSystemPolicy")):
        out.append(
            (
                ["FileSystemPolicy"],
                "FileSystemPolicy does not deny requests with aws:SecureTransport false",
                "add a FileSystemPolicy statement that denies when aws:SecureTransport is 'false'",
            )
        )
    return out


def _denies_plain_transport(policy: Any) -> bool:
    if not isinstance(policy, dict):
        return False
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements if isinstance(statements, list) else []:
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        cond = st.get("Condition", {})
        boolean = cond.get("Bool", {}) if isinstance(cond, dict) else {}
        if isinstance(boolean, dict) and str(boolean.get("aws:SecureTransport", "")).lower() == "false":
            return True
    return False


def _tls_deny_for(cfn: Any, policy_type: str, target_prop: str, logical_id: str) -> bool:
    for _, res in c.resources(cfn):
        if res["Type"] != policy_type:
            continue
        p = c.props(res)
        if c.refs_resource(p.get(target_prop), logical_id) and _denies_plain_transport(
            p.get("PolicyDocument")
        ):
            return True
    return False


class DrEncryptionInTransit(CloudFormationLintRule):
    """Every listener and data store path is encrypted in transit."""

    id = "E9102"
    shortdesc = "Listeners and data stores are encrypted in transit"
    description = (
        "ALB listeners are HTTPS (or HTTP that only redirects to HTTPS); ElastiCache has "
        "TransitEncryptionEnabled with mode required (a Global Datastore secondary inherits both and must "
        "not set them); ECS EFS volumes use TransitEncryption; PostgreSQL "
        "parameter groups force SSL; S3 buckets and EFS file systems deny aws:SecureTransport false."
    )
    source_url = (
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/create-https-listener.html"
    )
    tags = ["resources", "encryption", "streamflix-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, res in c.resources(cfn):
            rtype = res["Type"]

            def check(resolved: dict[str, Any], rtype: str = rtype, name: str = name) -> Any:
                return [
                    (problem, (sub, problem, fix))
                    for sub, problem, fix in _in_transit_problems(cfn, rtype, name, c.props(resolved))
                ]

            for (sub, problem, fix), when in c.problems_by_scenario(cfn, name, res, check):
                path: list[Any] = ["Resources", name, "Properties", *sub] if sub else ["Resources", name]
                matches.append(RuleMatch(path, f"{rtype} {name}: {problem}{when}. Fix: {fix}"))
        return matches
