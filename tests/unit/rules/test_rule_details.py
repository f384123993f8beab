"""Edge cases of each DR rule: conditions, shapes, exceptions. Rules run on small inline templates."""

from __future__ import annotations

import pytest

from streamflix_dr.constants import OUTPUTS_BY_ROLE, Phase, Role
from streamflix_dr.rules import _common as c
from streamflix_dr.rules.names import _render, _Rendering
from streamflix_dr.rules.tags import tag_keys, tag_property

from .conftest import cfn_template, messages

ROLE_HEADER = """
Parameters:
  EnvironmentSuffix: {Type: String, MaxLength: 10}
  Role: {Type: String, AllowedValues: [primary, dr]}
  Phase: {Type: String, AllowedValues: [base, full]}
  DrKey: {Type: String}
Conditions:
  IsPrimary: !Equals [!Ref Role, primary]
  IsDr: !Equals [!Ref Role, dr]
  IsFull: !Equals [!Ref Phase, full]
  IsDrFull: !And [!Condition IsDr, !Condition IsFull]
"""


# ---------------------------------------------------------------- _common: conditions and Fn::If


def test_resolve_takes_branches_and_drops_novalue() -> None:
    value = {
        "A": {"Fn::If": ["C", "yes", "no"]},
        "B": {"Fn::If": ["C", {"Ref": "AWS::NoValue"}, 1]},
        "L": [{"Fn::If": ["C", {"Ref": "AWS::NoValue"}, "x"]}, "y"],
    }
    assert c.resolve(value, {"C": True}) == {"A": "yes", "L": ["y"]}
    assert c.resolve(value, {"C": False}) == {"A": "no", "B": 1, "L": ["x", "y"]}


def test_eval_condition_from_parameters() -> None:
    cfn = cfn_template(ROLE_HEADER + "Resources: {}\n")
    assert c.eval_condition("IsDrFull", {"Role": "dr", "Phase": "full"}, cfn) is True
    assert c.eval_condition("IsDrFull", {"Role": "primary"}, cfn) is False  # decided without Phase
    with pytest.raises(c.Unknown):
        c.eval_condition("IsDrFull", {"Role": "dr"}, cfn)
    assert c.fixed_conditions(cfn, {"Role": "dr"}) == {"IsPrimary": False, "IsDr": True}


def test_scenarios_use_allowed_values_and_parameter_sets() -> None:
    cfn = cfn_template(ROLE_HEADER + "Resources: {}\n")
    both = c.scenarios(cfn, {"IsPrimary", "IsDr"})
    # AllowedValues [primary, dr] makes the two conditions exclusive and exhaustive.
    assert sorted(tuple(sorted(s.items())) for s in both) == [
        (("IsDr", False), ("IsPrimary", True)),
        (("IsDr", True), ("IsPrimary", False)),
    ]
    fixed = c.scenarios(cfn, {"IsPrimary"}, params={"Role": "dr"})
    assert [s["IsPrimary"] for s in fixed] == [False]
    from_set = c.scenarios(cfn_template(ROLE_HEADER + "Resources: {}\n", {"Role": "primary"}), {"IsDr"})
    assert [s["IsDr"] for s in from_set] == [False]


# ---------------------------------------------------------------- E9101/E9102 encryption


def test_novalue_branch_unreachable_under_the_resource_condition_is_not_a_finding() -> None:
    text = (
        ROLE_HEADER
        + """
Resources:
  Replica:
    Type: AWS::RDS::DBInstance
    Condition: IsDrFull
    Properties:
      DBInstanceClass: db.r6g.large
      SourceDBInstanceIdentifier: arn:aws:rds:eu-west-2:123456789012:db:x
      KmsKeyId: !If [IsDr, !Ref DrKey, !Ref AWS::NoValue]
"""
    )
    assert messages("DrEncryptionAtRest", text) == []
    reachable = text.replace("[IsDr,", "[IsFull,").replace("Condition: IsDrFull", "Condition: IsDr")
    assert messages("DrEncryptionAtRest", reachable) == [
        "AWS::RDS::DBInstance Replica: a read replica needs KmsKeyId (a key in its own region) when "
        "IsFull=false. Fix: reference the stack's KMS key (e.g. !GetAtt KmsKey.Arn)"
    ]


