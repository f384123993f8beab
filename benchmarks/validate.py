"""Time `streamflix-dr validate` against one plain `cfn-lint` run over the template for both regions.

    python benchmarks/validate.py [--runs 3] [--env dev] [--json reports/validate-benchmark.json]

Both are the real commands, run as subprocesses side by side in one process: the runs alternate (cfn-lint,
validate, cfn-lint, validate, ...) so a change in machine load hits both alike. Each figure is the median of
``--runs`` runs; the ratio is validate / cfn-lint (the target is at most 2). validate runs everything it
always runs (cfn-lint for the three stacks with the DR rules, the environment's parameter checks with --env,
and checkov, found as `make validate` finds it); plain cfn-lint runs with its defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "streamflix-dr.yaml"
REGIONS = ("eu-west-2", "us-east-1")


def _exe(name: str) -> str:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def _timed(cmd: list[str], ok_codes: tuple[int, ...], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - started
    if proc.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--env", default=None, help="pass --env to validate (default none, as make validate)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    if "STREAMFLIX_DR_CHECKOV" not in env and checkov.is_file():
        env["STREAMFLIX_DR_CHECKOV"] = str(checkov)
    cfn_lint = [_exe("cfn-lint"), "--regions", *REGIONS, "--", str(TEMPLATE)]
    validate = [_exe("streamflix-dr"), "validate", *(["--env", args.env] if args.env else [])]

    plain: list[float] = []
    ours: list[float] = []
    for i in range(args.runs):
        # cfn-lint exits with a bitmask of what it found (0 when clean); validate exits 1 on findings.
        plain.append(_timed(cfn_lint, (0, 2, 4, 6, 8, 10, 12, 14), env))
        ours.append(_timed(validate, (0, 1), env))
        print(f"run {i + 1}: cfn-lint {plain[-1]:.1f}s, validate {ours[-1]:.1f}s", file=sys.stderr)
    figures = {
        "runs": args.runs,
        "cfn_lint_seconds": round(statistics.median(plain), 2),
        "validate_seconds": round(statistics.median(ours), 2),
    }
    figures["ratio"] = round(figures["validate_seconds"] / figures["cfn_lint_seconds"], 2)
    print(
        f"cfn-lint (both regions) {figures['cfn_lint_seconds']:.1f}s, streamflix-dr validate "
        f"{figures['validate_seconds']:.1f}s (median of {args.runs}): "
        f"ratio {figures['ratio']:.2f} (target <= 2)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
