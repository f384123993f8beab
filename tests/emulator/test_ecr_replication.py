"""ECR private image replication: a pushed image lands in the destination region's repository."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamflix_dr.aws.clients import ClientFactory

PRIMARY = "eu-west-2"
DR = "us-east-1"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "digest": "sha256:" + "a" * 64,
            "size": 1,
            "mediaType": "application/vnd.docker.container.image.v1+json",
        },
        "layers": [],
    }
)


@pytest.fixture
def replicating(factory: ClientFactory) -> Any:
    source = factory.client("ecr", PRIMARY)
    account = factory.client("sts", PRIMARY).get_caller_identity()["Account"]
    source.put_replication_configuration(
        replicationConfiguration={
            "rules": [
                {
                    "destinations": [{"region": DR, "registryId": account}],
                    "repositoryFilters": [{"filter": "streamflix-", "filterType": "PREFIX_MATCH"}],
                }
            ]
        }
    )
    yield source
    source.put_replication_configuration(replicationConfiguration={"rules": []})


def _tags(client: Any, repo: str) -> list[str]:
    images = client.describe_images(repositoryName=repo)["imageDetails"]
    return sorted(t for i in images for t in i.get("imageTags", []))


def test_push_replicates_into_the_pre_created_destination_repository(
    replicating: Any, factory: ClientFactory
) -> None:
    repo = f"streamflix-app-{uuid.uuid4().hex[:6]}"
    dest = factory.client("ecr", DR)
    replicating.create_repository(repositoryName=repo)
    dest.create_repository(repositoryName=repo)
    replicating.put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1")
    assert _tags(dest, repo) == ["v1"]
    # Same digest on both sides: it is the same image.
    src_digest = replicating.describe_images(repositoryName=repo)["imageDetails"][0]["imageDigest"]
    assert dest.describe_images(repositoryName=repo)["imageDetails"][0]["imageDigest"] == src_digest


def test_missing_destination_repository_is_created(replicating: Any, factory: ClientFactory) -> None:
    repo = f"streamflix-new-{uuid.uuid4().hex[:6]}"
    replicating.create_repository(repositoryName=repo)
    replicating.put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v2")
    assert _tags(factory.client("ecr", DR), repo) == ["v2"]


def test_repositories_outside_the_filter_are_not_replicated(replicating: Any, factory: ClientFactory) -> None:
    repo = f"other-{uuid.uuid4().hex[:6]}"
    replicating.create_repository(repositoryName=repo)
    replicating.put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1")
    with pytest.raises(ClientError) as err:
        factory.client("ecr", DR).describe_images(repositoryName=repo)
    assert err.value.response["Error"]["Code"] == "RepositoryNotFoundException"


def test_no_replication_without_rules(factory: ClientFactory) -> None:
    repo = f"streamflix-solo-{uuid.uuid4().hex[:6]}"
    source = factory.client("ecr", PRIMARY)
    source.put_replication_configuration(replicationConfiguration={"rules": []})
    source.create_repository(repositoryName=repo)
    source.put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1")
    with pytest.raises(ClientError):
        factory.client("ecr", DR).describe_images(repositoryName=repo)
