"""Stack updates and change sets that follow Conditions and parameter changes, as CloudFormation does.

moto 5.2.5 diffs only the template text: a resource whose ``Condition`` turns true on an update
(same template, new parameter values, e.g. this project's DR ``Phase`` base -> full) is never
created, one whose condition turns false is never deleted, and a change set lists neither.
CloudFormation evaluates the conditions with the new parameters and adds, removes or modifies
resources accordingly
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html).
This module replaces ``ResourceMap.update`` and ``ChangeSet.diff`` with that plan:
Add = active now, not before; Remove = active before, not now; Modify = active in both and the
resource's template changed, or it refers to a parameter whose value changed or to a condition
whose value flipped (Fn::If).
It also makes DescribeStacks show a CommaDelimitedList parameter as the comma-separated string it
was given (moto shows a Python list repr, which a caller passing it back then sends as garbage),
and hands change sets UsePreviousValue values as strings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr
from streamflix_dr_emulator.fixes.delete_order import delete_order, references

log = logging.getLogger(__name__)

_installed = False


@dataclass
class Plan:
    """What an update does, by logical id."""

    add: list[str] = field(default_factory=list)
    modify: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


def conditions_used(node: Any) -> set[str]:
    """Condition names a resource refers to (its Condition, Fn::If, nested {"Condition": ...})."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::If" and isinstance(value, list) and value:
                found.add(str(value[0]))
                found |= conditions_used(value[1:])
            elif key == "Condition" and isinstance(value, str):
                found.add(value)
            else:
                found |= conditions_used(value)
    elif isinstance(node, list):
        for item in node:
            found |= conditions_used(item)
    return found


def _evaluate(
    resource_map: Any, template: dict[str, Any], parameters: dict[str, Any]
) -> tuple[dict[str, bool], dict[str, Any]]:
    """(condition values, resolved parameters) of ``template`` with ``parameters``, nothing created."""
    from moto.cloudformation.parsing import ResourceMap  # noqa: PLC0415

    probe = ResourceMap(
        stack_id=resource_map.stack_id,
        stack_name=resource_map["AWS::StackName"],
        parameters=parameters,
        tags={},
        region_name=resource_map._region_name,
        account_id=resource_map._account_id,
        template=template,
        cross_stack_resources=resource_map.cross_stack_resources,
    )
    probe.load_mapping()
    probe.load_parameters()
    probe.load_conditions()
    conditions = {name: bool(probe.lazy_condition_map[name]) for name in template.get("Conditions", {})}
    return conditions, dict(probe.resolved_parameters)


