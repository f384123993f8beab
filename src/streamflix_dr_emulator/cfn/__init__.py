"""CloudFormation models for the resource types this project's template uses and moto 5.2.5 skips.

One module per resource family; each model subclasses moto's ``CloudFormationModel`` directly
(moto's ``get_model_map()`` lists direct subclasses only) and is backed by moto's own service
backend, so the service's describe calls see what a stack created.
"""

from __future__ import annotations

import importlib

MODEL_MODULES: tuple[str, ...] = (
    "elasticache",
    "secretsmanager",
    "cloudwatch",
    "logs",
    "applicationautoscaling",
    "cloudtrail",
    "s3",
    "backup",
    "ecr",
    "sns",
    "custom",
    "waitcondition",
)


def refresh_model_map() -> None:
    """Make moto's memoised model lists see models defined after its first stack."""
    from moto.cloudformation import parsing  # noqa: PLC0415

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def install() -> None:
    """Define every model (by importing its module), run module installs, refresh moto's map. Idempotent."""
    for name in MODEL_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "install"):
            module.install()
    refresh_model_map()
