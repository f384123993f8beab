"""Measure `streamflix-dr drill --emulator` against issue 10's budgets; its figures beside the modelled.

    python benchmarks/drill.py [--runs 3] [--env dev] [--out reports/bench-drill.json] [--timeout 600]
                               [--interval 0.25] [--keep-reports]

Issue 10's budgets: "make drill on a fresh clone stays under 90 s on two cores including set-up; peak memory
of the whole drill under 2 GiB", and "the closing note gives the measured figures of three drills, side by
side with the modelled ones". This script produces both.

What it does, ``--runs`` times (3 by default), one drill after the other:

* runs the real command, ``streamflix-dr drill --emulator --json --reports-dir <fresh temporary dir>``, as a
  subprocess (the console script next to ``sys.executable``, else ``python -m streamflix_dr.cli.main``),
  in its own session, so that Ctrl-C reaches this script, which then stops the drill with one SIGINT (the
  drill tears down what it deployed) and waits for it;
* every ``--interval`` seconds (0.25) sums the memory of the whole process tree from /proc: the CLI (with
  the emulator in it), the app's ECS task processes, the Valkey servers and the PostgreSQL servers.
  ``pg_ctl`` daemonizes PostgreSQL, so its servers leave the CLI's tree; this script makes itself a child
  subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so they are re-parented to it and stay in the tree it
  measures (and it reaps them). Two sums are kept: RSS (the budget's figure; conservative, since pages
  shared between processes, such as PostgreSQL's shared buffers, count once per process) and PSS (shared
  pages split between the processes sharing them, the closer figure for "memory of the whole drill"; None
  where /proc/<pid>/smaps_rollup cannot be read). The peak of each, the processes at the RSS peak by
  command name, and the peak number of processes are recorded;
* times the run (wall seconds, from the subprocess's start to its exit: interpreter start, imports, the
  emulator, deploy of both regions, image publication, failover, failback, second failover, teardown, and
  the engines' shutdown). Not included: creating the venv (``make .venv/.installed``, which `make drill`
  does on a fresh clone first; it depends on the pip cache, not on the drill);
* notes the load average when it starts (this machine may be shared) and the CPU seconds (user + system)
  of the tree's processes reaped meanwhile (``RUSAGE_CHILDREN``), i.e. how many of the cores it used;
* after the drill, lists the processes it left behind (there should be none), waiting up to 15 s for
  them to go.

It then reads each run's JSON summary (``report.model.summary``; the run's ``report.json`` for the deploy
and drill seconds) and prints one Markdown table, a column per run: wall time, peak RSS/PSS, the result,
the RTO (modelled in AWS seconds, and real), per store the writes acknowledged/lost and the RPO measured
by the client (age at the failure of the newest lost write) vs modelled (the runbook's figure from the
control plane at the failover: ReplicaLag, EFS LastReplicatedTimestamp; real seconds too, as the drill's
clock is the wall clock), the unavailability the client saw (real seconds, and scaled to AWS seconds by
the drill's time scale) vs the modelled read/write RTO, the fence, the failback (result, cut-back
modelled, write-unavailability modelled vs client-seen, lost per store, re-protect modelled) and the
second failover; then the budget verdicts, each figure as a ratio to its budget. The same goes to
``--out`` as JSON (default reports/bench-drill.json; reports/ is git-ignored). The runs' report
directories are removed at the end unless ``--keep-reports`` (a failed run's directory is always kept).

Exit codes: 0 every drill succeeded within both budgets; 1 a drill failed (which run and its error are
printed) or could not be started; 2 bad arguments; 3 every drill succeeded but one went over a budget;
130 interrupted (Ctrl-C), after the running drill has torn down.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
BUDGET_WALL_SECONDS = 90.0
BUDGET_PEAK_MIB = 2048.0
STORES = ("rds", "efs", "redis")
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# -- the process tree, from /proc ---------------------------------------------------------------------


@dataclass
class TreeSample:
    """One look at a process tree: its processes, their summed RSS and PSS, RSS per command name."""

    pids: list[int]
    rss_bytes: int
    pss_bytes: int | None  # None when a process's smaps_rollup could not be read
    rss_by_command: dict[str, int]


def process_table(proc: Path = Path("/proc")) -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state letter, command name) for every process visible in ``proc``."""
    table: dict[int, tuple[int, str, str]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # gone since the listing
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
        head, _, rest = raw.rpartition(")")
        fields = rest.split()
        if len(fields) < 2:
            continue
        table[int(entry.name)] = (int(fields[1]), fields[0], head.partition("(")[2])
    return table


def descendants(root: int, table: dict[int, tuple[int, str, str]]) -> list[int]:
    """Every process below ``root`` in ``table`` (children, their children, ...), not ``root`` itself."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _state, _comm) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def _rss_bytes(pid: int, proc: Path) -> int:
    # statm: size resident shared text lib data dt, in pages.
    return int((proc / str(pid) / "statm").read_text().split()[1]) * PAGE_SIZE


def _pss_bytes(pid: int, proc: Path) -> int | None:
    try:
        for line in (proc / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def sample_tree(root: int, *, include_root: bool = True, proc: Path = Path("/proc")) -> TreeSample:
    """Sum the RSS and PSS of ``root``'s process tree (``root`` itself too unless ``include_root`` is
    false). Processes that exit while they are read are left out; zombies hold no memory."""
    table = process_table(proc)
    pids = descendants(root, table)
    if include_root and root in table:
        pids = [root, *pids]
    counted: list[int] = []
    rss = 0
    pss: int | None = 0
    by_command: dict[str, int] = {}
    for pid in pids:
        try:
            r = _rss_bytes(pid, proc)
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
        p = _pss_bytes(pid, proc)
        counted.append(pid)
        rss += r
        pss = None if pss is None or p is None else pss + p
        comm = table[pid][2]
        by_command[comm] = by_command.get(comm, 0) + r
    return TreeSample(pids=counted, rss_bytes=rss, pss_bytes=pss, rss_by_command=by_command)


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux ``prctl``), so daemonized
    grandchildren (``pg_ctl start``) are re-parented to it and stay in its tree. False where it fails."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def reap_orphans(keep: Iterable[int] = ()) -> list[int]:
    """Reap this process's exited children other than ``keep`` (the subprocesses it waits for itself):
    as a subreaper it inherits the drill's daemonized servers and must collect them when they exit."""
    me = os.getpid()
    keep = set(keep)
    reaped: list[int] = []
    for pid, (ppid, state, _comm) in process_table().items():
        if ppid == me and state == "Z" and pid not in keep:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    reaped.append(pid)
    return reaped


