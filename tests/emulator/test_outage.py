"""The region outage hits the control plane and the engines at one instant, whichever switch is used."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streamflix_dr_emulator import dataplane, engines, outage, regional_state

REGION = "eu-west-2"


class _Engine:
    regions = (REGION,)

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    def fail(self) -> None:
        # What the API side says at the instant the engine goes down: already failed.
        self.calls.append(("fail", regional_state.is_failed(REGION)))

    def restore(self) -> None:
        self.calls.append(("restore", regional_state.is_failed(REGION)))

    def stop(self) -> None:
        pass


@pytest.fixture
def engine() -> Iterator[_Engine]:
    e = _Engine()
    engines.register(REGION, e)
    try:
        yield e
    finally:
        outage.restore_region(REGION)
        engines.unregister(e)


def test_outage_fails_apis_and_engines_together(engine: _Engine) -> None:
    outage.fail_region(REGION)
    assert regional_state.is_failed(REGION) and engines.is_failed(REGION)
    assert engine.calls == [("fail", True)]
    outage.restore_region(REGION)
    assert not regional_state.is_failed(REGION) and not engines.is_failed(REGION)
    assert engine.calls[-1] == ("restore", True)  # engines first, then the APIs


def test_the_data_plane_switch_reaches_the_engines(engine: _Engine) -> None:
    # POST /_streamflix/dataplane/regions/<region>/fail: before, only the APIs answered 503.
    dataplane.fail_region(REGION)
    assert engines.is_failed(REGION) and engine.calls == [("fail", True)]
    dataplane.restore_region(REGION)
    assert not engines.is_failed(REGION) and not regional_state.is_failed(REGION)


def test_a_reset_ends_both_halves_of_an_outage(engine: _Engine) -> None:
    # moto's reset ends the outage; an engine registered later in that region must not start failed.
    dataplane.fail_region(REGION)
    dataplane.reset()
    assert not regional_state.is_failed(REGION) and not engines.is_failed(REGION)
