"""Time validate, deploy (both regions) and destroy (both regions) side by side on the embedded emulator.

    python benchmarks/run.py [--env dev] [--runs 3] [--json reports/benchmarks.json]

deploy/destroy go through the same core the CLI uses (``deploy()``/``destroy()``) against one emulator
started in-process; validate runs the real command (``streamflix-dr validate``) as a subprocess, since
that is what a user waits for. Each figure is the median of ``--runs`` runs; a second deploy (a no-op)
is timed too, because that is the cost of every rerun.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_validate(env: str) -> float:
    exe = shutil.which("streamflix-dr", path=str(Path(sys.executable).parent)) or "streamflix-dr"
    started = time.perf_counter()
    proc = subprocess.run([exe, "validate", "--env", env], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # 1: findings; anything else: it did not run
        raise SystemExit(f"validate failed to run (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def time_deploy_destroy(env_name: str) -> tuple[float, float, float | str]:
    from streamflix_dr.aws.clients import ClientFactory, Target  # noqa: PLC0415
    from streamflix_dr.config import load_environment  # noqa: PLC0415
    from streamflix_dr.deploy.destroy import destroy  # noqa: PLC0415
    from streamflix_dr.deploy.orchestrator import Timeouts, deploy  # noqa: PLC0415
    from streamflix_dr.deploy.stacks import Timing  # noqa: PLC0415
    from streamflix_dr.errors import StreamflixDrError  # noqa: PLC0415
    from streamflix_dr_emulator import server  # noqa: PLC0415

    env = load_environment(env_name)
    timeouts = Timeouts(
        stack_minutes=10, dr_full_minutes=10, delete_minutes=10, timing=Timing(poll_interval=0.2)
    )
    with server.running() as endpoint, tempfile.TemporaryDirectory() as out:
        # Every run starts from an empty emulator (moto's state is process-wide, across server restarts).
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30
        )
        factory = ClientFactory(
            Target(endpoint_url=endpoint, access_key_id="testing", secret_access_key="testing")
        )
        started = time.perf_counter()
        deploy(env, factory, confirm=lambda _p: True, timeouts=timeouts, outputs_dir=Path(out))
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = deploy(env, factory, confirm=lambda _p: True, timeouts=timeouts, outputs_dir=Path(out))
        rerun = time.perf_counter() - started
        if again.changed:
            print("warning: the second deploy changed something", file=sys.stderr)
        started = time.perf_counter()
        try:
            destroy(env, factory, confirm=lambda _p: True, timeouts=timeouts)
        except StreamflixDrError as e:  # reported, not hidden: the figure is missing and says why
            return first, rerun, f"failed: {e}"
        gone: float | str = time.perf_counter() - started
    return first, rerun, gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    samples: dict[str, list[float]] = {
        "validate": [],
        "deploy": [],
        "deploy (no-op rerun)": [],
        "destroy": [],
    }
    failures: dict[str, str] = {}
    for _ in range(args.runs):
        samples["validate"].append(time_validate(args.env))
        first, rerun, gone = time_deploy_destroy(args.env)
        samples["deploy"].append(first)
        samples["deploy (no-op rerun)"].append(rerun)
        if isinstance(gone, str):
            failures["destroy"] = gone
        else:
            samples["destroy"].append(gone)
    medians = {k: statistics.median(v) for k, v in samples.items() if v}
    # Figures are quoted as ratios to the deploy measured in the same run: absolute seconds depend on the
    # machine, the ratios much less.
    base = medians.get("deploy")
    ratios = {k: (v / base if base else None) for k, v in medians.items()}
    print(
        f"{'operation (both regions, emulator)':<36} {'median s':>9} {'min s':>7} {'max s':>7}",
        f"{'x deploy':>8}",
        f" runs={args.runs}",
    )
    for name, values in samples.items():
        if values:
            ratio = ratios.get(name)
            shown = f"{ratio:>9.2f}" if ratio is not None else f"{'-':>9}"
            print(f"{name:<36} {medians[name]:>9.2f} {min(values):>7.2f} {max(values):>7.2f} {shown}")
        else:
            print(f"{name:<36} {'-':>9} {failures.get(name, '')[:300]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "env": args.env,
                    "runs": args.runs,
                    "median_seconds": medians,
                    "ratio_to_deploy": ratios,
                    "failures": failures,
                    "samples": samples,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