def test_parameter_set_decides_which_branch_counts() -> None:
    text = (
        ROLE_HEADER
        + """
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      KmsMasterKeyId: !If [IsPrimary, alias/x, !Ref AWS::NoValue]
"""
    )
    assert messages("DrEncryptionAtRest", text, {"Role": "primary"}) == []
    assert len(messages("DrEncryptionAtRest", text, {"Role": "dr"})) == 1
    assert "when IsPrimary=false" in messages("DrEncryptionAtRest", text)[0]


@pytest.mark.parametrize(
    ("props", "ok"),
    [
        ("AtRestEncryptionEnabled: true\n      TransitEncryptionEnabled: true", True),
        (
            "AtRestEncryptionEnabled: true\n      TransitEncryptionEnabled: true\n"
            "      TransitEncryptionMode: preferred",
            False,
        ),
        ("AtRestEncryptionEnabled: true", False),
        ("GlobalReplicationGroupId: sgaui-x", True),  # a Global Datastore secondary inherits both
        # ...and AWS refuses them on a secondary (InvalidParameterCombination): setting one is a finding.
        ("GlobalReplicationGroupId: sgaui-x\n      AtRestEncryptionEnabled: true", False),
        ("GlobalReplicationGroupId: sgaui-x\n      TransitEncryptionEnabled: true", False),
        ("GlobalReplicationGroupId: sgaui-x\n      TransitEncryptionMode: required", False),
    ],
    ids=[
        "encrypted",
        "preferred-mode",
        "no-transit",
        "global-secondary",
        "secondary-at-rest-set",
        "secondary-transit-set",
        "secondary-mode-set",
    ],
)
def test_elasticache_transit(props: str, ok: bool) -> None:
    text = f"""
Resources:
  Redis:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: x
      {props}
"""
    found = messages("DrEncryptionInTransit", text) + messages("DrEncryptionAtRest", text)
    assert (found == []) is ok, found


def test_s3_bucket_needs_a_tls_only_policy() -> None:
    text = """
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration: [{ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}}]
"""
    assert messages("DrEncryptionInTransit", text) == [
        "AWS::S3::Bucket Bucket: no bucket policy denies requests with aws:SecureTransport false. "
        "Fix: add an AWS::S3::BucketPolicy with a Deny on aws:SecureTransport: 'false'"
    ]


# ---------------------------------------------------------------- E9201 tags


def test_tag_property_comes_from_the_schemas() -> None:
    assert tag_property("AWS::Backup::BackupVault") == "BackupVaultTags"
    assert tag_property("AWS::EFS::FileSystem") == "FileSystemTags"
    assert tag_property("AWS::SNS::Topic") == "Tags"
    # Taggable in cfn-lint 1.58's schemas (untaggable in 1.51's): the rule follows the schemas it runs with.
    assert tag_property("AWS::ElasticLoadBalancingV2::Listener") == "Tags"
    assert tag_property("AWS::ElastiCache::GlobalReplicationGroup") == "Tags"
    assert tag_property("AWS::ApplicationAutoScaling::ScalableTarget") == "Tags"
    assert tag_property("AWS::CloudWatch::Dashboard") == "Tags"
    assert tag_property("AWS::Logs::MetricFilter") is None
    assert tag_property("AWS::EC2::SecurityGroupIngress") is None
    assert tag_property("Custom::EmptyBucket") is None


def test_tag_keys_shapes() -> None:
    assert tag_keys([{"Key": "A", "Value": 1}, {"Key": "B", "Value": 2}]) == {"A", "B"}
    assert tag_keys({"A": "1", "B": "2"}) == {"A", "B"}
    assert tag_keys({"Ref": "TagsParam"}) is None  # not statically known: no finding
    assert tag_keys(None) == set()


def test_missing_tags_property_is_a_finding() -> None:
    text = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties: {}\n"
    assert messages("DrTags", text)[0].startswith(
        "AWS::SNS::Topic Topic: Tags lacks Environment, Application, CostCenter."
    )


