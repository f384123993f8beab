"""The three failback phases as runner stages: ``[(stage name, steps, parallel), ...]``.

    reprotect:          preflight -> fence the old primary's service -> [rds | efs | redis | secrets]
                        -> reverse readiness
    cutback:            fence DR -> [drain rds | efs | redis | secrets] -> [promote rds | efs | redis]
                        -> restore primary DB -> scale primary -> DNS -> verify -> DR back to warm
    reprotect-original: [rds | efs | redis | secrets] -> forward readiness -> delete renamed instances

Stage names start with the phase, so the report can give each phase's duration.
"""

from __future__ import annotations

from streamflix_dr.failback.base import FailbackError, FailbackStepId, Phase, Side, ft, rds_instance, step_id
from streamflix_dr.failback.dns import SwitchDnsBack
from streamflix_dr.failback.ecs import FenceDr, FenceOldPrimary, ScaleService, VerifyPrimary
from streamflix_dr.failback.efs import DrainEfs, FailbackEfs, ReverseEfs, destination, replication_of
from streamflix_dr.failback.rds import (
    DeleteRenamed,
    DrainRds,
    PromoteBack,
    ReplicaUnderOriginalId,
    RestorePrimaryDb,
    is_replica_of,
    set_read_only,
)
from streamflix_dr.failback.redis import (
    DrainRedis,
    EnsureSecondary,
    FailbackRedis,
    detached_while_primary,
    member_role,
)
from streamflix_dr.failback.secrets import DrainSecrets, ReplicateSecretsFromPrimary, replicated
from streamflix_dr.runbook.steps import Step, StepContext, StepOutcome, latest_metric
from streamflix_dr.runbook.topology import Topology

Stages = list[tuple[str, list[Step], bool]]


class Preflight(Step):
    """The environment is failed over (DR DB standalone) and the primary region answers."""

    actions = ()

    def __init__(self) -> None:
        self.id = step_id(FailbackStepId.PREFLIGHT)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return f"Check {f.dr.db_id} ({f.dr.region}) is the live primary and {f.primary.region} answers"

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def run(self, ctx: StepContext) -> StepOutcome:
        t = ft(ctx.topology)
        dr = rds_instance(ctx, t.dr.region, t.dr.db_id)
        if dr is None:
            raise FailbackError(f"{t.dr.region}: {t.dr.db_id} does not exist.", fix="check the DR stack")
        if is_replica_of(dr, t.primary):
            raise FailbackError(
                f"{t.dr.region}: {t.dr.db_id} is still a replica of {t.primary.db_id}: the "
                f"environment is not "
                "failed over, there is nothing to fail back.",
                fix="nothing to do (streamflix-dr status shows the active region)",
            )
        try:
            ctx.client("cloudformation", t.primary.region).describe_stacks(StackName=t.primary.stack)
        except Exception as e:
            raise FailbackError(
                f"{t.primary.region} does not answer ({e}): re-protect needs it healthy.",
                fix="wait for the region to recover, then rerun",
            ) from e
        return StepOutcome(message=f"{t.dr.region} is the live primary; {t.primary.region} answers")

    def verify(self, ctx: StepContext) -> None:
        return None


class DirectionReadiness(Step):
    """Every store replicates towards ``dest``: the readiness of that direction."""

    actions = ("verify.probe",)

    def __init__(self, dest: str, sid: FailbackStepId, max_lag_seconds: float = 60.0) -> None:
        self.dest_name = dest
        self.id = step_id(sid)
        self.max_lag_seconds = max_lag_seconds

    def _sides(self, t: Topology) -> tuple[Side, Side]:
        f = ft(t)
        dest = f.primary if self.dest_name == "primary" else f.dr
        return dest, f.other(dest)

    def describe(self, t: Topology) -> str:
        dest, src = self._sides(t)
        return f"Readiness {src.region} -> {dest.region}: replica, EFS, Redis, secrets replicating"

    def check_done(self, ctx: StepContext) -> bool:
        return False

    def problems(self, ctx: StepContext) -> tuple[list[str], float | None]:
        t = ft(ctx.topology)
        dest, src = self._sides(t)
        out = []
        db = rds_instance(ctx, dest.region, dest.db_id)
        if not is_replica_of(db, src) or (db or {}).get("DBInstanceStatus") != "available":
            out.append(f"RDS {dest.db_id} is not an available replica of {src.db_id}")
        lag = latest_metric(ctx, dest.region, "AWS/RDS", "ReplicaLag", {"DBInstanceIdentifier": dest.db_id})
        if lag is not None and lag > self.max_lag_seconds:
            out.append(f"RDS replica lag {lag:.0f} s > {self.max_lag_seconds:.0f} s")
        if src.fs_id and dest.fs_id:
            rep = replication_of(ctx, src.region, src.fs_id)
            d = destination(rep)
            if d.get("FileSystemId") != dest.fs_id or d.get("Status") != "ENABLED":
                out.append(f"EFS {src.fs_id} does not replicate into {dest.fs_id}")
        if (
            t.global_datastore_id
            and member_role(ctx, dest.region, t.global_datastore_id, dest.redis_group_id) != "SECONDARY"
            and not (dest is t.primary and detached_while_primary(ctx, dest, src, t.global_datastore_id))
        ):
            # (Towards the primary, a DR member detached at failover leaves nothing to replicate back: the
            # re-protect step said so and the primary keeps its own cache.)
            out.append(f"Redis {dest.redis_group_id} is not a secondary")
        if dest is t.dr:
            out.extend(f"secret {n} not replicated" for n in t.secret_names if not replicated(ctx, n))
        return out, lag

    def run(self, ctx: StepContext) -> StepOutcome:
        ctx.latency.wait("verify.probe")
        problems, lag = self.problems(ctx)
        dest, src = self._sides(ctx.topology)
        if problems:
            raise FailbackError(
                f"replication {src.region} -> {dest.region} is not ready: {'; '.join(problems)}.",
                fix="wait (a new replica and a first EFS sync take time) and rerun the same command",
            )
        return StepOutcome(
            message=f"{src.region} -> {dest.region} ready",
            warnings=[] if lag is not None else ["no ReplicaLag datapoint yet: lag unknown"],
            metrics={"replica_lag_seconds": lag},
        )

    def verify(self, ctx: StepContext) -> None:
        return None


