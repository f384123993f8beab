"""Time the test suite as `make test` runs it (without lint): tests/unit, tests/emulator, tests/integration.

    python benchmarks/test_suite.py [--suites unit emulator integration] [--parallel | --as-make-test]
                                    [--baseline REF] [--json reports/test-suite.json]

Each suite is its own pytest process, as in the Makefile (the emulator's patches apply to a whole process,
and the unit tests run on plain moto). For each the script reports the wall time, the CPU seconds the
process and its children used (``resource.getrusage(RUSAGE_CHILDREN)``), the exit code and pytest's
summary line; then the total. ``--parallel`` starts the suites at once (``make test TEST_JOBS=3``); the
total is then the wall time of the whole batch and no CPU figure is given per suite.

``--baseline REF`` (e.g. ``26e0b7b``, the commit before issue 10's engines) also times that commit's suite,
side by side: the commit is exported with ``git archive`` into a temporary folder (the repository is not
touched, no worktree is added) and run with this venv's interpreter and ``PYTHONPATH`` pointing at the
export's ``src`` (and ``app``), so its own code, templates and tests run. The script checks that
``streamflix_dr`` really imports from the export before it times anything. The baseline runs on this
venv's packages: where they moved on since (26e0b7b: cfn-lint 1.58's schemas make 18 of its unit tests
fail), its failures are listed in the JSON and on the text line; the timing is still its suite's. Run one
at a time, the suites alternate (baseline unit, current unit, baseline emulator, ...) so a change in the
machine's load hits both alike; the ratio current/baseline is the figure to quote (issue 10: at most 1.5),
since on a shared machine the seconds mean little alone.

Output: one JSON document (stdout, or ``--json PATH``) and one line of text on stderr, e.g.
``test suite: unit 86.8 s, emulator 95.6 s, integration 272.1 s, total 454.5 s (baseline 26e0b7b 206.9 s,
x2.20)`` (measured 2026-11-30 on the 2-core machine, load average 1-3).
The load average before and after each run is in the JSON: compare runs made under similar load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("unit", "emulator", "integration")
# pytest's last line: "12 passed, 1 skipped in 3.21s" (or "... failed ...").
SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|error|errors|skipped)\b.*) in [\d.]+s")


@dataclass
class SuiteRun:
    suite: str
    wall_seconds: float
    cpu_seconds: float | None
    exit_code: int
    summary: str
    load_before: float
    load_after: float
    failed_tests: list[str] = field(default_factory=list)


@dataclass
class TreeRun:
    label: str
    root: str
    parallel: bool
    suites: list[SuiteRun] = field(default_factory=list)
    total_wall_seconds: float = 0.0
    total_cpu_seconds: float = 0.0

    def ok(self) -> bool:
        return all(s.exit_code == 0 for s in self.suites)


def _checkov_env(env: dict[str, str]) -> dict[str, str]:
    """As `make test` does for the unit suite: checkov from .venv-checkov (only when it exists here)."""
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    if "STREAMFLIX_DR_CHECKOV" not in env and checkov.is_file():
        env = {**env, "STREAMFLIX_DR_CHECKOV": str(checkov)}
    return env


# The DR-cycle integration tests that `make test` runs as a process of their own (Makefile CYCLE_TESTS).
CYCLE_TESTS = ("tests/integration/test_drill_emulator.py", "tests/integration/test_failback_emulator.py")


def _command(suite: str) -> list[str]:
    """pytest for one suite; ``integration-cycle`` and ``integration-rest`` are make test's split."""
    if suite == "integration-cycle":
        targets = list(CYCLE_TESTS)
    elif suite == "integration-rest":
        targets = ["tests/integration", *(f"--ignore={t}" for t in CYCLE_TESTS)]
    else:
        targets = [f"tests/{suite}"]
    return [sys.executable, "-m", "pytest", *targets, "-q", "-p", "no:cacheprovider"]


def _summary(output: str) -> str:
    for line in reversed(output.splitlines()):
        match = SUMMARY.match(line.strip())
        if match:
            return match.group(1)
    tail = output.strip().splitlines()[-1:] or ["(no output)"]
    return f"no pytest summary; last line: {tail[0][:200]}"


