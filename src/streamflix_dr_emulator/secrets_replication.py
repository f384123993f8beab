"""Secrets Manager ``StopReplicationToReplica`` for moto, and a consistent ``PrimaryRegion``.

* ``StopReplicationToReplica`` (called in the replica's region): "promotes the replica to a
  standalone primary secret in the replica Region"; the primary's ``ReplicationStatus`` no longer
  lists that region.
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_StopReplicationToReplica.html
  Called on a secret that is not a replica: InvalidRequestException (the error AWS lists for "the
  secret is not in the state the operation requires"); unknown secret: ResourceNotFoundException.
* ``DescribeSecret`` on a primary with replicas also returns ``PrimaryRegion`` (its own region), as
  AWS does; moto only returned it on the replica.
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html
* A promoted (standalone) secret has no link left to the former primary: deleting the primary, or the
  stack that made it (whose delete removes the primary's replica regions first), leaves it alone, and a
  new primary of the same name cannot replicate onto it.
* ``DeleteSecret`` on a primary that still has replicas: InvalidParameterException "You can't delete
  secret <ARN> that still has replica regions [<region>, <region>]." (AWS's text, quoted in
  rebuy-de/aws-nuke#1127 and gruntwork-io/cloud-nuke#435; "You can't delete a primary secret that is
  replicated to other Regions. You must first delete the replicas using RemoveRegionsFromReplication" —
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html). moto named the
  secret by whatever id the caller passed.
* ``ReplicateSecretToRegions`` onto a region that holds a secret of the same name, without
  ``ForceOverwriteReplicaSecret``: the call answers, that region's ReplicationStatus is ``Failed`` with
  "Replication failed: Secret name <name> already exists in region <region>." (moto wrote the name of its
  own test secret, "simple", whatever the name). With ``ForceOverwriteReplicaSecret`` the existing secret
  is replaced by the replica ("Specifies whether to overwrite a secret with the same name in the
  destination Region" — https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ReplicateSecretToRegions.html).
  ``AddReplicaRegions``: at least one entry, each Region a valid region, KmsKeyId at most 2048 characters.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from streamflix_dr_emulator import regional_state
from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)


def stop_replication_to_replica(account_id: str, region: str, secret_id: str) -> str:
    """Promote the replica ``secret_id`` in ``region`` to a standalone secret; return its ARN."""
    from moto.secretsmanager.exceptions import (  # noqa: PLC0415
        InvalidRequestException,
        SecretNotFoundException,
    )
    from moto.secretsmanager.models import FakeSecret, ReplicaSecret, secretsmanager_backends  # noqa: PLC0415

    backend = secretsmanager_backends[account_id][region]
    with regional_state.LOCK:
        if not secret_id or secret_id not in backend.secrets:
            raise SecretNotFoundException()
        replica = backend.secrets[secret_id]
        if not isinstance(replica, ReplicaSecret):
            raise InvalidRequestException(
                f"Secret {secret_id} in {region} is not a replica; call StopReplicationToReplica in the "
                "replica's region with the replica's ARN or name."
            )
        source: Any = replica.source
        standalone = FakeSecret(
            account_id=account_id,
            region_name=region,
            secret_id=source.secret_id,
            secret_version={},
            version_id="",
            description=source.description,
            tags=source.tags,
            kms_key_id=replica.config.get("KmsKeyId"),
            last_changed_date=source.last_changed_date,
            created_date=source.created_date,
        )
        # The replica keeps its ARN and every version: replication copied them; only the link goes.
        standalone.arn = replica.arn
        standalone.versions = {
            vid: dict(v, version_stages=list(v["version_stages"])) for vid, v in source.versions.items()
        }
        standalone.default_version_id = source.default_version_id
        standalone.secret_string = source.secret_string
        standalone.secret_binary = source.secret_binary
        dict.pop(backend.secrets, replica.arn, None)
        for key in [k for k, v in dict.items(backend.secrets) if v is replica]:
            dict.pop(backend.secrets, key)
        backend.secrets[standalone.name] = standalone
        source.replicas = [r for r in source.replicas if r is not replica]
        log.info("secret %s in %s promoted to a standalone secret", standalone.name, region)
        return str(standalone.arn)


# AWS API: secretsmanager StopReplicationToReplica —
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_StopReplicationToReplica.html
def _api_stop_replication_to_replica(self: Any) -> str:
    arn = stop_replication_to_replica(self.current_account, self.region, self._get_param("SecretId"))
    return json.dumps({"ARN": arn})


_installed = False


def install() -> None:
    """Add StopReplicationToReplica to moto's Secrets Manager; PrimaryRegion on primaries."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.secretsmanager.exceptions import InvalidParameterException  # noqa: PLC0415
    from moto.secretsmanager.models import FakeSecret, ReplicaSecret, SecretsManagerBackend  # noqa: PLC0415
    from moto.secretsmanager.responses import SecretsManagerResponse  # noqa: PLC0415

    patch_attr(SecretsManagerResponse, "stop_replication_to_replica", _api_stop_replication_to_replica)

    original_to_dict = FakeSecret.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original_to_dict(self)
        if self.replicas:
            result.setdefault("PrimaryRegion", self.region)
        return result

    patch_attr(FakeSecret, "to_dict", to_dict)

    original_create_replicas = FakeSecret.create_replicas

    # AWS API: secretsmanager ReplicateSecretToRegions —
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ReplicateSecretToRegions.html
    def create_replicas(self: Any, replica_regions: list[dict[str, str]], force_overwrite: bool) -> Any:
        import boto3  # noqa: PLC0415

        valid = set(boto3.session.Session().get_available_regions("secretsmanager"))
        for spec in replica_regions or []:
            region = spec.get("Region")
            if region not in valid:
                raise InvalidParameterException(f"Invalid replica region {region!r}.")
            if len(str(spec.get("KmsKeyId") or "")) > 2048:
                raise InvalidParameterException("KmsKeyId is longer than 2048 characters.")
        replicas = original_create_replicas(self, replica_regions, force_overwrite=force_overwrite)
        for replica in replicas:
            if replica.status == "Failed":
                replica.message = (
                    f"Replication failed: Secret name {self.name} already exists in region {replica.region}."
                )
                replica.config["StatusMessage"] = replica.message
        return replicas

    patch_attr(FakeSecret, "create_replicas", create_replicas)

    original_replicate = SecretsManagerBackend.replicate_secret_to_regions

    def replicate_secret_to_regions(
        self: Any, secret_id: str, replica_regions: list[dict[str, str]], force_overwrite: bool
    ) -> Any:
        if not replica_regions:
            # AddReplicaRegions: "Array Members: Minimum number of 1 item." (required)
            raise InvalidParameterException("AddReplicaRegions needs at least one region.")
        return original_replicate(self, secret_id, replica_regions, force_overwrite)

    patch_attr(SecretsManagerBackend, "replicate_secret_to_regions", replicate_secret_to_regions)

    original_delete = SecretsManagerBackend.delete_secret

    # AWS API: secretsmanager DeleteSecret —
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html
    def delete_secret(
        self: Any, secret_id: str, recovery_window_in_days: int | None, force_delete_without_recovery: bool
    ) -> Any:
        if self._is_valid_identifier(secret_id):
            secret = self.secrets[secret_id]
            if not isinstance(secret, ReplicaSecret) and secret.replicas:
                regions = ", ".join(r.region for r in secret.replicas)
                raise InvalidParameterException(
                    f"You can't delete secret {secret.arn} that still has replica regions [{regions}]."
                )
        return original_delete(self, secret_id, recovery_window_in_days, force_delete_without_recovery)

    patch_attr(SecretsManagerBackend, "delete_secret", delete_secret)
    _installed = True
