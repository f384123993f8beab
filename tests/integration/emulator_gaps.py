"""Stand-ins for three moto 5.2.5 gaps on the change-set path, until ``streamflix_dr_emulator`` covers them.

Requested from the emulator owner in /work/shared/request-from-deploy-helper.md; each patch checks whether
the emulator already does the right thing and then does nothing, so it can be deleted once it lands there.

1. ExecuteChangeSet never rebuilds the stack's outputs (a stack created by a CREATE change set starts
   with an empty template), so DescribeStacks shows no Outputs. AWS: outputs are evaluated on every
   create/update (API DescribeStacks, Outputs).
2. The stack keeps the parameters of its first change set, so DescribeStacks shows stale values and the
   "didn't contain changes" check compares against them. AWS: the executed change set's parameters become
   the stack's (API DescribeChangeSet / DescribeStacks, Parameters).
3. Conditions on update: a resource whose Condition turns true is never created, one whose Condition turns
   false is not deleted, and a property written as ``Fn::If`` on a condition that flipped is not re-applied
   (moto's ResourceMap.update diffs template text and direct parameter references only). AWS evaluates
   conditions on every update (CloudFormation User Guide, "Conditions").
4. backup:ListRecoveryPointsByBackupVault is not implemented (HTTP 404). The emulator never runs a
   backup job, so a vault that exists has no recovery points; a missing vault answers
   ResourceNotFoundException as AWS does (AWS Backup API reference).
5. Deleting a cross-region read replica fails ("list.remove(x): x not in list"): moto records a cross-region
   replica on its source by ARN (DBInstance.add_replica) but removes it by identifier (remove_replica).
   AWS: deleting a replica detaches it from its source (RDS API DeleteDBInstance).
6. AWS::SNS::Subscription has no CloudFormation model (the stack rolls back when alarm_email is set). AWS:
   it calls sns:Subscribe; Ref is the subscription ARN (CloudFormation reference, AWS::SNS::Subscription).
7. A bucket policy Deny whose Condition does not match is treated as a match (moto's IAMPolicyStatement
   returns DENIED when the conditions fail). AWS: a statement whose condition is false does not apply
   (IAM policy evaluation logic). Here: the TLS-only Deny (aws:SecureTransport=false) never applies,
   because the emulator stands in for AWS's HTTPS endpoints.
"""

from __future__ import annotations

import json
from typing import Any

_installed = False


def _is_tls_deny(statement: dict[str, Any]) -> bool:
    cond = statement.get("Condition", {})
    return (
        statement.get("Effect") == "Deny"
        and str(cond.get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
    )


def install() -> None:
    global _installed  # noqa: PLW0603 - once per process, like the emulator's own install
    if _installed:
        return
    from moto.cloudformation import models  # noqa: PLC0415
    from moto.iam.access_control import IAMPolicy, PermissionResult  # noqa: PLC0415
    from moto.s3.models import FakeBucket  # noqa: PLC0415

    backend_cls = models.CloudFormationBackend
    original_execute = backend_cls.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original_execute(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        if change_set is None:
            return
        stack = self.stacks[change_set.stack_id]
        if stack.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return
        stack.template = change_set.template
        stack._parse_template()
        stack.parameters = dict(change_set.parameters)
        if not stack.outputs:
            stack.output_map = stack._create_output_map()

    backend_cls.execute_change_set = execute_change_set
    _install_condition_aware_update()
    _install_list_recovery_points()
    _install_replica_removal()
    _install_sns_subscription()

    original_permission = FakeBucket.get_permission

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return original_permission(self, action, resource)
        doc = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        kept = [s for s in statements if not _is_tls_deny(s)]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**doc, "Statement": kept})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission
    _installed = True


def _mentions_condition(value: Any, names: set[str]) -> bool:
    if isinstance(value, dict):
        if "Fn::If" in value and isinstance(value["Fn::If"], list) and value["Fn::If"][0] in names:
            return True
        return any(_mentions_condition(v, names) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_condition(v, names) for v in value)
    return False