def _failed(output: str) -> list[str]:
    """The ``FAILED``/``ERROR`` lines of pytest's short summary (-ra is in the project's addopts)."""
    return [line.strip() for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))][:50]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_suite(root: Path, env: dict[str, str], suite: str) -> SuiteRun:
    """One suite's pytest process in ``root``, waited for."""
    load = os.getloadavg()[0]
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(_command(suite), cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    output = proc.stdout + proc.stderr
    return SuiteRun(
        suite,
        wall,
        _children_cpu() - cpu,
        proc.returncode,
        _summary(output),
        load,
        os.getloadavg()[0],
        _failed(output),
    )


def run_parallel(tree: TreeRun, env: dict[str, str], suites: list[str]) -> None:
    """All ``suites`` started at once; the tree's total is the batch's wall time."""
    started_all = time.perf_counter()
    cpu = _children_cpu()
    load = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        procs = []
        for suite in suites:
            log = stack.enter_context(tempfile.TemporaryFile(mode="w+"))
            proc = subprocess.Popen(
                _command(suite), cwd=tree.root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            procs.append((suite, proc, log, time.perf_counter()))
        ended: dict[str, float] = {}
        while len(ended) < len(procs):
            for suite, proc, _log, _started in procs:
                if suite not in ended and proc.poll() is not None:
                    ended[suite] = time.perf_counter()
            time.sleep(0.2)
        for suite, proc, log, started in procs:
            log.seek(0)
            output = log.read()
            # CPU per process is not separable for processes waited on together.
            tree.suites.append(
                SuiteRun(
                    suite,
                    ended[suite] - started,
                    None,
                    proc.returncode,
                    _summary(output),
                    load,
                    os.getloadavg()[0],
                    _failed(output),
                )
            )
    tree.total_wall_seconds = time.perf_counter() - started_all
    tree.total_cpu_seconds = _children_cpu() - cpu


def export_ref(ref: str, into: Path) -> Path:
    """``git archive REF`` unpacked into ``into`` (no worktree, nothing written to the repository)."""
    archive = into / "ref.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], stdout=out, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    archive.unlink()
    return tree


def baseline_env(tree: Path, env: dict[str, str]) -> dict[str, str]:
    """This venv's interpreter, importing the export's code first; refuses to go on if it does not."""
    paths = [str(tree / "src")] + ([str(tree / "app")] if (tree / "app").is_dir() else [])
    out = {**env, "PYTHONPATH": os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    where = subprocess.run(
        [sys.executable, "-c", "import streamflix_dr; print(streamflix_dr.__file__)"],
        cwd=tree,
        env=out,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not where.startswith(str(tree)):
        raise SystemExit(f"the baseline's streamflix_dr would import from {where!r}, not from {tree}")
    return out


def _line(current: TreeRun, baseline: TreeRun | None) -> str:
    parts = ", ".join(f"{s.suite} {s.wall_seconds:.1f} s" for s in current.suites)
    mode = " (parallel)" if current.parallel else ""
    text = f"test suite{mode}: {parts}, total {current.total_wall_seconds:.1f} s"
    if baseline is not None:
        ratio = current.total_wall_seconds / baseline.total_wall_seconds
        text += f" (baseline {baseline.label} {baseline.total_wall_seconds:.1f} s, x{ratio:.2f})"
    failed = [f"{s.suite}: {s.summary} {s.failed_tests}" for s in current.suites if s.exit_code != 0]
    if baseline is not None:
        failed += [f"baseline {s.suite}: {s.summary}" for s in baseline.suites if s.exit_code != 0]
    if failed:
        text += "; FAILED " + "; ".join(failed)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", nargs="+", choices=SUITES, default=list(SUITES))
    parser.add_argument("--parallel", action="store_true", help="start the suites at once (make test's way)")
    parser.add_argument("--baseline", metavar="REF", help="also time this git commit's suite, side by side")
    parser.add_argument(
        "--baseline-parallel",
        action="store_true",
        help="run the baseline's suites at once too (default: one after the other, as its Makefile did)",
    )
    parser.add_argument(
        "--as-make-test",
        action="store_true",
        help="this checkout as `make test` runs it: unit, emulator, the integration suite without the "
        "DR-cycle tests and those tests, four processes at once (implies --parallel)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    current_suites = list(args.suites)
    if args.as_make_test:
        args.parallel = True
        current_suites = [s for s in args.suites if s != "integration"]
        if "integration" in args.suites:
            current_suites += ["integration-rest", "integration-cycle"]

    env = _checkov_env(dict(os.environ))
    report: dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.executable}
    baseline: TreeRun | None = None
    base_env = env
    current = TreeRun("this checkout", str(ROOT), args.parallel)
    with tempfile.TemporaryDirectory(prefix="sfdr-suite-baseline-") as tmp:
        if args.baseline:
            tree = export_ref(args.baseline, Path(tmp))
            base_env = baseline_env(tree, env)
            baseline = TreeRun(args.baseline, str(tree), args.baseline_parallel)
        # One suite at a time: baseline's, then this checkout's, suite by suite, so that a change in the
        # machine's load hits both alike. Parallel trees run as a batch each (the baseline's first).
        for suite in args.suites:
            for tree_run, tree_env in ((baseline, base_env), (current, env)):
                if tree_run is not None and not tree_run.parallel:
                    run = run_suite(Path(tree_run.root), tree_env, suite)
                    print(
                        f"{tree_run.label}: {suite} {run.wall_seconds:.1f} s ({run.summary})",
                        file=sys.stderr,
                        flush=True,
                    )
                    tree_run.suites.append(run)
                    tree_run.total_wall_seconds += run.wall_seconds
                    tree_run.total_cpu_seconds += run.cpu_seconds or 0.0
        if baseline is not None and baseline.parallel:
            run_parallel(baseline, base_env, args.suites)
        if current.parallel:
            run_parallel(current, env, current_suites)
    report["current"] = asdict(current)
    if baseline is not None:
        report["baseline"] = asdict(baseline)
        report["ratio_total"] = current.total_wall_seconds / baseline.total_wall_seconds
        by_suite = {b.suite: b for b in baseline.suites}
        report["ratio_by_suite"] = {
            c.suite: c.wall_seconds / by_suite[c.suite].wall_seconds
            for c in current.suites
            if c.suite in by_suite and by_suite[c.suite].wall_seconds > 0
        }
    text = json.dumps(report, indent=2) + "\n"
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    else:
        sys.stdout.write(text)
    print(_line(current, baseline), file=sys.stderr)
    ok = current.ok() and (baseline is None or baseline.ok())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
