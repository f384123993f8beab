"""Fixes for moto 5.2.5 faults that stop the StreamFlix DR template, one module per fault family.

Each module patches moto in-process (never its installed files) and exposes ``install()``.
"""

from __future__ import annotations

import importlib

# In install order: property_limits wraps moto's resource create/update innermost, stack_failures
# around it, so every later failure (validation included) surfaces as a stack status.
FIX_MODULES: tuple[str, ...] = (
    "property_limits",
    "stack_failures",
    "delete_order",
    "conditions",
    "stack_names",
    "kms",
    "rds",
    "ec2",
    "efs",
    "s3",
    "deletes",
    "elbv2",
    "properties",
    "encryption",
    "ecs",
    "ecs_images",
    "iam",
    "lambda_function",
    "ecr",
    "backup",
)


def install() -> None:
    """Apply every fix. Idempotent."""
    for name in FIX_MODULES:
        importlib.import_module(f"{__name__}.{name}").install()
