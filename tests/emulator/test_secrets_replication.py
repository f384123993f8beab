"""Secrets Manager StopReplicationToReplica and PrimaryRegion on the emulator, through boto3."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import aws, error_of, uid
from botocore.exceptions import ClientError

PRIMARY = "eu-west-2"
DR = "us-east-1"


def replicated_secret(endpoint: str) -> tuple[str, str]:
    name = uid("db-")
    arn = aws(endpoint, "secretsmanager", PRIMARY).create_secret(
        Name=name, SecretString='{"password": "s3cret"}', AddReplicaRegions=[{"Region": DR}]
    )["ARN"]
    return name, str(arn)


def test_describe_is_consistent_in_both_regions(endpoint: str) -> None:
    name, _ = replicated_secret(endpoint)
    primary = aws(endpoint, "secretsmanager", PRIMARY).describe_secret(SecretId=name)
    replica = aws(endpoint, "secretsmanager", DR).describe_secret(SecretId=name)
    assert primary["PrimaryRegion"] == PRIMARY
    assert [s["Region"] for s in primary["ReplicationStatus"]] == [DR]
    assert replica["PrimaryRegion"] == PRIMARY
    assert replica["ARN"].split(":")[3] == DR


def test_stop_replication_promotes_replica(endpoint: str) -> None:
    name, primary_arn = replicated_secret(endpoint)
    dr = aws(endpoint, "secretsmanager", DR)
    # Before: the replica refuses writes (they must go to the primary's region).
    with pytest.raises(ClientError) as e:
        dr.put_secret_value(SecretId=name, SecretString="nope")
    assert error_of(e)[0] == "InvalidParameterException"

    arn = dr.stop_replication_to_replica(SecretId=name)["ARN"]
    assert arn == primary_arn.replace(f":{PRIMARY}:", f":{DR}:")
    standalone = dr.describe_secret(SecretId=name)
    assert "PrimaryRegion" not in standalone
    assert "ReplicationStatus" not in standalone
    assert standalone["ARN"] == arn
    assert dr.get_secret_value(SecretId=name)["SecretString"] == '{"password": "s3cret"}'
    # Now writable, and independent of the former primary.
    dr.put_secret_value(SecretId=name, SecretString="rotated-in-dr")
    assert dr.get_secret_value(SecretId=name)["SecretString"] == "rotated-in-dr"
    primary = aws(endpoint, "secretsmanager", PRIMARY)
    assert primary.get_secret_value(SecretId=name)["SecretString"] == '{"password": "s3cret"}'
    described = primary.describe_secret(SecretId=name)
    assert "ReplicationStatus" not in described
    assert "PrimaryRegion" not in described


def test_former_primary_can_be_deleted_after_stop(endpoint: str) -> None:
    name, _ = replicated_secret(endpoint)
    primary = aws(endpoint, "secretsmanager", PRIMARY)
    with pytest.raises(ClientError) as e:
        primary.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert error_of(e)[0] == "InvalidParameterException"
    aws(endpoint, "secretsmanager", DR).stop_replication_to_replica(SecretId=name)
    primary.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert aws(endpoint, "secretsmanager", DR).describe_secret(SecretId=name)["Name"] == name


def test_stop_on_primary_is_refused(endpoint: str) -> None:
    name, _ = replicated_secret(endpoint)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "secretsmanager", PRIMARY).stop_replication_to_replica(SecretId=name)
    assert error_of(e) == ("InvalidRequestException", 400)
    assert "not a replica" in str(e.value)


def test_stop_twice_is_refused(endpoint: str) -> None:
    name, _ = replicated_secret(endpoint)
    dr = aws(endpoint, "secretsmanager", DR)
    dr.stop_replication_to_replica(SecretId=name)
    with pytest.raises(ClientError) as e:
        dr.stop_replication_to_replica(SecretId=name)
    assert error_of(e) == ("InvalidRequestException", 400)


def test_stop_unknown_secret(endpoint: str) -> None:
    with pytest.raises(ClientError) as e:
        aws(endpoint, "secretsmanager", DR).stop_replication_to_replica(SecretId=uid("missing-"))
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_stop_by_replica_arn(endpoint: str) -> None:
    name, primary_arn = replicated_secret(endpoint)
    replica_arn = primary_arn.replace(f":{PRIMARY}:", f":{DR}:")
    assert (
        aws(endpoint, "secretsmanager", DR).stop_replication_to_replica(SecretId=replica_arn)["ARN"]
        == replica_arn
    )
    assert aws(endpoint, "secretsmanager", DR).describe_secret(SecretId=replica_arn)["Name"] == name


def test_delete_of_a_replicated_primary_names_its_arn_and_regions(endpoint: str) -> None:
    name, arn = replicated_secret(endpoint)
    with pytest.raises(ClientError) as e:
        aws(endpoint, "secretsmanager", PRIMARY).delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert error_of(e) == ("InvalidParameterException", 400)
    assert f"You can't delete secret {arn} that still has replica regions [{DR}]." in str(e.value)


def test_replication_onto_a_same_name_secret_fails_unless_forced(endpoint: str) -> None:
    name = uid("app-")
    aws(endpoint, "secretsmanager", DR).create_secret(Name=name, SecretString="dr-own")
    primary = aws(endpoint, "secretsmanager", PRIMARY)
    primary.create_secret(Name=name, SecretString="primary")
    status = primary.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": DR}])[
        "ReplicationStatus"
    ]
    assert [(s["Region"], s["Status"]) for s in status] == [(DR, "Failed")]
    assert (
        status[0]["StatusMessage"] == f"Replication failed: Secret name {name} already exists in region {DR}."
    )
    assert aws(endpoint, "secretsmanager", DR).get_secret_value(SecretId=name)["SecretString"] == "dr-own"
    primary.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[DR])
    forced = primary.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": DR}], ForceOverwriteReplicaSecret=True
    )["ReplicationStatus"]
    assert [(s["Region"], s["Status"]) for s in forced] == [(DR, "InSync")]
    assert aws(endpoint, "secretsmanager", DR).get_secret_value(SecretId=name)["SecretString"] == "primary"


def test_replicate_to_an_unknown_region_is_refused(endpoint: str) -> None:
    name = uid("app-")
    primary = aws(endpoint, "secretsmanager", PRIMARY)
    primary.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as e:
        primary.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": "mars-north-1"}])
    assert error_of(e)[0] == "InvalidParameterException"


def test_a_promoted_secret_outlives_the_primary_stack_and_blocks_its_next_replication(
    endpoint: str, stacks: Any
) -> None:
    name = uid("db-")
    template = {
        "Resources": {
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "Name": name,
                    "SecretString": '{"password": "s3cret"}',
                    "ReplicaRegions": [{"Region": DR}],
                },
            }
        }
    }
    stack = stacks.create(template, region=PRIMARY)
    stacks.assert_status(stack)
    dr = aws(endpoint, "secretsmanager", DR)
    dr.stop_replication_to_replica(SecretId=name)  # the failover
    stacks.delete(stack["StackName"], region=PRIMARY)
    assert stacks.describe(stack["StackId"], region=PRIMARY)["StackStatus"] == "DELETE_COMPLETE"
    # Destroy leaves the promoted secret behind...
    assert dr.get_secret_value(SecretId=name)["SecretString"] == '{"password": "s3cret"}'
    # ...and the next deploy of the same environment cannot replicate onto it.
    again = stacks.create(template, region=PRIMARY)
    assert again["StackStatus"] in ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
    reasons = " ".join(
        str(e.get("ResourceStatusReason")) for e in stacks.events(again["StackId"], region=PRIMARY)
    )
    assert f"Secret name {name} already exists in region {DR}" in reasons
