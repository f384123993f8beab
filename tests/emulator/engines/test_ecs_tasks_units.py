"""engines.ecs_tasks' pure parts: the target group matcher, the settings' bounds, the read-only tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamflix_dr_emulator.engines import ecs_tasks


@pytest.mark.parametrize(
    ("matcher", "status", "expected"),
    [
        ({"HttpCode": "200"}, 200, True),
        ({"HttpCode": "200"}, 204, False),
        ({"HttpCode": "200-299"}, 204, True),
        ({"HttpCode": "200,302"}, 302, True),
        ({"HttpCode": "200,302"}, 301, False),
        (None, 200, True),
        (None, 503, False),
    ],
)
def test_matcher_codes_lists_and_ranges(matcher: dict[str, str] | None, status: int, expected: bool) -> None:
    assert ecs_tasks._matches(matcher, status) is expected


def test_settings_refuse_values_that_would_not_mean_anything() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        ecs_tasks.configure(time_scale=0)
    with pytest.raises(ValueError, match="time_scale"):
        ecs_tasks.configure(time_scale=2)
    with pytest.raises(ValueError, match="max_tasks_per_service"):
        ecs_tasks.configure(max_tasks_per_service=-1)


def test_read_only_tree_refuses_the_app_process_and_writable_tree_lets_it_write(tmp_path: Path) -> None:
    """What a task on a replication destination gets: the process runs as the app runs (without
    CAP_DAC_OVERRIDE when we are root) and cannot create a file anywhere in the tree."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "old.bin").write_bytes(b"old")
    probe = (
        "import sys, pathlib\n"
        "root = pathlib.Path(sys.argv[1])\n"
        "try:\n"
        "    (root / 'sub' / 'new.bin').write_bytes(b'x')\n"
        "    print('wrote')\n"
        "except PermissionError:\n"
        "    print('refused')\n"
    )
    command = [*ecs_tasks._launcher(), sys.executable, "-c", probe, str(tmp_path)]
    ecs_tasks.apply_fs_mode(tmp_path, writable=False, force=True)
    refused = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ))
    ecs_tasks.apply_fs_mode(tmp_path, writable=True, force=True)
    allowed = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ))
    assert (refused.stdout.strip(), allowed.stdout.strip()) == ("refused", "wrote")
    assert (tmp_path / "sub" / "new.bin").read_bytes() == b"x"