# ---------------------------------------------------------------- E9301 names


def _length(value: object, header: str = ROLE_HEADER) -> tuple[int | None, bool]:
    r = _Rendering()
    _render(cfn_template(header + "Resources: {}\n"), value, r)
    return r.length, r.has_suffix


def test_name_rendering_uses_longest_values() -> None:
    assert _length({"Fn::Sub": "cloudtrail-${AWS::AccountId}-${AWS::Region}-${EnvironmentSuffix}"}) == (
        len("cloudtrail---") + 12 + 14 + 10,
        True,
    )
    assert _length({"Fn::Join": ["-", ["tg", {"Ref": "EnvironmentSuffix"}]]}) == (13, True)
    assert _length({"Fn::Sub": ["x-${S}", {"S": {"Ref": "EnvironmentSuffix"}}]}) == (12, True)
    assert _length({"Fn::Sub": "x-${Other.Name}-${EnvironmentSuffix}"}) == (None, True)
    assert _length("literal") == (7, False)


def test_name_limit_for_elasticache_is_40() -> None:
    text = (
        ROLE_HEADER
        + """
Resources:
  Redis:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: x
      ReplicationGroupId: !Sub 'streamflix-sessions-cache-store-${EnvironmentSuffix}-x'
"""
    )
    found = messages("DrNames", text)
    assert len(found) == 1
    assert "ReplicationGroupId can be 44 characters long" in found[0] and "over the limit of 40" in found[0]
    assert messages("DrNames", text.replace("-store-", "-")) == []  # 38 characters fit


# ---------------------------------------------------------------- E9501, E9601, E9701


def test_prefix_list_source_is_not_a_group() -> None:
    text = """
Resources:
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: x
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 443, ToPort: 443, SourcePrefixListId: pl-123}
"""
    assert "only other security groups may be sources" in messages("DrSecurityGroupIngress", text)[0]


@pytest.mark.parametrize(
    ("action", "flagged"),
    [("'*'", True), ("'s3:*'", True), ("'kms:GenerateDataKey*'", False), ("['s3:GetObject']", False)],
)
def test_wildcard_actions(action: str, flagged: bool) -> None:
    text = f"""
Resources:
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - {{Effect: Allow, Action: {action}, Resource: '*'}}
          - {{Effect: Deny, Action: '*', Resource: '*'}}
"""
    assert bool(messages("DrNoWildcardActions", text)) is flagged


def test_literal_secret_behind_a_condition_is_found() -> None:
    text = (
        ROLE_HEADER
        + """
Resources:
  Redis:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: x
      AuthToken: !If [IsPrimary, '{{resolve:secretsmanager:s:SecretString}}', 'abcdefghijklmnop1234']
"""
    )
    assert messages("DrNoPlaintextSecrets", text) == [
        "AWS::ElastiCache::ReplicationGroup Redis: AuthToken is a literal value. Fix: use "
        "'{{resolve:secretsmanager:<secret>:SecretString:<key>}}' or GenerateSecretString"
    ]
    assert messages("DrNoPlaintextSecrets", text.replace("'abcdefghijklmnop1234'", "!Ref AWS::NoValue")) == []


def test_secret_parameters_and_pointers() -> None:
    text = """
Parameters:
  DbPassword: {Type: String}
  ApiToken: {Type: String, NoEcho: true}
  DbSecretArn: {Type: String}
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Role: arn:aws:iam::123456789012:role/x
      Code: {ZipFile: x}
      Handler: index.handler
      Runtime: python3.12
      Environment:
        Variables:
          SECRET_ARN: !Ref DbSecretArn
          API_TOKEN: !Ref ApiToken
          DB_PASSWORD: !Ref DbPassword
"""
    assert messages("DrNoPlaintextSecrets", text) == [
        "AWS::Lambda::Function Fn: environment variable DB_PASSWORD carries a secret value. Fix: pass it "
        "through ECS Secrets (ValueFrom) or read it from Secrets Manager at run time",
        "parameter DbPassword looks secret but is not NoEcho. Fix: add NoEcho: true",
    ]