# -- one drill ----------------------------------------------------------------------------------------


@dataclass
class RunFigures:
    """What one drill run measured: from outside (wall, memory, load) and its own JSON summary."""

    index: int
    returncode: int | None = None
    wall_seconds: float | None = None
    peak_rss_bytes: int = 0
    peak_pss_bytes: int | None = None
    peak_processes: int = 0
    rss_by_command_at_peak: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    loadavg_start: tuple[float, float, float] | None = None
    loadavg_end: tuple[float, float, float] | None = None
    cpu_seconds: float | None = None
    left_behind: list[str] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    report: dict[str, Any] = field(default_factory=dict)  # deploy/drill seconds, teardown from report.json
    error: str | None = None
    reports_dir: str | None = None

    @property
    def succeeded(self) -> bool:
        return (
            self.error is None and self.returncode == 0 and (self.summary or {}).get("result") == "succeeded"
        )


def cli_command() -> list[str]:
    """The venv's CLI: the console script beside this interpreter, else the module."""
    script = Path(sys.executable).parent / "streamflix-dr"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "streamflix_dr.cli.main"]


def parse_summary(stdout: str) -> dict[str, Any] | None:
    """The drill's ``--json`` summary: the last stdout line that is a JSON object."""
    for raw in reversed(stdout.splitlines()):
        line = raw.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def failure_text(figures: RunFigures, stderr: str) -> str:
    """Why a run failed, in a few lines: the summary's error, else the CLI's ``error:`` lines, else the end
    of its stderr."""
    summary = figures.summary or {}
    if summary.get("error"):
        return str(summary["error"])
    lines = stderr.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith(("error:", "  fix:"))]
    if errors:
        return "\n".join(errors[-6:])
    if summary.get("result"):
        return f"the drill's result is {summary['result']!r}"
    return "\n".join(lines[-15:]) or f"exit code {figures.returncode} and no output"


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Ask the drill to stop as Ctrl-C would (it tears down), and kill it only if it does not within
    ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_once(
    index: int,
    cmd: list[str],
    run_dir: Path,
    *,
    interval: float,
    timeout: float,
    env_name: str,
) -> tuple[RunFigures, bool]:
    """Run one drill, sampling its tree every ``interval`` s. Returns its figures and whether it was
    interrupted (Ctrl-C)."""
    figures = RunFigures(index=index, reports_dir=str(run_dir))
    reports = run_dir / "reports"
    out_path, err_path = run_dir / "stdout.txt", run_dir / "stderr.txt"
    full = [*cmd, "drill", "--emulator", "--env", env_name, "--json", "--reports-dir", str(reports)]
    figures.loadavg_start = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    interrupted = False
    me = os.getpid()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(
                full,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                start_new_session=True,  # Ctrl-C reaches this script only; it stops the drill once
            )
        except OSError as e:
            figures.error = f"could not start {full[0]}: {e}"
            return figures, False
        deadline = started + timeout
        try:
            while proc.poll() is None:
                sample = sample_tree(me, include_root=False)
                figures.samples += 1
                figures.peak_processes = max(figures.peak_processes, len(sample.pids))
                if sample.rss_bytes > figures.peak_rss_bytes:
                    figures.peak_rss_bytes = sample.rss_bytes
                    figures.rss_by_command_at_peak = sample.rss_by_command
                if sample.pss_bytes is not None:
                    figures.peak_pss_bytes = max(figures.peak_pss_bytes or 0, sample.pss_bytes)
                reap_orphans(keep=[proc.pid])
                if time.perf_counter() > deadline:
                    print(f"run {index}: no end after {timeout:.0f} s: stopping it (it tears down) ...")
                    _stop(proc, grace=180)
                    figures.error = f"timed out after {timeout:.0f} s (stopped with SIGINT)"
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            interrupted = True
            print(f"\ninterrupted: stopping run {index} (the drill tears down what it deployed) ...")
            _stop(proc, grace=180)
            figures.error = "interrupted (Ctrl-C)"
        figures.wall_seconds = time.perf_counter() - started
        figures.returncode = proc.returncode
    figures.loadavg_end = os.getloadavg()
    figures.left_behind = _left_behind(me)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures.cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    figures.summary = parse_summary(stdout)
    figures.report = _report_extras(figures.summary)
    if figures.error is None and not figures.succeeded:
        figures.error = f"exit code {figures.returncode}: " + failure_text(figures, stderr)
    return figures, interrupted


