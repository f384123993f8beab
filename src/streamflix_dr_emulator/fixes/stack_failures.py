"""Make stack operations fail the way CloudFormation does, never silently.

moto 5.2.5 skips resource types it has no model for (the stack still reaches CREATE_COMPLETE)
and lets any error raised while creating resources escape from the CreateStack call itself.
CloudFormation instead accepts the call, fails the resource, and rolls the stack back:
- CreateStack: resource CREATE_FAILED, stack ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE with the
  reason "The following resource(s) failed to create: [...]"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-describing-stacks.html,
  stack status codes).
- UpdateStack / ExecuteChangeSet (UPDATE): UPDATE_FAILED, then UPDATE_ROLLBACK_COMPLETE; the change
  set's ExecutionStatus becomes EXECUTE_FAILED
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html).
- DeleteStack: a resource that cannot be deleted leaves the stack in DELETE_FAILED (still listed,
  deletable again) with the reason, instead of an HTTP 500.
- A rolled-back or deleted stack has no outputs, and listing its resources never re-creates them
  (moto's resource map is lazy and would).
- A property change on a resource type whose moto model has no update handler (moto's
  ``parse_and_update_resource`` returns None when ``update_from_cloudformation_json`` is abstract, and
  the stack reported UPDATE_COMPLETE with nothing changed) fails the update: UPDATE_FAILED naming the
  type, the changed properties and whether CloudFormation would update them in place or replace the
  resource (createOnlyProperties of cfn-lint's bundled provider schema for the region). The resolved
  properties are recorded when the resource is created and compared on update, so a parameter change that
  does not change the resolved value is no change, as in CloudFormation.
Known limit: the emulator cannot restore the previous resource state on an update rollback; it
reports the failure and keeps whatever was applied.
"""

from __future__ import annotations

import logging
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False


class UnsupportedResourceTypeError(Exception):
    """Raised while a stack is created for a type neither moto nor the extension can create."""

    def __init__(self, resource_type: str) -> None:
        self.resource_type = resource_type
        super().__init__(
            f"Resource type {resource_type} is not supported by the StreamFlix DR emulator "
            "(moto 5.2.5 plus streamflix_dr_emulator); add a model in streamflix_dr_emulator.cfn "
            "or remove the resource"
        )


class UnsupportedUpdateError(Exception):
    """A property of a type without an update handler in moto (or the extension) changed."""

    def __init__(self, resource_type: str, region: str, changed: list[str]) -> None:
        create_only = create_only_properties(region, resource_type)
        replaced = [p for p in changed if p in create_only]
        in_place = [p for p in changed if p not in create_only]
        how = []
        if replaced:
            how.append(f"{', '.join(replaced)} require(s) replacement on AWS")
        if in_place:
            how.append(f"{', '.join(in_place)} update(s) in place on AWS")
        self.message = (
            f"The StreamFlix DR emulator cannot update {resource_type}: changed properties "
            f"{', '.join(changed)} ({'; '.join(how)}), and neither moto 5.2.5 nor the extension applies "
            "that change. "
            "Add an update to streamflix_dr_emulator (fixes/ or cfn/), or recreate the stack"
        )
        super().__init__(self.message)


def create_only_properties(region: str, resource_type: str) -> set[str]:
    """Top-level createOnlyProperties of the type, from cfn-lint's provider schema for the region."""
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # noqa: PLC0415

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception as e:  # an unknown type or region: say nothing rather than guess
        log.debug("no cfn-lint schema for %s in %s: %s", resource_type, region, e)
        return set()
    return {p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.startswith("/properties/")}


def _plain(value: Any) -> Any:
    """Resolved properties in a comparable form (a model object compares by its physical id)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return f"<{type(value).__name__} {getattr(value, 'physical_resource_id', id(value))}>"


def resolved_properties(logical_id: str, resource_json: dict[str, Any], resources_map: Any) -> Any:
    """The resource's properties with Ref/GetAtt/Fn::* resolved against ``resources_map``, or None."""
    from moto.cloudformation import parsing  # noqa: PLC0415

    try:
        parsed = parsing.parse_resource(resource_json, resources_map)
    except Exception as e:
        log.debug("could not resolve the properties of %s: %s", logical_id, e)
        return None
    if not parsed:
        return None
    return _plain(parsed[1].get("Properties") or {})


def describe_error(error: BaseException) -> str:
    """The human message of a moto/botocore/Python error, without the class-name noise."""
    for attr in ("message", "description"):
        value = getattr(error, attr, None)
        if isinstance(value, str) and value and "<" not in value[:1]:
            return value
    return str(error) or type(error).__name__