# ---------------------------------------------------------------- E9801 replication, E9901 outputs


def test_secret_that_exists_only_in_the_dr_role_needs_no_replica() -> None:
    text = (
        ROLE_HEADER
        + """
Resources:
  LocalSecret:
    Type: AWS::SecretsManager::Secret
    Condition: IsDr
    Properties: {GenerateSecretString: {}}
  SharedSecret:
    Type: AWS::SecretsManager::Secret
    Properties: {GenerateSecretString: {}}
"""
    )
    assert [m.split(" has ")[0] for m in messages("DrReplication", text)] == [
        "AWS::SecretsManager::Secret SharedSecret"
    ]
    # Linted as the DR stack (parameter set), nothing replicates from here.
    assert messages("DrReplication", text, {"Role": "dr"}) == []


def test_outputs_checked_for_the_stack_in_the_parameter_set() -> None:
    text = (
        ROLE_HEADER
        + "Resources: {}\nOutputs:\n"
        + "".join(f"  {name}: {{Value: x}}\n" for name in OUTPUTS_BY_ROLE[(Role.DR, Phase.BASE)])
    )
    assert messages("DrRequiredOutputs", text, {"Role": "dr", "Phase": "base"}) == []
    missing_primary = messages("DrRequiredOutputs", text, {"Role": "primary", "Phase": "full"})
    expected = set(OUTPUTS_BY_ROLE[(Role.PRIMARY, Phase.FULL)]) - set(OUTPUTS_BY_ROLE[(Role.DR, Phase.BASE)])
    assert {m.split()[1] for m in missing_primary} == expected
    # A template without the Role parameter is not one of ours: nothing to check.
    assert messages("DrRequiredOutputs", "Resources: {}\n") == []
    # No parameter set: every stack is checked.
    assert len(messages("DrRequiredOutputs", text)) == len(
        set(OUTPUTS_BY_ROLE[(Role.PRIMARY, Phase.FULL)]) | set(OUTPUTS_BY_ROLE[(Role.DR, Phase.FULL)])
    ) - len(OUTPUTS_BY_ROLE[(Role.DR, Phase.BASE)])


def test_resource_metadata_suppresses_a_dr_rule_like_any_cfn_lint_rule(lint_text) -> None:  # type: ignore[no-untyped-def]
    text = """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Metadata:
      cfn-lint: {config: {ignore_checks: [E9401]}}
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
"""
    assert not [m for m in lint_text(text) if m.rule.id == "E9401"]
    unsuppressed = text.replace("      cfn-lint: {config: {ignore_checks: [E9401]}}\n", "      note: x\n")
    assert len([m for m in lint_text(unsuppressed) if m.rule.id == "E9401"]) == 2


def test_secondary_finding_names_the_inherited_property() -> None:
    text = """
Resources:
  Redis:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: x
      GlobalReplicationGroupId: sgaui-x
      AtRestEncryptionEnabled: true
"""
    assert messages("DrEncryptionAtRest", text) == [
        "AWS::ElastiCache::ReplicationGroup Redis: a Global Datastore secondary inherits "
        "AtRestEncryptionEnabled from the global group; AWS refuses it here. Fix: remove "
        "AtRestEncryptionEnabled (inherited from the Global Datastore)"
    ]


@pytest.mark.parametrize(
    ("algorithm", "ok"),
    [
        ("{SSEAlgorithm: AES256}", False),
        ("{SSEAlgorithm: 'aws:kms', KMSMasterKeyID: alias/x}", True),
        ("{SSEAlgorithm: 'aws:kms:dsse', KMSMasterKeyID: alias/x}", True),
    ],
    ids=["sse-s3", "sse-kms", "dsse-kms"],
)
def test_s3_bucket_needs_a_kms_key(algorithm: str, ok: bool) -> None:
    text = f"""
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration: [{{ServerSideEncryptionByDefault: {algorithm}}}]
"""
    found = messages("DrEncryptionAtRest", text)
    assert (found == []) is ok, found
    if not ok:
        assert "AES256 is not a KMS key" in found[0]
