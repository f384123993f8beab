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


def _repository(empty_on_delete: bool) -> dict[str, Any]:
    return {
        "Resources": {
            "Repo": {
                "Type": "AWS::ECR::Repository",
                "Properties": {
                    "RepositoryName": f"streamflix-eod-{str(empty_on_delete).lower()}",
                    "EmptyOnDelete": empty_on_delete,
                },
            }
        }
    }


IMAGE = (
    '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", '
    '"config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, '
    '"digest": "sha256:' + "b" * 64 + '"}, "layers": []}'
)


def test_empty_on_delete_removes_a_repository_that_holds_images(stacks: Stacks) -> None:
    ecr = stacks.factory.client("ecr", REGION)
    stack = stacks.create(_repository(True))
    stacks.assert_status(stack)
    ecr.put_image(repositoryName="streamflix-eod-true", imageManifest=IMAGE, imageTag="v1")
    stacks.delete(stack["StackName"])
    assert stacks.describe(stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "streamflix-eod-true" not in names


def test_without_empty_on_delete_a_repository_with_images_fails_the_delete(stacks: Stacks) -> None:
    ecr = stacks.factory.client("ecr", REGION)
    stack = stacks.create(_repository(False))
    stacks.assert_status(stack)
    ecr.put_image(repositoryName="streamflix-eod-false", imageManifest=IMAGE, imageTag="v1")
    stacks.delete(stack["StackName"])
    described = stacks.describe(stack["StackId"])
    assert described["StackStatus"] == "DELETE_FAILED"
    assert "still contains images" in str(described.get("StackStatusReason"))
    ecr.delete_repository(repositoryName="streamflix-eod-false", force=True)
