"""The region outage, at one instant: the control plane (every regional AWS API answers 503,
``regional_state``) and the real engines (``engines.fail_region``: TLS fronts close, cross-region links are
cut with what is still on the wire, app tasks freeze, load balancers stop answering).

Both switches are flipped while holding ``regional_state.LOCK`` and the engines' registry lock, so no API
call and no engine sees one half of the outage without the other. The engines' part does nothing for a
region that has no engine (engines off).
"""

from __future__ import annotations

import logging

from streamflix_dr_emulator import engines, regional_state

log = logging.getLogger(__name__)


def fail_region(region: str) -> None:
    """Start an outage of ``region``: its APIs answer 503 and its engines stop answering, together."""
    with regional_state.LOCK, engines.locked():
        regional_state.fail_region(region)
        engines.fail_region(region)


def restore_region(region: str) -> None:
    """End the outage of ``region`` (engines first, so an API that answers finds its engines up)."""
    with regional_state.LOCK, engines.locked():
        engines.restore_region(region)
        regional_state.restore_region(region)
