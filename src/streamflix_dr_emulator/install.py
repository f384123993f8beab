"""Install the extension into moto's in-process backends, once, before the server starts.

Each module listed here defines ``install() -> None``; a module is listed only once it
exists and is tested. Importing a missing module fails loudly on purpose.
"""

from __future__ import annotations

import importlib
import threading

# Modules under streamflix_dr_emulator, in install order.
MODULES: tuple[str, ...] = (
    "fixes",
    "cfn",
    "lambda_runtime",
    "efs_replication",
    "elasticache_global",
    "secrets_replication",
    "rds_replication",
    "dataplane",
    "ecr_replication",
    "application_autoscaling",
    "cloudwatch_alarms",
    "ecs_load_balancers",
    "route53_health",
    "s3_outage",
    # Failback APIs (rename, replica of a promoted former replica, ...): after the modules they extend.
    "failback_apis",
    # Real engines (PostgreSQL, Valkey, EFS directories, app tasks, ALBs): installed last, so their hooks
    # wrap the control-plane behaviour above; they act only when switched on (engines.enable).
    "engines",
)

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Apply every extension module. Idempotent."""
    global _installed  # noqa: PLW0603 - process-wide, like moto's own backends
    with _lock:
        if _installed:
            return
        for name in MODULES:
            importlib.import_module(f"streamflix_dr_emulator.{name}").install()
        _installed = True