class ReprotectOriginalRds(ReplicaUnderOriginalId):
    """The new DR replica, then the DR parameter group back to writable (the failback's fence set it)."""

    def __init__(self) -> None:
        super().__init__("dr", FailbackStepId.REPROTECT_ORIGINAL_RDS)

    def describe(self, t: Topology) -> str:
        f = ft(t)
        return super().describe(t) + f"; then default_transaction_read_only=off on {f.dr.db_parameter_group}"

    def check_done(self, ctx: StepContext) -> bool:
        from streamflix_dr.failback.rds import _read_only_value  # noqa: PLC0415 - one helper

        t = ft(ctx.topology)
        ro = _read_only_value(ctx, t.dr.region, t.dr.db_parameter_group) if t.dr.db_parameter_group else ""
        return super().check_done(ctx) and ro != "on"

    def run(self, ctx: StepContext) -> StepOutcome:
        outcome = super().run(ctx)
        set_read_only(ctx, ft(ctx.topology).dr, on=False)
        return outcome


def phase_stages(phase: Phase, *, force: bool = False, max_lag_seconds: float = 60.0) -> Stages:
    """The stages of one phase. ``force`` lets the drain steps go on with a loss (reported)."""
    if phase is Phase.REPROTECT:
        return [
            ("reprotect:preflight", [Preflight()], False),
            ("reprotect:fence-old-primary", [FenceOldPrimary()], False),
            (
                "reprotect:data",
                [
                    ReplicaUnderOriginalId("primary", FailbackStepId.REPROTECT_RDS),
                    ReverseEfs("primary", FailbackStepId.REPROTECT_EFS),
                    EnsureSecondary("primary", FailbackStepId.REPROTECT_REDIS),
                    ReplicateSecretsFromPrimary(FailbackStepId.REPROTECT_SECRETS),
                ],
                True,
            ),
            (
                "reprotect:readiness",
                [DirectionReadiness("primary", FailbackStepId.REVERSE_READINESS, max_lag_seconds)],
                False,
            ),
        ]
    if phase is Phase.CUTBACK:
        return [
            ("cutback:fence", [FenceDr()], False),
            (
                "cutback:drain",
                [DrainRds(force), DrainEfs(force), DrainRedis(force), DrainSecrets(force)],
                True,
            ),
            ("cutback:promote", [PromoteBack(), FailbackEfs(), FailbackRedis()], True),
            ("cutback:restore-db", [RestorePrimaryDb()], False),
            ("cutback:scale-primary", [ScaleService("primary", FailbackStepId.SCALE_PRIMARY)], False),
            ("cutback:dns", [SwitchDnsBack()], False),
            ("cutback:verify", [VerifyPrimary()], False),
            ("cutback:dr-warm", [ScaleService("dr", FailbackStepId.SCALE_DR_WARM)], False),
        ]
    return [
        (
            "reprotect-original:data",
            [
                ReprotectOriginalRds(),
                ReverseEfs("dr", FailbackStepId.REPROTECT_ORIGINAL_EFS),
                EnsureSecondary("dr", FailbackStepId.REPROTECT_ORIGINAL_REDIS),
                ReplicateSecretsFromPrimary(FailbackStepId.REPROTECT_ORIGINAL_SECRETS),
            ],
            True,
        ),
        (
            "reprotect-original:readiness",
            [DirectionReadiness("dr", FailbackStepId.FORWARD_READINESS, max_lag_seconds)],
            False,
        ),
        ("reprotect-original:cleanup", [DeleteRenamed()], False),
    ]


def failback_stages(phases: list[Phase], *, force: bool = False, max_lag_seconds: float = 60.0) -> Stages:
    """The stages of several phases, in the order given (``all`` = the three in order)."""
    return [s for p in phases for s in phase_stages(p, force=force, max_lag_seconds=max_lag_seconds)]


def phase_of_stage(stage: str) -> str:
    return stage.split(":", 1)[0]