def _norm(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ",".join(str(v).strip() for v in value)
    return ",".join(part.strip() for part in str(value).split(","))


def _present(resource_map: Any, name: str) -> bool:
    return hasattr(resource_map._parsed_resources.get(name), "logical_resource_id")


def plan(resource_map: Any, template: dict[str, Any], parameters: dict[str, Any] | None) -> Plan:
    """The Add/Modify/Remove plan for updating ``resource_map`` to ``template`` with ``parameters``."""
    new_conditions, new_params = _evaluate(
        resource_map, template, parameters if parameters is not None else resource_map.input_parameters
    )
    old_lazy = getattr(resource_map, "lazy_condition_map", {})
    old_conditions = {name: bool(old_lazy[name]) for name in old_lazy}
    flipped = {
        c for c in set(new_conditions) | set(old_conditions) if new_conditions.get(c) != old_conditions.get(c)
    }
    old_params = resource_map.resolved_parameters
    # A UsePreviousValue in a change set comes back as moto's resolved value (a list for
    # CommaDelimitedList, a number for Number): compare the values, not their Python types.
    changed_params = {
        p for p in set(new_params) | set(old_params) if _norm(new_params.get(p)) != _norm(old_params.get(p))
    }
    log.debug(
        "update plan inputs: changed parameters %s, flipped conditions %s",
        {p: (old_params.get(p), new_params.get(p)) for p in changed_params},
        sorted(flipped),
    )
    old_json = resource_map._resource_json_map
    new_json = template.get("Resources", {})
    result = Plan()
    for name in old_json:
        gone = name not in new_json
        cond = None if gone else new_json[name].get("Condition")
        if _present(resource_map, name) and (
            gone or (cond is not None and not new_conditions.get(cond, False))
        ):
            result.remove.append(name)
    for name, body in new_json.items():
        cond = body.get("Condition")
        active = cond is None or new_conditions.get(cond, False)
        if not active:
            continue
        if not _present(resource_map, name):
            result.add.append(name)
        elif (
            old_json.get(name) != body
            or references(body) & changed_params
            or conditions_used(body.get("Properties", {})) & flipped
        ):
            result.modify.append(name)
    return result


def install() -> None:
    """Replace moto's ResourceMap.update and ChangeSet.diff. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation import parsing  # noqa: PLC0415
    from moto.cloudformation.models import Change, ChangeSet  # noqa: PLC0415

    def update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        todo = plan(self, template, parameters)
        log.debug("stack update: add %s, modify %s, remove %s", todo.add, todo.modify, todo.remove)
        for wave in delete_order(self._resource_json_map, set(todo.remove)):
            for name in wave:
                self._delete_resource(self._parsed_resources[name], self._resource_json_map[name])
                self._parsed_resources.pop(name, None)
        self._template = template
        if parameters:
            self.input_parameters = parameters
        self.load_mapping()
        self.load_parameters()
        self.load_conditions()
        self._resource_json_map = template["Resources"]
        for name in todo.add:
            _ = self[name]  # creates it (and, lazily, what it refers to)
        for name in todo.modify:
            changed = parsing.parse_and_update_resource(
                name,
                self._resource_json_map[name],
                self,
                account_id=self._account_id,
                region_name=self._region_name,
            )
            self._parsed_resources[name] = changed

    def diff(self: Any) -> list[Any]:
        todo = plan(self.stack.resource_map, self.template_dict, self.parameters)
        resources = self.template_dict.get("Resources", {})
        old = self.stack.resource_map._resource_json_map
        changes = []
        for action, names in (("Add", todo.add), ("Modify", todo.modify), ("Remove", todo.remove)):
            for name in names:
                body = resources.get(name) or old.get(name, {})
                changes.append(
                    Change(action=action, logical_resource_id=name, resource_type=body.get("Type", ""))
                )
        return changes

    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415

    original_create_change_set = CloudFormationBackend.create_change_set

    def create_change_set(self: Any, *args: Any, **kwargs: Any) -> Any:
        # moto fills UsePreviousValue from the stack's *resolved* parameters (a Python list for a
        # CommaDelimitedList), which later reads back as "['a'", " 'b']". CreateChangeSet takes
        # parameter values as strings (API_Parameter.html): hand them over as AWS would.
        params = kwargs.get("parameters")
        if isinstance(params, dict):
            kwargs["parameters"] = {
                k: ",".join(str(x) for x in v) if isinstance(v, list | tuple) else v
                for k, v in params.items()
            }
        return original_create_change_set(self, *args, **kwargs)

    patch_attr(CloudFormationBackend, "create_change_set", create_change_set)

    from moto.cloudformation.models import Stack  # noqa: PLC0415

    def parameter_list(self: Any) -> list[dict[str, Any]]:
        # DescribeStacks shows a CommaDelimitedList as the comma-separated string it was given
        # (API_Parameter.html), not as a Python list repr, so a caller can pass it back.
        no_echo = self.resource_map.no_echo_parameter_keys
        return [
            {
                "ParameterKey": k,
                "ParameterValue": "****"
                if k in no_echo
                else (",".join(str(x) for x in v) if isinstance(v, list | tuple) else v),
            }
            for k, v in self.resource_map.resolved_parameters.items()
        ]

    patch_attr(Stack, "parameter_list", property(parameter_list))
    patch_attr(parsing.ResourceMap, "update", update)
    patch_attr(ChangeSet, "diff", diff)
    _installed = True