def changed_properties(before: Any, after: Any) -> list[str] | None:
    """Top-level property names that differ, or None when either side is unknown."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _check_declared_update(logical_id: str, resource_json: dict[str, Any], resources_map: Any) -> None:
    """Refuse a change a project model declares it cannot apply (``CfnResource.IN_PLACE``)."""
    from moto.cloudformation import parsing  # noqa: PLC0415

    cls = parsing.resource_class_from_type(resource_json.get("Type", ""))
    in_place = getattr(cls, "IN_PLACE", None)
    if in_place is None:
        return
    previous = resources_map._parsed_resources.get(logical_id)
    before = getattr(previous, "_streamflix_applied_properties", None)
    changed = changed_properties(before, resolved_properties(logical_id, resource_json, resources_map))
    if changed is None:
        changed = ["(properties could not be compared)"]
    region = resources_map._region_name
    create_only = create_only_properties(region, resource_json.get("Type", ""))
    replaces = bool(getattr(cls, "REPLACES", True))
    refused = [p for p in changed if p not in in_place and not (replaces and p in create_only)]
    if refused:
        raise UnsupportedUpdateError(resource_json.get("Type", ""), region, refused)
    if previous is not None:
        previous._streamflix_changed = changed


def _record(resource: Any, properties: Any) -> None:
    try:
        resource._streamflix_applied_properties = properties
    except Exception as e:  # a model that refuses attributes: its updates cannot be compared
        log.debug("cannot record properties on %r: %s", resource, e)


def _annotate(error: BaseException, logical_id: str, resource_type: str) -> None:
    # The innermost resource (a dependency created through Ref/GetAtt) is the one that failed.
    if not hasattr(error, "streamflix_logical_id"):
        error.streamflix_logical_id = logical_id  # type: ignore[attr-defined]
        error.streamflix_resource_type = resource_type  # type: ignore[attr-defined]


def _resource_event(stack: Any, status: str, error: BaseException) -> str | None:
    from moto.cloudformation.models import Event  # noqa: PLC0415

    logical_id = getattr(error, "streamflix_logical_id", None)
    if logical_id is None:
        return None
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id="",
            resource_type=getattr(error, "streamflix_resource_type", ""),
            resource_status=status,
            resource_status_reason=describe_error(error),
            resource_properties=None,
        )
    )
    return str(logical_id)


def fail_create(stack: Any, error: BaseException) -> None:
    """Record a failed create and roll back what was created, as CloudFormation does."""
    failed = _resource_event(stack, "CREATE_FAILED", error)
    reason = (
        f"The following resource(s) failed to create: [{failed}]. Rollback requested by user. "
        f"{failed} ({getattr(error, 'streamflix_resource_type', '')}): {describe_error(error)}"
        if failed
        else describe_error(error)
    )
    log.warning("stack %s in %s failed to create: %s", stack.name, stack.region_name, reason)
    stack.status_reason = reason
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    try:
        stack.resource_map.delete()
    except Exception as e:
        stack.status = "ROLLBACK_FAILED"
        stack.status_reason = f"{reason} Rollback failed: {describe_error(e)}"
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=stack.status_reason)
        _drop_outputs(stack)
        return
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")
    _drop_outputs(stack)


def _drop_outputs(stack: Any) -> None:
    # A rolled-back stack has no outputs; moto would otherwise evaluate them on DescribeStacks
    # and re-create the resource that failed.
    from moto.cloudformation.parsing import OutputMap  # noqa: PLC0415

    stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)


def fail_update(stack: Any, error: BaseException) -> None:
    """Record a failed update: UPDATE_FAILED on the resource, UPDATE_ROLLBACK_COMPLETE on the stack."""
    failed = _resource_event(stack, "UPDATE_FAILED", error)
    reason = (
        f"The following resource(s) failed to update: [{failed}]. "
        f"{failed} ({getattr(error, 'streamflix_resource_type', '')}): {describe_error(error)}"
        if failed
        else describe_error(error)
    )
    log.warning("stack %s in %s failed to update: %s", stack.name, stack.region_name, reason)
    stack.status_reason = reason
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
    stack.status = "UPDATE_ROLLBACK_COMPLETE"


class _DeleteFailedError(Exception):
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        super().__init__(stack.status_reason)


def fail_delete(stack: Any, error: BaseException) -> None:
    """Record a failed delete: DELETE_FAILED on the resource and the stack, which stays listed."""
    failed = _resource_event(stack, "DELETE_FAILED", error)
    reason = (
        f"The following resource(s) failed to delete: [{failed}]. "
        f"{failed} ({getattr(error, 'streamflix_resource_type', '')}): {describe_error(error)}"
        if failed
        else describe_error(error)
    )
    log.warning("stack %s in %s failed to delete: %s", stack.name, stack.region_name, reason)
    stack.status = "DELETE_FAILED"
    stack.status_reason = reason
    stack._add_stack_event("DELETE_FAILED", resource_status_reason=reason)


def install() -> None:
    """Patch moto's CloudFormation parser and stack operations. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation import models, parsing  # noqa: PLC0415

    original_class_from_type = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        cls = original_class_from_type(resource_type)
        if cls is None and resource_type not in parsing.NULL_MODELS:
            raise UnsupportedResourceTypeError(resource_type)
        return cls

    patch_attr(parsing, "resource_class_from_type", resource_class_from_type)

    original_create = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], *args: Any, **kw: Any
    ) -> Any:
        try:
            resource = original_create(logical_id, resource_json, *args, **kw)
        except Exception as e:
            _annotate(e, logical_id, resource_json.get("Type", ""))
            raise
        resources_map = args[0] if args else kw.get("resources_map")
        if resource is not None and resources_map is not None:
            _record(resource, resolved_properties(logical_id, resource_json, resources_map))
        return resource

    patch_attr(parsing, "parse_and_create_resource", parse_and_create_resource)

    original_update = parsing.parse_and_update_resource

    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, *args: Any, **kw: Any
    ) -> Any:
        try:
            _check_declared_update(logical_id, resource_json, resources_map)
            updated = original_update(logical_id, resource_json, resources_map, *args, **kw)
        except Exception as e:
            _annotate(e, logical_id, resource_json.get("Type", ""))
            raise
        if updated is None:
            # moto returns None for types without an update (and the caller would store None as the
            # resource). Nothing changed: keep the resource. A property changed: fail, loudly.
            previous = resources_map._parsed_resources.get(logical_id)
            before = getattr(previous, "_streamflix_applied_properties", None)
            after = resolved_properties(logical_id, resource_json, resources_map)
            if before is None or after is None or before != after:
                changed = (
                    sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
                    if isinstance(before, dict) and isinstance(after, dict)
                    else ["(properties could not be compared)"]
                )
                error = UnsupportedUpdateError(
                    resource_json.get("Type", ""), resources_map._region_name, changed
                )
                _annotate(error, logical_id, resource_json.get("Type", ""))
                raise error
            return previous
        _record(updated, resolved_properties(logical_id, resource_json, resources_map))
        return updated

    patch_attr(parsing, "parse_and_update_resource", parse_and_update_resource)

    stack_cls = models.Stack
    original_create_resources = stack_cls.create_resources

    def create_resources(self: Any) -> None:
        try:
            original_create_resources(self)
        except Exception as e:
            fail_create(self, e)

    patch_attr(stack_cls, "create_resources", create_resources)

    original_stack_update = stack_cls.update

    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            original_stack_update(self, *args, **kwargs)
        except Exception as e:
            fail_update(self, e)

    patch_attr(stack_cls, "update", update)

    original_outputs: Any = stack_cls.outputs

    def outputs(self: Any) -> Any:
        # After a failed update an output may name a resource that was never made; AWS shows the
        # outputs of the last good state, the emulator shows none rather than failing DescribeStacks.
        try:
            return original_outputs.fget(self)
        except Exception as e:
            log.warning(
                "stack %s: outputs unavailable after %s: %s", self.name, self.status, describe_error(e)
            )
            return None

    patch_attr(stack_cls, "outputs", property(outputs))

    def delete(self: Any) -> None:
        self._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
        try:
            self.resource_map.delete()
        except Exception as e:
            fail_delete(self, e)
            raise _DeleteFailedError(self) from e
        self._add_stack_event("DELETE_COMPLETE")
        self.status = "DELETE_COMPLETE"
        _drop_outputs(self)

    patch_attr(stack_cls, "delete", delete)

    def stack_resources(self: Any) -> list[Any]:
        # moto's resource map is lazy: listing a deleted or rolled-back stack's resources would
        # create them again. List only what exists.
        parsed = self.resource_map._parsed_resources
        return [
            parsed[k]
            for k in self.resource_map._resource_json_map
            if k in parsed and hasattr(parsed[k], "logical_resource_id")
        ]

    patch_attr(stack_cls, "stack_resources", property(stack_resources))

    backend_cls = models.CloudFormationBackend
    original_delete_stack = backend_cls.delete_stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        try:
            original_delete_stack(self, name_or_stack_id)
        except _DeleteFailedError as e:
            # DeleteStack is accepted; the stack stays, in DELETE_FAILED, and can be deleted again.
            self.stacks[e.stack.stack_id] = e.stack
            self.deleted_stacks.pop(e.stack.stack_id, None)

    original_execute = backend_cls.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        try:
            original_execute(self, change_set_name, stack_name)
        except Exception as e:
            change_set = self.describe_change_set(change_set_name)
            stack = self.stacks[change_set.stack_id]
            change_set.execution_status = "EXECUTE_FAILED"
            if change_set.change_set_type == "CREATE":
                fail_create(stack, e)
            else:
                fail_update(stack, e)
            return
        # moto applies the change set's resources but keeps the stack's old template, outputs
        # and parameters (for a CREATE change set: none). ExecuteChangeSet leaves the stack as
        # CreateStack/UpdateStack with that template would.
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        stack.template = change_set.template
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.parameters = change_set.parameters
        stack.output_map = stack._create_output_map()
        for export in stack.exports:
            self.exports[export.name] = export

    patch_attr(backend_cls, "execute_change_set", execute_change_set)
    patch_attr(backend_cls, "delete_stack", delete_stack)
    _installed = True