def _install_condition_aware_update() -> None:
    from moto.cloudformation import parsing  # noqa: PLC0415

    resource_map_cls = parsing.ResourceMap
    original_update = resource_map_cls.update
    original_update_resource = parsing.parse_and_update_resource

    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, *args: Any, **kw: Any
    ) -> Any:
        condition = resource_json.get("Condition")
        if condition and not resources_map.lazy_condition_map[condition]:
            return None  # not part of the stack any more; update() below deletes what is left
        return original_update_resource(logical_id, resource_json, resources_map, *args, **kw)

    def conditions(rmap: Any) -> dict[str, bool]:
        return {
            name: bool(rmap.lazy_condition_map[name]) for name in (rmap._template or {}).get("Conditions", {})
        }

    def update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        before = conditions(self)
        original_update(self, template, parameters)
        after = conditions(self)
        flipped = {name for name, value in after.items() if before.get(name) != value}
        if not flipped:
            return
        kw = {"account_id": self._account_id, "region_name": self._region_name}
        pending = list(self._resource_json_map.items())
        for _ in range(5):  # dependency order: retry what failed on a reference not created yet
            failed: list[tuple[str, dict[str, Any]]] = []
            error: Exception | None = None
            for name, rj in pending:
                cond = rj.get("Condition")
                active = not cond or after.get(cond, True)
                current = self._parsed_resources.get(name)
                try:
                    if active and current is None:
                        self._parsed_resources.pop(name, None)
                        _ = self[name]
                    elif not active and current is not None:
                        self._delete_resource(current, rj)
                        self._parsed_resources.pop(name, None)
                    elif (
                        active and cond not in flipped and _mentions_condition(rj.get("Properties"), flipped)
                    ):
                        self._parsed_resources[name] = (
                            original_update_resource(name, rj, self, **kw) or current
                        )
                except Exception as e:
                    failed.append((name, rj))
                    error = e
            if not failed:
                return
            pending = failed
        assert error is not None
        raise error

    parsing.parse_and_update_resource = parse_and_update_resource
    resource_map_cls.update = update


def _install_list_recovery_points() -> None:
    from urllib.parse import unquote  # noqa: PLC0415

    from moto.backup import responses, urls  # noqa: PLC0415

    if hasattr(responses.BackupResponse, "list_recovery_points_by_backup_vault"):
        return

    def list_recovery_points_by_backup_vault(self: Any) -> str:
        name = unquote(self.path.rstrip("/").split("/")[-2])
        self.backup_backend.describe_backup_vault(name)  # ResourceNotFoundException when missing
        return json.dumps({"RecoveryPoints": []})

    responses.BackupResponse.list_recovery_points_by_backup_vault = list_recovery_points_by_backup_vault
    urls.url_paths["{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$"] = urls.response.dispatch


def _install_replica_removal() -> None:
    from moto.rds.models import DBInstance  # noqa: PLC0415

    def remove_replica(self: Any, replica: Any) -> None:
        for ref in (replica.db_instance_identifier, replica.db_instance_arn):
            if ref in self.replicas:
                self.replicas.remove(ref)

    DBInstance.remove_replica = remove_replica


def _install_sns_subscription() -> None:
    from moto.cloudformation import parsing  # noqa: PLC0415
    from moto.core.common_models import CloudFormationModel  # noqa: PLC0415
    from moto.sns.models import sns_backends  # noqa: PLC0415

    if any(
        c.cloudformation_type() == "AWS::SNS::Subscription"
        for c in CloudFormationModel.__subclasses__()
        if "cloudformation_type" in c.__dict__
    ):
        return

    class SnsSubscription(CloudFormationModel):
        # moto's model metaclass derives the service from the module path (moto.<service>.models).
        __module__ = "moto.sns.models"

        def __init__(self, arn: str) -> None:
            self.arn = arn

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::Subscription"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> SnsSubscription:
            props = cloudformation_json["Properties"]
            sub = sns_backends[account_id][region_name].subscribe(
                props["TopicArn"], props.get("Endpoint", ""), props["Protocol"]
            )
            return cls(sub.arn)

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> None:
            return None

        def delete(self, account_id: str, region_name: str) -> None:
            sns_backends[account_id][region_name].unsubscribe(self.arn)

    parsing.get_model_map.cache_clear()
