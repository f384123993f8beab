"""Secrets Manager failback: the primary region's secret becomes the primary again during re-protect.

After ``StopReplicationToReplica`` the DR copies are standalone secrets. Secrets Manager has no reverse
replication and no way to turn a standalone secret into a replica except ``ReplicateSecretToRegions``
with ``ForceOverwriteReplicaSecret`` ("Specifies whether to overwrite a secret with the same name in the
destination Region. By default, secrets aren't overwritten."
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ReplicateSecretToRegions.html).

Which side is primary during re-protect: the primary region's, at once. Its template declares the
secret with ``ReplicaRegions: [DR]``; making the DR copy a replica again needs one overwrite, whereas
replicating DR -> primary first would need a second StopReplication + overwrite at cut-back (two windows
where the copies could differ). The value used in DR (the DB password the new replica inherits by
physical replication) is copied to the primary side first, so the overwrite changes nothing the DR
application reads. The cost: while still in DR, a rotation must be done in the primary region.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.failback.base import FailbackError, FailbackStepId, NotDrainedError, ft, step_id
from streamflix_dr.runbook.steps import Step, StepContext, StepOutcome, error_code
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)


def _describe(ctx: StepContext, region: str, name: str) -> dict[str, Any] | None:
    try:
        return dict(ctx.client("secretsmanager", region).describe_secret(SecretId=name))
    except ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return None
        raise


def _value(ctx: StepContext, region: str, name: str) -> str | None:
    try:
        v = ctx.client("secretsmanager", region).get_secret_value(SecretId=name)
    except ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return None
        raise
    return str(v.get("SecretString") if v.get("SecretString") is not None else v.get("SecretBinary"))


def replicated(ctx: StepContext, name: str) -> bool:
    """True when the DR copy is a replica of the primary region's secret, in sync."""
    t = ft(ctx.topology)
    dr = _describe(ctx, t.dr.region, name)
    if not dr or dr.get("PrimaryRegion") != t.primary.region:
        return False
    prim = _describe(ctx, t.primary.region, name) or {}
    status = {r.get("Region"): r.get("Status") for r in prim.get("ReplicationStatus") or []}
    return status.get(t.dr.region) == "InSync"


class ReplicateSecretsFromPrimary(Step):
    """Copy values changed during DR to the primary region, drop stale replica entries, and replicate the
    primary region's secrets over the DR copies (ForceOverwriteReplicaSecret)."""

    actions = ("secretsmanager.replicate_secret",)

    def __init__(self, sid: FailbackStepId) -> None:
        self.id = step_id(sid)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"Secrets: copy DR values of {', '.join(t.secret_names) or 'no secrets'} to {f.primary.region}, "
            f"replicate them to {f.dr.region} again (ForceOverwriteReplicaSecret)"
        )

    def check_done(self, ctx: StepContext) -> bool:
        return all(replicated(ctx, n) for n in ctx.topology.secret_names)

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        copied, replicated_names = [], []
        for name in t.secret_names:
            if replicated(ctx, name):
                continue
            dr = _describe(ctx, t.dr.region, name)
            prim = _describe(ctx, t.primary.region, name)
            if prim is None:
                raise FailbackError(
                    f"{t.primary.region}: secret {name} does not exist.",
                    fix="redeploy the primary stack (it owns the secret) and rerun",
                )
            sm_primary = ctx.client("secretsmanager", t.primary.region)
            if dr is not None and dr.get("PrimaryRegion", t.dr.region) == t.dr.region:
                dr_value = _value(ctx, t.dr.region, name)
                if dr_value is not None and dr_value != _value(ctx, t.primary.region, name):
                    sm_primary.put_secret_value(SecretId=name, SecretString=dr_value)
                    copied.append(name)
            stale = [
                r["Region"] for r in prim.get("ReplicationStatus") or [] if r.get("Region") == t.dr.region
            ]
            if stale:
                sm_primary.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=stale)
            replica: dict[str, str] = {"Region": t.dr.region}
            if t.dr.kms_key_arn:
                replica["KmsKeyId"] = t.dr.kms_key_arn
            sm_primary.replicate_secret_to_regions(
                SecretId=name, AddReplicaRegions=[replica], ForceOverwriteReplicaSecret=True
            )
            ctx.latency.wait("secretsmanager.replicate_secret")
            replicated_names.append(name)
        return StepOutcome(
            message=(
                f"copied back: {', '.join(copied) or 'none'}; replicated: "
                f"{', '.join(replicated_names) or 'none needed'}"
            ),
        )

    def verify(self, ctx: StepContext) -> None:
        left = [n for n in ctx.topology.secret_names if not replicated(ctx, n)]
        if left:
            t = ft(ctx.topology)
            raise FailbackError(
                f"{t.dr.region}: not replicas of {t.primary.region} in sync: {', '.join(left)}.",
                fix="read ReplicationStatus in DescribeSecret (StatusMessage says why) and rerun",
            )


class DrainSecrets(Step):
    """The two copies of every secret hold the same value (a replica cannot diverge; a standalone can)."""

    actions = ()

    def __init__(self, force: bool = False) -> None:
        self.id = step_id(FailbackStepId.DRAIN_SECRETS)
        self.force = force

    def describe(self, t: Topology) -> str:
        return f"Secrets: {', '.join(t.secret_names) or 'none'} equal in both regions"

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        differ = [
            n for n in t.secret_names if _value(ctx, t.dr.region, n) != _value(ctx, t.primary.region, n)
        ]
        if differ and not self.force:
            raise NotDrainedError(
                f"secrets differ between {t.dr.region} and {t.primary.region}: {', '.join(differ)}.",
                fix="run the reprotect phase again (it copies DR values back), or --force",
            )
        return StepOutcome(
            message="secrets equal" if not differ else f"differ: {', '.join(differ)} (--force)",
            warnings=[f"--force: {n} differs between regions" for n in differ],
            metrics={"lost_seconds": 0.0 if not differ else None, "secrets_differing": float(len(differ))},
        )

    def verify(self, ctx: StepContext) -> None:
        return None
