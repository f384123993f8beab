"""EFS failback steps: replicate into the EXISTING file system of the other region, drain, delete.

EFS supports failback since 2023-11-28: "create a replication configuration on the replica file system,
where the primary file system is the replication destination ... Amazon EFS identifies and transfers the
differences" (https://docs.aws.amazon.com/efs/latest/ug/replication-fail-over.html). The destination's
replication overwrite protection must be DISABLED first
(https://docs.aws.amazon.com/efs/latest/ug/replicate-existing-destination.html); while it is a destination
it reads REPLICATING and is read-only.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from streamflix_dr.errors import FailoverError
from streamflix_dr.failback.base import (
    FailbackError,
    FailbackStepId,
    NotDrainedError,
    Side,
    fenced_at,
    ft,
    step_id,
)
from streamflix_dr.runbook.steps import Step, StepContext, StepOutcome, error_code, is_unreachable, poll
from streamflix_dr.runbook.topology import Topology

log = logging.getLogger(__name__)

ACTIVE = ("ENABLED", "ENABLING")


def replication_of(ctx: StepContext, region: str, fs_id: str) -> dict[str, Any] | None:
    """The replication configuration ``fs_id`` is in (as source or destination), seen from ``region``."""
    try:
        reps = ctx.client("efs", region).describe_replication_configurations(FileSystemId=fs_id)
    except ClientError as e:
        if error_code(e) in ("ReplicationNotFound", "FileSystemNotFound"):
            return None
        raise
    items = reps.get("Replications") or []
    return dict(items[0]) if items else None


def destination(rep: dict[str, Any] | None) -> dict[str, Any]:
    dests = (rep or {}).get("Destinations") or [{}]
    return dict(dests[0])


def protection(ctx: StepContext, region: str, fs_id: str) -> str:
    fs = ctx.client("efs", region).describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    return str(fs.get("FileSystemProtection", {}).get("ReplicationOverwriteProtection", ""))


def lost_and_found_note(fs_id: str, region: str, source_fs: str) -> str:
    # "After the configuration is deleted, Amazon EFS might write some data to a lost+found directory in
    # the root directory of the destination file system" (efs-replication-lost+found-<source>-<TIMESTAMP>).
    # https://docs.aws.amazon.com/efs/latest/ug/delete-replications.html. The EFS API cannot list files.
    return (
        f"mount {fs_id} ({region}) and check /efs-replication-lost+found-{source_fs}-*: EFS may have put "
        "files there that it could not place; the API cannot list them"
    )


class ReverseEfs(Step):
    """Replicate the other side's file system into ``dest``'s existing one (only differences move)."""

    actions = ("efs.delete_replication_configuration", "efs.create_replication_configuration")

    def __init__(self, dest: str, sid: FailbackStepId) -> None:
        self.dest_name = dest
        self.id = step_id(sid)

    def _sides(self, t: Topology) -> tuple[Side, Side]:
        f = ft(t)
        dest = f.primary if self.dest_name == "primary" else f.dr
        return dest, f.other(dest)

    def describe(self, t: Topology) -> str:
        dest, src = self._sides(t)
        return (
            f"EFS: delete any leftover configuration on {dest.fs_id} ({dest.region}), set its overwrite "
            f"protection DISABLED, replicate {src.fs_id} ({src.region}) into it"
        )

    def _wanted(self, rep: dict[str, Any] | None, dest: Side, src: Side) -> bool:
        d = destination(rep)
        return (
            rep is not None
            and rep.get("SourceFileSystemId") == src.fs_id
            and d.get("FileSystemId") == dest.fs_id
        )

    def check_done(self, ctx: StepContext) -> bool:
        dest, src = self._sides(ctx.topology)
        if not (dest.fs_id and src.fs_id):
            return False
        rep = replication_of(ctx, src.region, src.fs_id)
        return self._wanted(rep, dest, src) and destination(rep).get("Status") == "ENABLED"

    def run(self, ctx: StepContext) -> StepOutcome:
        dest, src = self._sides(ctx.topology)
        if not (dest.fs_id and src.fs_id):
            return StepOutcome(message="no file system", skipped=True, warnings=["EFS ids unknown: skipped"])
        outcome = StepOutcome()
        rep = replication_of(ctx, src.region, src.fs_id)
        if not self._wanted(rep, dest, src):
            for region, fs in ((dest.region, dest.fs_id), (src.region, src.fs_id)):
                left = replication_of(ctx, region, fs)
                if left is not None:
                    outcome.warnings.append(self._delete_leftover(ctx, region, left))
            if protection(ctx, dest.region, dest.fs_id) != "DISABLED":
                # UpdateFileSystemProtection: "cannot be changed while the file system is a replication
                # destination" - hence after the leftovers are gone.
                # https://docs.aws.amazon.com/efs/latest/ug/API_UpdateFileSystemProtection.html
                ctx.client("efs", dest.region).update_file_system_protection(
                    FileSystemId=dest.fs_id, ReplicationOverwriteProtection="DISABLED"
                )
            # DestinationToCreate.FileSystemId: "When you initially configure replication to an existing
            # file system, Amazon EFS writes data to or removes existing data from the destination file
            # system to match data in the source file system."
            # https://docs.aws.amazon.com/efs/latest/ug/API_CreateReplicationConfiguration.html
            ctx.client("efs", src.region).create_replication_configuration(
                SourceFileSystemId=src.fs_id,
                Destinations=[{"Region": dest.region, "FileSystemId": dest.fs_id}],
            )
            ctx.latency.wait("efs.create_replication_configuration")
        poll(
            ctx,
            f"EFS replication {src.fs_id} -> {dest.fs_id} enabled",
            src.region,
            lambda: self.check_done(ctx),
        )
        outcome.message = f"{src.fs_id} ({src.region}) replicates into {dest.fs_id} ({dest.region})"
        return outcome

    def _delete_leftover(self, ctx: StepContext, region: str, rep: dict[str, Any]) -> str:
        source_fs = str(rep.get("SourceFileSystemId"))
        efs = ctx.client("efs", region)
        try:
            efs.delete_replication_configuration(SourceFileSystemId=source_fs)
        except ClientError as e:
            if error_code(e) == "ReplicationNotFound":
                return f"leftover {source_fs} configuration already gone"
            if not is_unreachable(e) and error_code(e) not in (
                "BadRequest",
                "IncorrectFileSystemLifeCycleState",
            ):
                raise
            # The other side of a configuration the failover deleted locally is unrecoverable: delete
            # this side only [API DeleteReplicationConfiguration, DeletionMode].
            efs.delete_replication_configuration(
                SourceFileSystemId=source_fs, DeletionMode="LOCAL_CONFIGURATION_ONLY"
            )
        ctx.latency.wait("efs.delete_replication_configuration")
        here = (
            source_fs
            if rep.get("SourceFileSystemRegion") == region
            else str(destination(rep).get("FileSystemId"))
        )
        poll(
            ctx,
            f"leftover EFS configuration of {source_fs} deleted",
            region,
            lambda: replication_of(ctx, region, here) is None,
        )
        return f"deleted the leftover replication configuration of {source_fs} in {region}"

    def verify(self, ctx: StepContext) -> None:
        dest, src = self._sides(ctx.topology)
        if dest.fs_id and src.fs_id and not self.check_done(ctx):
            raise FailbackError(
                f"EFS replication {src.fs_id} -> {dest.fs_id} is not enabled.",
                fix="wait (the first sync copies the differences) and rerun to resume",
            )


class DrainEfs(Step):
    """Wait for a sync of the DR file system into the primary's that finished after the fence: EFS
    replication is not point-in-time, so only a sync that started after the last write counts."""

    actions = ("efs.drain_sync",)

    def __init__(self, force: bool = False) -> None:
        self.id = step_id(FailbackStepId.DRAIN_EFS)
        self.force = force

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"EFS: wait for LastReplicatedTimestamp of {f.dr.fs_id} -> {f.primary.fs_id} later than the fence"
        )

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        if not (t.dr.fs_id and t.primary.fs_id):
            return StepOutcome(message="no file system", skipped=True, metrics={"lost_seconds": None})
        fence = fenced_at(ctx)
        if fence is None:
            raise FailbackError(
                "the DR writers were not fenced (no fence tag).", fix="run the cut-back from its start"
            )
        rep = replication_of(ctx, t.dr.region, t.dr.fs_id)
        if rep is None or rep.get("SourceFileSystemId") != t.dr.fs_id:
            if replication_of(ctx, t.primary.region, t.primary.fs_id) is None and (
                protection(ctx, t.primary.region, t.primary.fs_id) == "ENABLED"
            ):
                return StepOutcome(
                    message="already failed back (nothing to drain)", metrics={"lost_seconds": 0.0}
                )
            raise FailbackError(
                f"{t.dr.fs_id} does not replicate into {t.primary.fs_id}.",
                fix="run the reprotect phase first",
            )
        last: list[float | None] = [None]

        def synced() -> bool:
            r = replication_of(ctx, t.dr.region, t.dr.fs_id)
            ts = destination(r).get("LastReplicatedTimestamp")
            last[0] = ts.timestamp() if ts is not None else None
            return last[0] is not None and last[0] > fence

        try:
            poll(ctx, f"an EFS sync of {t.dr.fs_id} after the fence", t.dr.region, synced)
        except FailoverError as e:  # the poll's budget ran out: decided below
            log.info("EFS drain poll ended: %s", e)
        ctx.latency.wait("efs.drain_sync")
        if last[0] is not None and last[0] > fence:
            return StepOutcome(message="synced after the fence", metrics={"lost_seconds": 0.0})
        gap = None if last[0] is None else fence - last[0]
        shown = "unknown (never synced)" if gap is None else f"{gap:.0f} s"
        if not self.force:
            raise NotDrainedError(
                f"EFS {t.dr.fs_id} has not synced into {t.primary.fs_id} since the fence (last sync {shown} "
                "before it); failing back now would lose those files (--force goes on and reports it).",
                fix="wait and rerun the same command; or pass --force and accept the loss",
            )
        return StepOutcome(
            message=f"NOT synced after the fence ({shown} behind): going on (--force)",
            warnings=[f"--force: EFS changes of the last {shown} before the fence are lost"],
            metrics={"lost_seconds": gap},
        )

    def verify(self, ctx: StepContext) -> None:
        return None


class FailbackEfs(Step):
    """Delete the reverse configuration: the primary's file system becomes writable (protection ENABLED)."""

    actions = ("efs.delete_replication_configuration",)

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.FAILBACK_EFS)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return (
            f"EFS: delete replication {f.dr.fs_id} -> {f.primary.fs_id}: {f.primary.fs_id} becomes writable"
        )

    def check_done(self, ctx: StepContext) -> bool:
        t = ft(ctx.topology)
        if not t.primary.fs_id:
            return False
        return replication_of(ctx, t.primary.region, t.primary.fs_id) is None and (
            protection(ctx, t.primary.region, t.primary.fs_id) != "REPLICATING"
        )

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        if not t.primary.fs_id:
            return StepOutcome(message="no file system", skipped=True)
        rep = replication_of(ctx, t.dr.region, t.dr.fs_id)
        if rep is not None:
            # Called in the source region with the source id: both regions are up in a planned cut-back,
            # so both sides are deleted [API DeleteReplicationConfiguration].
            ctx.client("efs", t.dr.region).delete_replication_configuration(SourceFileSystemId=t.dr.fs_id)
            ctx.latency.wait("efs.delete_replication_configuration")
        poll(ctx, f"{t.primary.fs_id} writable", t.primary.region, lambda: self.check_done(ctx))
        return StepOutcome(
            message=f"{t.primary.fs_id} writable",
            warnings=[lost_and_found_note(t.primary.fs_id, t.primary.region, t.dr.fs_id)],
        )

    def verify(self, ctx: StepContext) -> None:
        t = ft(ctx.topology)
        if t.primary.fs_id and not self.check_done(ctx):
            raise FailbackError(
                f"{t.primary.fs_id} is still a replication destination.", fix="wait and rerun"
            )
