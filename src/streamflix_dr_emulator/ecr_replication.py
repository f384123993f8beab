"""ECR private image replication: a pushed image is copied to the registry's replication destinations.

AWS: "After you configure private image replication, images pushed to a repository are replicated to the
destination Regions ... only repository content pushed after replication is configured is replicated", and
"if the repository does not exist in the destination, ECR creates it"
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html;
API: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutReplicationConfiguration.html,
RepositoryFilter PREFIX_MATCH). moto 5.2.5 stores the configuration but never copies an image, so the DR
region's repository stays empty and readiness (image present in the DR region) could never pass.

Here a successful PutImage in a region whose registry has rules copies the image (same manifest, media type
and tag) into each destination region of the same account, creating the repository there if needed. AWS
replicates asynchronously within minutes; the emulator copies at once. Cross-account destinations are not
modelled.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from moto.ecr.exceptions import ImageAlreadyExistsException
from moto.ecr.models import ECRBackend, ecr_backends

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False


def _matches(rule: dict[str, Any], repository_name: str) -> bool:
    filters = rule.get("repositoryFilters") or []
    if not filters:
        return True
    return any(
        f.get("filterType") == "PREFIX_MATCH" and repository_name.startswith(str(f.get("filter", "")))
        for f in filters
    )


def replicate(backend: ECRBackend, repository_name: str, image: Any, image_tag: str | None) -> list[str]:
    """Copy ``image`` to every destination region the rules select; returns the regions written."""
    written: list[str] = []
    source_repo = backend.repositories[repository_name]
    if _original_put_image is None:
        raise RuntimeError("ecr_replication.install() has not run")
    for rule in backend.replication_config.get("rules") or []:
        if not _matches(rule, repository_name):
            continue
        for dest in rule.get("destinations") or []:
            region, registry = dest.get("region"), str(dest.get("registryId"))
            if registry != backend.account_id or region == backend.region_name:
                continue
            target = ecr_backends[backend.account_id][region]
            if repository_name not in target.repositories:
                # A repository ECR creates for replication gets the defaults (AES256), not the source's
                # settings, unless a repository creation template says otherwise (not modelled). This
                # project's DR stack pre-creates its repository, so this path is the unmanaged fallback.
                target.create_repository(
                    repository_name=repository_name,
                    registry_id=None,
                    encryption_config={},
                    image_scan_config=None,
                    image_tag_mutability=source_repo.image_tag_mutability,
                    tags=[],
                )
            # Already there (a second push of the same tag): replication is idempotent.
            with contextlib.suppress(ImageAlreadyExistsException):
                _original_put_image(
                    target,
                    repository_name,
                    image.image_manifest,
                    image_tag or "",
                    image_manifest_mediatype=image.image_manifest_media_type,
                )
            written.append(region)
            log.info(
                "ECR image %s:%s replicated %s -> %s", repository_name, image_tag, backend.region_name, region
            )
    return written


_original_put_image: Any = None


def install() -> None:
    """Patch ECRBackend.put_image to replicate after a successful push. Idempotent."""
    global _installed, _original_put_image  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    _original_put_image = ECRBackend.put_image

    def put_image(
        self: ECRBackend, repository_name: str, image_manifest: str, image_tag: str, *args: Any, **kwargs: Any
    ) -> Any:
        image = _original_put_image(self, repository_name, image_manifest, image_tag, *args, **kwargs)
        replicate(self, repository_name, image, image_tag)
        return image

    patch_attr(ECRBackend, "put_image", put_image)
    _installed = True
