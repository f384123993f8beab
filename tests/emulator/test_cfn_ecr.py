"""AWS::ECR::ReplicationConfiguration through CloudFormation."""

from __future__ import annotations

from typing import Any

REGION = "us-east-1"
Stacks = Any  # the ``stacks`` fixture from conftest


def template(destination: str = "eu-west-2", prefix: str = "streamflix") -> dict[str, Any]:
    return {
        "Resources": {
            "Replication": {
                "Type": "AWS::ECR::ReplicationConfiguration",
                "Properties": {
                    "ReplicationConfiguration": {
                        "Rules": [
                            {
                                "Destinations": [
                                    {"Region": destination, "RegistryId": {"Ref": "AWS::AccountId"}}
                                ],
                                "RepositoryFilters": [{"Filter": prefix, "FilterType": "PREFIX_MATCH"}],
                            }
                        ]
                    }
                },
            }
        },
        "Outputs": {"Registry": {"Value": {"Ref": "Replication"}}},
    }


def test_replication_configuration_lifecycle(stacks: Stacks) -> None:
    ecr = stacks.factory.client("ecr", REGION)
    stack = stacks.create(template())
    stacks.assert_status(stack)
    registry = ecr.describe_registry()
    assert stacks.outputs(stack["StackName"])["Registry"] == registry["registryId"]
    rules = registry["replicationConfiguration"]["rules"]
    assert rules == [
        {
            "destinations": [{"region": "eu-west-2", "registryId": registry["registryId"]}],
            "repositoryFilters": [{"filter": "streamflix", "filterType": "PREFIX_MATCH"}],
        }
    ]

    stacks.assert_status(
        stacks.update(stack["StackName"], template(destination="us-west-2")), "UPDATE_COMPLETE"
    )
    rules = ecr.describe_registry()["replicationConfiguration"]["rules"]
    assert rules[0]["destinations"][0]["region"] == "us-west-2"

    stacks.delete(stack["StackName"])
    assert ecr.describe_registry()["replicationConfiguration"]["rules"] == []


def test_destination_in_own_region_fails_with_reason(stacks: Stacks) -> None:
    stack = stacks.create(template(destination=REGION))
    stacks.assert_status(stack, "ROLLBACK_COMPLETE")
    assert "AWS::ECR::ReplicationConfiguration" in stack["StackStatusReason"]
    assert "same as the source registry" in stack["StackStatusReason"]