def _left_behind(me: int, wait: float = 15.0) -> list[str]:
    """The processes still in this script's tree after a drill (reaped when they go), as 'pid comm'."""
    deadline = time.monotonic() + wait
    while True:
        reap_orphans()
        table = process_table()
        alive = [p for p in descendants(me, table) if table[p][1] != "Z"]
        if not alive or time.monotonic() > deadline:
            return [f"{p} {table[p][2]}" for p in alive]
        time.sleep(0.5)


def _report_extras(summary: dict[str, Any] | None) -> dict[str, Any]:
    """deploy_seconds, drill_seconds and teardown from the run's report.json (beside report.md)."""
    path = (summary or {}).get("report_path")
    if not path:
        return {}
    try:
        doc = json.loads((ROOT / path).with_name("report.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: doc.get(k) for k in ("deploy_seconds", "drill_seconds", "teardown")}


# -- the table ----------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return str(value)


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.0f}"


def _pair(a: Any, b: Any, digits: int = 1) -> str:
    return f"{_num(a, digits)} / {_num(b, digits)}"


def _scaled(real: Any, time_scale: Any) -> Any:
    """Real drill seconds as AWS seconds (the summary's time_scale is drill seconds per AWS second)."""
    if isinstance(real, (int, float)) and isinstance(time_scale, (int, float)) and time_scale > 0:
        return real / time_scale
    return None


def _lost(load: dict[str, Any] | None) -> str:
    if not load:
        return "-"
    return ", ".join(f"{s} {load[s].get('lost')}" for s in STORES if s in load)


def ratio(value: float | None, budget: float) -> float | None:
    return None if value is None else value / budget


def verdict(value: float | None, budget: float, unit: str) -> str:
    """'ok 0.83x' / 'OVER 1.12x' / '-' for one figure against its budget."""
    r = ratio(value, budget)
    if r is None or value is None:
        return "-"
    return f"{'ok' if value < budget else 'OVER'} ({value:.0f} {unit}, {r:.2f}x)"


def build_rows(runs: list[RunFigures]) -> list[tuple[str, list[str]]]:
    """The table's rows (label, one cell per run)."""
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: Any) -> None:
        rows.append((label, [cell(r, r.summary or {}) for r in runs]))

    row(
        "load average at start (1 min)", lambda r, s: _num(r.loadavg_start[0] if r.loadavg_start else None, 2)
    )
    row("wall s (CLI start to exit)", lambda r, s: _num(r.wall_seconds))
    row("  of which the drill s (deploy to report)", lambda r, s: _num(r.report.get("drill_seconds")))
    row("  of which deploy s (both regions, twice)", lambda r, s: _num(r.report.get("deploy_seconds")))
    row("CPU s of reaped tree processes / per wall s", lambda r, s: _cpu(r))
    row("peak RSS MiB (tree sum)", lambda r, s: _mib(r.peak_rss_bytes if r.samples else None))
    row("peak PSS MiB (tree sum)", lambda r, s: _mib(r.peak_pss_bytes))
    row("peak processes in the tree", lambda r, s: _num(r.peak_processes if r.samples else None))
    row("result", lambda r, s: s.get("result") or ("failed" if r.error else "-"))
    row(
        "RTO modelled s (AWS) / real s",
        lambda r, s: _pair(s.get("rto_modelled_seconds"), s.get("rto_seconds")),
    )
    row(
        "RTO read / write modelled s (AWS)",
        lambda r, s: _pair(s.get("rto_read_modelled_seconds"), s.get("rto_write_modelled_seconds")),
    )
    for store in STORES:
        row(f"{store}: acknowledged / lost", lambda r, s, st=store: _ack_lost((s.get("load") or {}).get(st)))
        row(
            f"{store}: RPO measured / modelled s (both real)",
            lambda r, s, st=store: _pair(
                ((s.get("load") or {}).get(st) or {}).get("rpo_seconds"),
                (s.get("rpo_seconds") or {}).get(st) if isinstance(s.get("rpo_seconds"), dict) else None,
                3,
            ),
        )
    for kind in ("read", "write"):
        row(
            f"unavailable {kind}: measured s real (AWS s at scale) / RTO {kind} modelled s",
            lambda r, s, k=kind: _unavailable(s, k),
        )
    row("fence held", lambda r, s: _num((s.get("fence") or {}).get("held")))
    row("failback result", lambda r, s: (s.get("failback") or {}).get("result") or "-")
    row("cut-back modelled s (AWS)", lambda r, s: _num((s.get("failback") or {}).get("rto_modelled_seconds")))
    row(
        "cut-back write-unavailable modelled s (AWS) / client-seen s (real)",
        lambda r, s: _pair(
            (s.get("failback") or {}).get("write_unavailable_seconds"),
            (s.get("failback") or {}).get("write_unavailable_client_seconds"),
        ),
    )
    row("failback lost per store", lambda r, s: _lost((s.get("failback") or {}).get("load")))
    row(
        "re-protect / re-protect original modelled s (AWS)",
        lambda r, s: _pair(
            (s.get("failback") or {}).get("reprotect_seconds"),
            (s.get("failback") or {}).get("reprotect_original_seconds"),
            0,
        ),
    )
    row("second failover result", lambda r, s: (s.get("second_failover") or {}).get("result") or "-")
    row(
        "second failover RTO modelled s (AWS)",
        lambda r, s: _num((s.get("second_failover") or {}).get("rto_modelled_seconds")),
    )
    row("second failover lost per store", lambda r, s: _lost((s.get("second_failover") or {}).get("load")))
    row("processes left behind", lambda r, s: str(len(r.left_behind)))
    # A failed drill's time and memory say nothing about the budgets: only drills that succeeded are judged.
    row(
        f"budget: wall < {BUDGET_WALL_SECONDS:.0f} s",
        lambda r, s: verdict(r.wall_seconds, BUDGET_WALL_SECONDS, "s") if r.succeeded else "n/a (failed)",
    )
    row(
        f"budget: peak RSS < {BUDGET_PEAK_MIB:.0f} MiB",
        lambda r, s: (
            verdict(r.peak_rss_bytes / MIB if r.samples else None, BUDGET_PEAK_MIB, "MiB")
            if r.succeeded
            else "n/a (failed)"
        ),
    )
    return rows


