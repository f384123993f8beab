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
    from moto.secretsmanager.models import FakeSecret  # noqa: PLC0415
    from moto.secretsmanager.responses import SecretsManagerResponse  # noqa: PLC0415

    patch_attr(SecretsManagerResponse, "stop_replication_to_replica", _api_stop_replication_to_replica)

    original_to_dict = FakeSecret.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original_to_dict(self)
        if self.replicas:
            result.setdefault("PrimaryRegion", self.region)
        return result

    patch_attr(FakeSecret, "to_dict", to_dict)
    _installed = True
