"""AWS::SecretsManager::Secret, with ReplicaRegions, through CloudFormation."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
PEER_REGION = "eu-west-2"
Stacks = Any  # the ``stacks`` fixture from conftest


def secret_template(name: str, replica_kms: str = "alias/dr-secrets", **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "Name": name,
        "Description": "database credentials",
        "GenerateSecretString": {
            "SecretStringTemplate": json.dumps({"username": "streamflix"}),
            "GenerateStringKey": "password",
            "PasswordLength": 24,
            "ExcludePunctuation": True,
        },
        "ReplicaRegions": [{"Region": PEER_REGION, "KmsKeyId": replica_kms}],
        "Tags": [{"Key": "app", "Value": "streamflix"}],
    }
    props.update(extra)
    return {
        "Resources": {"Db": {"Type": "AWS::SecretsManager::Secret", "Properties": props}},
        "Outputs": {"Ref": {"Value": {"Ref": "Db"}}, "Id": {"Value": {"Fn::GetAtt": ["Db", "Id"]}}},
    }


def test_secret_with_replica_lifecycle(stacks: Stacks) -> None:
    name = f"streamflix/db-{uuid.uuid4().hex[:6]}"
    sm = stacks.factory.client("secretsmanager", REGION)
    peer = stacks.factory.client("secretsmanager", PEER_REGION)
    stack = stacks.create(secret_template(name), tags={"env": "test"})
    stacks.assert_status(stack)
    out = stacks.outputs(stack["StackName"])

    described = sm.describe_secret(SecretId=name)
    assert out["Ref"] == out["Id"] == described["ARN"]  # Ref of a secret is its ARN
    assert described["Description"] == "database credentials"
    assert described["ReplicationStatus"] == [
        {
            "Region": PEER_REGION,
            "KmsKeyId": "alias/dr-secrets",
            "Status": "InSync",
            "StatusMessage": "Replication succeeded",
        }
    ]
    tags = stacks.tag_map(described["Tags"])
    assert tags["app"] == "streamflix"
    assert tags["env"] == "test"
    value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert value["username"] == "streamflix"
    assert len(value["password"]) == 24
    replica = peer.describe_secret(SecretId=name)
    assert replica["PrimaryRegion"] == REGION
    assert json.loads(peer.get_secret_value(SecretId=name)["SecretString"]) == value

    # Update in place: description, and the replica's key.
    updated = secret_template(name, replica_kms="alias/dr-secrets-2", Description="rotated creds")
    stacks.assert_status(stacks.update(stack["StackName"], updated), "UPDATE_COMPLETE")
    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "rotated creds"
    assert described["ReplicationStatus"][0]["KmsKeyId"] == "alias/dr-secrets-2"
    assert stacks.outputs(stack["StackName"])["Ref"] == out["Ref"]

    # Dropping the replica region removes the replica.
    no_replica = secret_template(name, Description="rotated creds", ReplicaRegions=[])
    stacks.assert_status(stacks.update(stack["StackName"], no_replica), "UPDATE_COMPLETE")
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=name)
    with pytest.raises(ClientError) as err:
        peer.describe_secret(SecretId=name)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_delete_removes_replicas_then_the_secret(stacks: Stacks) -> None:
    name = f"streamflix/api-{uuid.uuid4().hex[:6]}"
    stack = stacks.create(secret_template(name, SecretString="s3cr3t", GenerateSecretString=None))
    stacks.assert_status(stack)
    stacks.delete(stack["StackName"])
    assert stacks.describe(stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    for region in (REGION, PEER_REGION):
        with pytest.raises(ClientError) as err:
            stacks.factory.client("secretsmanager", region).describe_secret(SecretId=name)
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_secret_string_and_generate_exclude_each_other(stacks: Stacks) -> None:
    template = secret_template(f"streamflix/bad-{uuid.uuid4().hex[:6]}", SecretString="x")
    stack = stacks.create(template)
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "GenerateSecretString" in stack["StackStatusReason"]