def _cpu(r: RunFigures) -> str:
    if r.cpu_seconds is None or not r.wall_seconds:
        return "-"
    return f"{r.cpu_seconds:.0f} / {r.cpu_seconds / r.wall_seconds:.2f}"


def _ack_lost(d: dict[str, Any] | None) -> str:
    if not d:
        return "-"
    return f"{d.get('acknowledged')} / {d.get('lost')}"


def _unavailable(s: dict[str, Any], kind: str) -> str:
    measured = (s.get("unavailable_seconds") or {}).get(kind)
    modelled = s.get(f"rto_{kind}_modelled_seconds")
    scaled = _scaled(measured, s.get("time_scale"))
    shown = _num(measured, 2) + (f" ({scaled:.0f})" if scaled is not None else "")
    return f"{shown} / {_num(modelled)}"


def markdown(rows: list[tuple[str, list[str]]], runs: list[RunFigures]) -> str:
    header = ["figure", *(f"run {r.index}" for r in runs)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([label, *cells]) + " |" for label, cells in rows]
    return "\n".join(lines)


def verdicts(runs: list[RunFigures]) -> dict[str, Any]:
    """Each budget against the worst of the drills that succeeded, with the ratio to the budget."""
    judged = [r for r in runs if r.succeeded]
    walls = [r.wall_seconds for r in judged if r.wall_seconds is not None]
    peaks = [r.peak_rss_bytes / MIB for r in judged if r.samples]
    worst_wall = max(walls) if walls else None
    worst_peak = max(peaks) if peaks else None
    return {
        "wall_seconds": {
            "budget": BUDGET_WALL_SECONDS,
            "worst": worst_wall,
            "median": statistics.median(walls) if walls else None,
            "ratio": ratio(worst_wall, BUDGET_WALL_SECONDS),
            "within": worst_wall is not None and worst_wall < BUDGET_WALL_SECONDS,
        },
        "peak_rss_mib": {
            "budget": BUDGET_PEAK_MIB,
            "worst": worst_peak,
            "median": statistics.median(peaks) if peaks else None,
            "ratio": ratio(worst_peak, BUDGET_PEAK_MIB),
            "within": worst_peak is not None and worst_peak < BUDGET_PEAK_MIB,
        },
    }


