"""Delete a stack's resources in reverse dependency order, as CloudFormation does.

CloudFormation deletes a resource only after every resource that depends on it (through Ref,
Fn::GetAtt, Fn::Sub or DependsOn) is gone
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html).
moto 5.2.5 deletes in set order and retries failures, so a Lambda-backed custom resource can lose
its function before its Delete request runs (the project's Custom::EmptyBucket then cannot empty
its bucket). Resources with ``DeletionPolicy: Retain`` are kept, as before.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from streamflix_dr_emulator.cfn._common import patch_attr

log = logging.getLogger(__name__)

_installed = False
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[^}]*)?\}")


def references(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    found.update(
                        m.group(1) for m in _SUB_REF.finditer(text) if not text[m.start() :].startswith("${!")
                    )
                if isinstance(value, list) and len(value) > 1:
                    found.update(references(value[1]))
            elif key == "DependsOn":
                found.update([value] if isinstance(value, str) else list(value))
            else:
                found.update(references(value))
    elif isinstance(node, list):
        for item in node:
            found.update(references(item))
    return found


def delete_order(resource_json_map: dict[str, Any], to_delete: set[str]) -> list[list[str]]:
    """Waves of logical ids: each wave holds resources nothing still present depends on."""
    deps = {
        name: references(body) & set(resource_json_map) - {name} for name, body in resource_json_map.items()
    }
    remaining = set(to_delete)
    waves: list[list[str]] = []
    while remaining:
        wave = sorted(r for r in remaining if not any(r in deps[other] for other in remaining if other != r))
        if not wave:  # a cycle: let the caller's retry loop sort it out
            wave = sorted(remaining)
        waves.append(wave)
        remaining -= set(wave)
    return waves


def install() -> None:
    """Patch moto's ResourceMap.delete. Idempotent."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.cloudformation.parsing import ResourceMap  # noqa: PLC0415

    def delete(self: Any) -> None:
        to_delete = {k for k, v in self._resource_json_map.items() if v.get("DeletionPolicy") != "Retain"}
        last_error: Exception | None = None
        failed: list[str] = []
        for wave in delete_order(self._resource_json_map, to_delete):
            if failed:
                # Something this wave's dependents needed could not go; stop as CloudFormation does.
                break
            for logical_id in wave:
                parsed = self._parsed_resources.get(logical_id)
                if parsed is None or isinstance(parsed, str):
                    continue
                try:
                    self._delete_resource(parsed, self._resource_json_map[logical_id])
                except Exception as e:
                    log.warning("could not delete %s: %s", logical_id, e)
                    e.streamflix_logical_id = logical_id  # type: ignore[attr-defined]
                    e.streamflix_resource_type = self._resource_json_map[logical_id].get("Type", "")  # type: ignore[attr-defined]
                    last_error = e
                    failed.append(logical_id)
                else:
                    self._parsed_resources.pop(logical_id, None)
        if last_error is not None:
            raise last_error

    patch_attr(ResourceMap, "delete", delete)
    _installed = True
