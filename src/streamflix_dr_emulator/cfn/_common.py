"""What every project CloudFormation model shares: naming, tags, attribute lookup, replacement."""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

log = logging.getLogger(__name__)


class CustomNameReplacementError(Exception):
    """A replacement of a resource whose name the template fixes."""


class CfnResource:
    """Mixin placed before moto's ``CloudFormationModel`` in each model's bases.

    moto's ``get_model_map()`` lists only *direct* subclasses of ``CloudFormationModel``, so each
    model names both: ``class X(CfnResource, CloudFormationModel)``.
    """

    CFN_TYPE: ClassVar[str] = ""
    # The property that names the resource (moto generates ``<stack>-<logical>-<suffix>`` when absent).
    NAME_PROPERTY: ClassVar[str] = ""
    # Fn::GetAtt attribute names, from the "Return values" section of the type's CFN reference page.
    ATTRIBUTES: ClassVar[frozenset[str]] = frozenset()
    # Properties the model's update applies in place. None: not declared (the update handles every
    # property itself). When declared, a change to any other property fails the update loudly
    # (fixes.stack_failures), unless it is createOnly and the model replaces the resource (REPLACES).
    IN_PLACE: ClassVar[frozenset[str] | None] = None
    REPLACES: ClassVar[bool] = True

    account_id: str
    region_name: str
    stack_id: str
    logical_id: str

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def is_created(self) -> bool:
        return True

    @property
    def physical_resource_id(self) -> str:
        raise NotImplementedError

    def cfn_attributes(self) -> dict[str, Any]:
        """Fn::GetAtt values by attribute name; subclasses override."""
        return {}

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException  # noqa: PLC0415

        if attribute_name not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return self.cfn_attributes()[attribute_name]

    def _remember(self, account_id: str, region_name: str, kwargs: dict[str, Any]) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.stack_id = kwargs.get("StackId", "")
        self.logical_id = kwargs.get("LogicalId", "")

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        """Default update: replacement (delete, then create with a new generated name).

        Models whose properties update in place override this.
        """
        props = cloudformation_json.get("Properties", {})
        name = props.get(cls.NAME_PROPERTY) if cls.NAME_PROPERTY else None
        if name and str(name).lower() == str(original_resource.physical_resource_id).lower():
            # CloudFormation creates the replacement before deleting the old resource, so a custom name
            # cannot be kept: "CloudFormation cannot update a stack when a custom-named resource requires
            # replacing. Rename <name> and update the stack again." (UserGuide, "Name type": "If you must
            # replace the resource, specify a new name";
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html)
            raise CustomNameReplacementError(
                "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                f"Rename {name} and update the stack again."
            )
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            # Without a custom name the replacement gets a new generated one, as in CloudFormation.
            name or new_resource_name,
            cloudformation_json,
            account_id,
            region_name,
            StackId=original_resource.stack_id,
            LogicalId=original_resource.logical_id,
        )

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError


def tag_dict(value: Any) -> dict[str, str]:
    """A ``Tags`` property as a dict: CFN uses a list of Key/Value for most types, a map for some."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {str(t["Key"]): str(t.get("Value", "")) for t in value}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def resource_tags(
    value: Any, account_id: str, region_name: str, stack_id: str, logical_id: str
) -> dict[str, str]:
    """The tags CloudFormation puts on a taggable resource.

    Stack-level tags propagate to every taggable resource, plus the ``aws:cloudformation:``
    stack-name/stack-id/logical-id tags; the resource's own ``Tags`` win on a clash.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-resource-tags.html
    """
    tags: dict[str, str] = {}
    if stack_id:
        from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415

        stack = cloudformation_backends[account_id][region_name].stacks.get(stack_id)
        if stack is not None:
            tags.update({str(k): str(v) for k, v in (stack.tags or {}).items()})
            tags["aws:cloudformation:stack-name"] = stack.name
        tags["aws:cloudformation:stack-id"] = stack_id
        if logical_id:
            tags["aws:cloudformation:logical-id"] = logical_id
    tags.update(tag_dict(value))
    return tags


def generated_name(
    resource_name: str, max_len: int, *, lower: bool = False, pattern: str = r"[^A-Za-z0-9-]"
) -> str:
    """moto's generated ``<stack>-<logical>-<suffix>`` fitted to a service's naming rules.

    The random suffix is kept (it is what makes the name unique), the stack part is cut.
    """
    name = re.sub(pattern, "-", resource_name)
    if lower:
        name = name.lower()
    if len(name) > max_len:
        head, _, suffix = name.rpartition("-")
        name = f"{head[: max_len - len(suffix) - 1]}-{suffix}"
    return name.strip("-")


def to_bool(value: Any) -> bool | None:
    """CloudFormation sends booleans from JSON templates as bools, from parameters as strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def to_int(value: Any) -> int | None:
    return None if value is None else int(value)


def patch_attr(owner: object, name: str, value: object) -> None:
    """Set a class attribute of moto's in-process (moto's installed files are never edited)."""
    setattr(owner, name, value)