def verdict_lines(v: dict[str, Any]) -> list[str]:
    out = []
    for name, unit in (("wall_seconds", "s"), ("peak_rss_mib", "MiB")):
        d = v[name]
        if d["worst"] is None:
            out.append(f"- {name}: no figure")
            continue
        out.append(
            f"- {name}: {'within' if d['within'] else 'OVER'} budget: worst {d['worst']:.0f} {unit}, "
            f"median {d['median']:.0f} {unit}, budget {d['budget']:.0f} {unit} "
            f"(worst / budget = {d['ratio']:.2f})"
        )
    return out


# -- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--env", default="dev")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-drill.json")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between memory samples")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a drill is stopped")
    parser.add_argument("--keep-reports", action="store_true", help="keep every run's reports directory")
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="where the runs' directories go (default: a new temp dir)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.interval <= 0 or args.timeout <= 0:
        parser.error("--runs, --interval and --timeout must be positive")

    cmd = cli_command()
    subreaper = become_subreaper()
    if not subreaper:
        print(
            "warning: could not become a child subreaper: daemonized PostgreSQL servers leave the tree "
            "and the memory figures miss them",
            file=sys.stderr,
        )
    cpus = len(os.sched_getaffinity(0))
    print(
        f"{args.runs} drill(s) of {' '.join(cmd)} drill --emulator (env {args.env}); {cpus} CPU(s); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    base = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-drill-"))
    runs: list[RunFigures] = []
    interrupted = False
    for i in range(1, args.runs + 1):
        run_dir = base / f"run{i}"
        run_dir.mkdir(parents=True, exist_ok=True)
        print(f"run {i}/{args.runs} ...", flush=True)
        figures, interrupted = run_once(
            i, cmd, run_dir, interval=args.interval, timeout=args.timeout, env_name=args.env
        )
        runs.append(figures)
        if figures.succeeded:
            print(
                f"run {i}: succeeded in {figures.wall_seconds:.1f} s, peak RSS "
                f"{figures.peak_rss_bytes / MIB:.0f} MiB",
                flush=True,
            )
        else:
            print(f"run {i} FAILED: {figures.error}", file=sys.stderr)
            print(f"run {i}: its output and reports are kept in {run_dir}", file=sys.stderr)
        if figures.left_behind:
            print(f"run {i} left processes behind: {', '.join(figures.left_behind)}", file=sys.stderr)
        if interrupted:
            break

    rows = build_rows(runs)
    table = markdown(rows, runs)
    v = verdicts(runs)
    print()
    print(table)
    print()
    print("\n".join(verdict_lines(v)))
    print(
        "\nModelled figures are AWS seconds (the latency model at the drill's time scale); measured ones are "
        "this machine's seconds, with the AWS-equivalent in brackets where the scale is known (RPO: both "
        "real seconds). RSS counts shared pages once per process (conservative); PSS splits them."
    )
    failed = [r for r in runs if not r.succeeded]
    doc = {
        "command": [*cmd, "drill", "--emulator", "--env", args.env, "--json"],
        "cpus": cpus,
        "subreaper": subreaper,
        "interval_seconds": args.interval,
        "budgets": {"wall_seconds": BUDGET_WALL_SECONDS, "peak_rss_mib": BUDGET_PEAK_MIB},
        "verdicts": v,
        "runs": [asdict(r) | {"succeeded": r.succeeded} for r in runs],
        "table_markdown": table,
        "interrupted": interrupted,
    }
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
        print(f"figures written to {args.out}")
    except OSError as e:
        print(f"error: could not write {args.out}: {e}", file=sys.stderr)
    for r in runs:
        if r.succeeded and not args.keep_reports and r.reports_dir:
            shutil.rmtree(r.reports_dir, ignore_errors=True)
    if not failed and not args.keep_reports and args.work_dir is None:
        shutil.rmtree(base, ignore_errors=True)
    if interrupted:
        return 130
    if failed:
        for r in failed:
            print(f"error: run {r.index} failed: {r.error}", file=sys.stderr)
        return 1
    if not (v["wall_seconds"]["within"] and v["peak_rss_mib"]["within"]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
