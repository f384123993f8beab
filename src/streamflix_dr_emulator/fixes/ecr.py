"""AWS::ECR::Repository ``EmptyOnDelete``, which moto 5.2.5 ignores.

CloudFormation: "If true, deleting the repository force deletes the contents of the repository. If false,
the repository must be empty before attempting to delete it."
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecr-repository.html#cfn-ecr-repository-emptyondelete).
The API's equivalent is DeleteRepository ``force``
(https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DeleteRepository.html); without it a repository
holding images refuses with RepositoryNotEmptyException, which moto already enforces. Without this fix a stack
whose repository received an image (by a push or by replication) could never be deleted on the emulator.
"""

from __future__ import annotations

from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr, to_bool

_installed = False


def install() -> None:
    """Remember EmptyOnDelete on create/update and honour it on delete. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.ecr.models import Repository, ecr_backends  # noqa: PLC0415

    original_create = Repository.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    original_update = Repository.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        repo = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        repo.empty_on_delete = to_bool(cloudformation_json.get("Properties", {}).get("EmptyOnDelete")) is True
        return repo

    def update(  # noqa: PLR0917 - moto's signature
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        repo = original_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        repo.empty_on_delete = to_bool(cloudformation_json.get("Properties", {}).get("EmptyOnDelete")) is True
        return repo

    def delete(self: Any, account_id: str, region_name: str) -> None:
        ecr_backends[account_id][region_name].delete_repository(
            self.name, force=getattr(self, "empty_on_delete", False)
        )

    patch_attr(Repository, "create_from_cloudformation_json", classmethod(create))
    patch_attr(Repository, "update_from_cloudformation_json", classmethod(update))
    patch_attr(Repository, "delete", delete)
    _installed = True
