"""benchmarks/drill.py: the process-tree memory sampling from /proc (a fake /proc and this process's real
tree, with a daemonized grandchild kept by the subreaper), the table and verdicts built from a canned drill
summary, and a failing drill reported as a message, not a traceback (with a stand-in CLI)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "drill.py"
MIB = 1024 * 1024


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_drill", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_drill"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _load()


# -- /proc parsing on a fake /proc ---------------------------------------------------------------------


def _fake_proc(tmp_path: Path, procs: dict[int, tuple[int, str, int, int | None]]) -> Path:
    """pid -> (ppid, comm, resident pages, Pss kB or None for an unreadable smaps_rollup)."""
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "self").mkdir()  # not a pid: ignored
    for pid, (ppid, comm, pages, pss_kb) in procs.items():
        d = proc / str(pid)
        d.mkdir()
        (d / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 0 0\n")
        (d / "statm").write_text(f"1000 {pages} 10 1 0 50 0\n")
        if pss_kb is not None:
            (d / "smaps_rollup").write_text(
                f"00400000-7fff [rollup]\nRss:  {pages * 4} kB\nPss:  {pss_kb} kB\nPss_Anon: 1 kB\n"
            )
    return proc


def test_process_table_reads_parent_state_and_command_even_with_parentheses_in_the_name(
    tmp_path: Path,
) -> None:
    proc = _fake_proc(tmp_path, {10: (1, "odd (name) x", 1, 4), 11: (10, "postgres", 1, 4)})
    table = bench.process_table(proc)
    assert table == {10: (1, "S", "odd (name) x"), 11: (10, "S", "postgres")}


def test_descendants_follow_every_level_and_leave_out_the_root_and_strangers() -> None:
    table = {
        1: (0, "S", "init"),
        10: (1, "S", "bench"),
        11: (10, "S", "cli"),
        12: (11, "S", "valkey"),
        13: (12, "S", "grandchild"),
        14: (10, "S", "postgres"),  # re-parented to the subreaper
        20: (1, "S", "someone else"),
        21: (20, "S", "their child"),
    }
    assert bench.descendants(10, table) == [11, 12, 13, 14]
    assert bench.descendants(13, table) == []


def test_sample_tree_sums_rss_and_pss_of_the_tree_only(tmp_path: Path) -> None:
    page = bench.PAGE_SIZE
    proc = _fake_proc(
        tmp_path,
        {
            10: (1, "bench", 100, 400),
            11: (10, "python3", 1000, 3000),
            12: (11, "postgres", 500, 700),
            13: (11, "postgres", 500, 700),
            20: (1, "stranger", 99999, 99999),
        },
    )
    s = bench.sample_tree(10, proc=proc)
    assert s.pids == [10, 11, 12, 13]
    assert s.rss_bytes == (100 + 1000 + 500 + 500) * page
    assert s.pss_bytes == (400 + 3000 + 700 + 700) * 1024
    assert s.rss_by_command == {"bench": 100 * page, "python3": 1000 * page, "postgres": 1000 * page}

    without_root = bench.sample_tree(10, include_root=False, proc=proc)
    assert without_root.pids == [11, 12, 13]
    assert without_root.rss_bytes == 2000 * page


def test_pss_is_none_when_one_process_cannot_be_read_and_vanished_processes_are_skipped(
    tmp_path: Path,
) -> None:
    proc = _fake_proc(tmp_path, {10: (1, "bench", 100, 400), 11: (10, "other user", 50, None)})
    (proc / "12").mkdir()  # listed, but gone before its files are read
    (proc / "12" / "stat").write_text("12 (gone) S 10 12 12 0 -1 0 0 0\n")
    s = bench.sample_tree(10, proc=proc)
    assert s.pids == [10, 11]
    assert s.rss_bytes == 150 * bench.PAGE_SIZE
    assert s.pss_bytes is None


# -- this process's real tree ---------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import subprocess, sys
    block = b"x" * (64 * 1024 * 1024)  # written, so resident
    wait = [sys.executable, "-c", "import sys; sys.stdin.read()"]
    grandchild = subprocess.Popen(wait, stdin=subprocess.PIPE)
    print(grandchild.pid, flush=True)
    sys.stdin.read()
    grandchild.stdin.close()
    grandchild.wait()
    """
)


def test_sample_tree_counts_a_child_and_its_grandchild_in_the_current_process_tree() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        grandchild = int(child.stdout.readline())
        tree = bench.sample_tree(os.getpid())
        mine = bench.sample_tree(os.getpid(), include_root=False)
        child_alone = bench.sample_tree(child.pid)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)
    assert os.getpid() in tree.pids
    assert {child.pid, grandchild} <= set(tree.pids)
    assert os.getpid() not in mine.pids
    assert {child.pid, grandchild} <= set(mine.pids)
    # The child wrote 64 MiB: its tree alone holds at least that, and so does the sum below this process.
    assert child_alone.pids == sorted([child.pid, grandchild])
    assert child_alone.rss_bytes >= 64 * MIB
    assert mine.rss_bytes >= 64 * MIB
    assert tree.rss_bytes > mine.rss_bytes  # this process's own RSS comes on top
    assert tree.pss_bytes is None or tree.pss_bytes >= 64 * MIB


_SUBREAPER = textwrap.dedent(
    """
    import importlib.util, json, os, signal, subprocess, sys, time
    spec = importlib.util.spec_from_file_location("bench_drill", sys.argv[1])
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_drill"] = bench
    spec.loader.exec_module(bench)
    subreaper = bench.become_subreaper() if sys.argv[2] == "on" else False
    # What pg_ctl start does: fork a server and exit, so the server's parent is gone.
    daemonize = (
        "import os, sys, time\\n"
        "pid = os.fork()\\n"
        "if pid:\\n"
        "    print(pid, flush=True)\\n"
        "    os._exit(0)\\n"
        "os.setsid()\\n"
        "sys.stdout.close()\\n"
        "time.sleep(60)\\n"
    )
    starter = subprocess.Popen([sys.executable, "-c", daemonize], stdout=subprocess.PIPE, text=True)
    daemon = int(starter.stdout.readline())
    starter.wait()
    in_tree = daemon in bench.sample_tree(os.getpid(), include_root=False).pids
    os.kill(daemon, signal.SIGTERM)
    reaped = []
    for _ in range(100):
        reaped += bench.reap_orphans()
        if daemon in reaped or not subreaper:
            break
        time.sleep(0.05)
    print(json.dumps({"subreaper": subreaper, "in_tree": in_tree, "reaped": daemon in reaped}))
    """
)


def _daemon_case(mode: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _SUBREAPER, str(SCRIPT), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_daemonized_grandchild_stays_in_the_tree_only_with_the_subreaper_and_is_reaped() -> None:
    on = _daemon_case("on")
    assert on == {"subreaper": True, "in_tree": True, "reaped": True}
    # Without it the daemon leaves the tree (re-parented to init): what the subreaper is there for.
    off = _daemon_case("off")
    assert off["in_tree"] is False


# -- the table and the verdicts from a canned summary --------------------------------------------------


def _summary() -> dict[str, Any]:
    """The shape of `streamflix-dr drill --json` (figures from a real run, trimmed)."""
    store = {"acknowledged": 59, "found": 59, "lost": 0, "rpo_seconds": 0}
    return {
        "kind": "drill",
        "result": "succeeded",
        "error": "",
        "rto_seconds": 5.801,
        "rto_modelled_seconds": 310.634,
        "rto_read_modelled_seconds": 151.052,
        "rto_write_modelled_seconds": 300.471,
        "rpo_seconds": {"efs": 3.301, "rds": 0.224, "redis": None},
        "time_scale": 1 / 60,
        "load": {
            "efs": {"acknowledged": 60, "found": 46, "lost": 14, "rpo_seconds": 0.038},
            "rds": store,
            "redis": {"acknowledged": 59, "found": 37, "lost": 22, "rpo_seconds": 0.042},
        },
        "unavailable_seconds": {"read": 1.369, "write": 1.694},
        "fence": {"held": True, "note": "held"},
        "report_path": "/nonexistent/report.md",
        "failback": {
            "result": "succeeded",
            "rto_modelled_seconds": 710.0,
            "write_unavailable_seconds": 560.0,
            "write_unavailable_client_seconds": 5.109,
            "lost": {"efs": 0, "rds": 0, "redis": 9},
            "load": {
                "efs": {"acknowledged": 35, "found": 35, "lost": 0, "rpo_seconds": 0},
                "rds": {"acknowledged": 35, "found": 35, "lost": 0, "rpo_seconds": 0},
                "redis": {"acknowledged": 35, "found": 26, "lost": 9, "rpo_seconds": 0.0},
            },
            "reprotect_seconds": 7840.0,
            "reprotect_original_seconds": 9020.0,
        },
        "second_failover": {
            "result": "succeeded",
            "rto_modelled_seconds": 310.456,
            "load": {
                "efs": {"acknowledged": 52, "found": 44, "lost": 8, "rpo_seconds": 0.195},
                "rds": {"acknowledged": 52, "found": 52, "lost": 0, "rpo_seconds": 0},
                "redis": {"acknowledged": 52, "found": 36, "lost": 16, "rpo_seconds": 0.2},
            },
        },
    }


def _runs() -> list[Any]:
    ok = bench.RunFigures(
        index=1,
        returncode=0,
        wall_seconds=62.0,
        peak_rss_bytes=1536 * MIB,
        peak_pss_bytes=900 * MIB,
        peak_processes=31,
        samples=240,
        loadavg_start=(2.46, 2.37, 2.43),
        cpu_seconds=93.0,
        summary=_summary(),
        report={"deploy_seconds": 25.14, "drill_seconds": 55.5, "teardown": "done"},
    )
    slow = bench.RunFigures(
        index=2,
        returncode=0,
        wall_seconds=99.0,
        peak_rss_bytes=2100 * MIB,
        samples=300,
        loadavg_start=(3.0, 2.0, 1.0),
        summary=_summary(),
    )
    failed = bench.RunFigures(index=3, returncode=1, wall_seconds=20.0, error="exit code 1: error: boom")
    return [ok, slow, failed]


def _cells(rows: list[tuple[str, list[str]]], label: str) -> list[str]:
    matches = [cells for name, cells in rows if name == label]
    assert len(matches) == 1, f"no single row {label!r} in {[n for n, _ in rows]}"
    return matches[0]


def test_rows_put_each_runs_measured_figures_beside_the_modelled_ones() -> None:
    rows = bench.build_rows(_runs())
    assert all(len(cells) == 3 for _, cells in rows)
    assert _cells(rows, "wall s (CLI start to exit)") == ["62.0", "99.0", "20.0"]
    assert _cells(rows, "  of which the drill s (deploy to report)") == ["55.5", "-", "-"]
    assert _cells(rows, "  of which deploy s (both regions, twice)") == ["25.1", "-", "-"]
    assert _cells(rows, "peak RSS MiB (tree sum)") == ["1536", "2100", "-"]
    assert _cells(rows, "peak PSS MiB (tree sum)") == ["900", "-", "-"]
    assert _cells(rows, "CPU s of reaped tree processes / per wall s") == ["93 / 1.50", "-", "-"]
    assert _cells(rows, "result") == ["succeeded", "succeeded", "failed"]
    assert _cells(rows, "RTO modelled s (AWS) / real s")[0] == "310.6 / 5.8"
    assert _cells(rows, "RTO read / write modelled s (AWS)")[0] == "151.1 / 300.5"
    assert _cells(rows, "efs: acknowledged / lost")[0] == "60 / 14"
    assert _cells(rows, "rds: acknowledged / lost") == ["59 / 0", "59 / 0", "-"]
    assert _cells(rows, "efs: RPO measured / modelled s (both real)")[0] == "0.038 / 3.301"
    assert _cells(rows, "redis: RPO measured / modelled s (both real)")[0] == "0.042 / -"
    # 1.369 real seconds at 1/60 are 82 AWS seconds, beside the modelled read RTO
    read = "unavailable read: measured s real (AWS s at scale) / RTO read modelled s"
    assert _cells(rows, read)[0] == "1.37 (82) / 151.1"
    assert _cells(rows, "failback result") == ["succeeded", "succeeded", "-"]
    assert _cells(rows, "cut-back modelled s (AWS)")[0] == "710.0"
    assert (
        _cells(rows, "cut-back write-unavailable modelled s (AWS) / client-seen s (real)")[0] == "560.0 / 5.1"
    )
    assert _cells(rows, "failback lost per store")[0] == "rds 0, efs 0, redis 9"
    assert _cells(rows, "re-protect / re-protect original modelled s (AWS)")[0] == "7840 / 9020"
    assert _cells(rows, "second failover result")[0] == "succeeded"
    assert _cells(rows, "second failover lost per store")[0] == "rds 0, efs 8, redis 16"
    assert _cells(rows, "budget: wall < 90 s") == ["ok (62 s, 0.69x)", "OVER (99 s, 1.10x)", "n/a (failed)"]
    assert _cells(rows, "budget: peak RSS < 2048 MiB") == [
        "ok (1536 MiB, 0.75x)",
        "OVER (2100 MiB, 1.03x)",
        "n/a (failed)",
    ]


def test_markdown_has_a_column_per_run_and_a_row_per_figure() -> None:
    runs = _runs()
    rows = bench.build_rows(runs)
    text = bench.markdown(rows, runs)
    lines = text.splitlines()
    assert lines[0] == "| figure | run 1 | run 2 | run 3 |"
    assert lines[1] == "|---|---|---|---|"
    assert len(lines) == 2 + len(rows)
    assert all(line.count("|") == 5 for line in lines)
    assert "| fence held | yes | yes | - |" in lines


def test_verdicts_take_the_worst_successful_run_against_each_budget() -> None:
    failed_slow = bench.RunFigures(index=4, returncode=1, wall_seconds=500.0, samples=1, error="boom")
    v = bench.verdicts([*_runs(), failed_slow])
    assert v["wall_seconds"]["worst"] == 99.0
    assert v["wall_seconds"]["median"] == 80.5  # of 62 and 99; the failed run is not judged
    assert v["wall_seconds"]["within"] is False
    assert v["wall_seconds"]["ratio"] == pytest.approx(1.1)
    assert v["peak_rss_mib"]["worst"] == 2100
    assert v["peak_rss_mib"]["within"] is False
    within = bench.verdicts(_runs()[:1])
    assert within["wall_seconds"]["within"] is True
    assert within["peak_rss_mib"]["ratio"] == pytest.approx(0.75)
    assert any("OVER budget: worst 99 s" in line for line in bench.verdict_lines(v))


def test_no_successful_run_means_no_figure_not_zero() -> None:
    v = bench.verdicts([bench.RunFigures(index=1, error="could not start")])
    assert v["wall_seconds"]["worst"] is None
    assert v["peak_rss_mib"]["worst"] is None
    assert v["peak_rss_mib"]["within"] is False
    assert bench.verdict_lines(v)[1] == "- peak_rss_mib: no figure"


# -- the drill's output ---------------------------------------------------------------------------------


def test_parse_summary_takes_the_last_json_object_line() -> None:
    out = 'noise\n{"result": "failed"}\n[1, 2]\n{"result": "succeeded", "kind": "drill"}\n{broken\n'
    assert bench.parse_summary(out) == {"result": "succeeded", "kind": "drill"}
    assert bench.parse_summary("no json here\n") is None


def test_report_extras_come_from_the_report_json_beside_the_markdown(tmp_path: Path) -> None:
    folder = tmp_path / "drills" / "failover-x"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(
        json.dumps({"deploy_seconds": 25.1, "drill_seconds": 88.6, "teardown": "done", "steps": []})
    )
    summary = {"report_path": str(folder / "report.md")}
    assert bench._report_extras(summary) == {
        "deploy_seconds": 25.1,
        "drill_seconds": 88.6,
        "teardown": "done",
    }
    assert bench._report_extras({"report_path": str(tmp_path / "gone" / "report.md")}) == {}
    assert bench._report_extras(None) == {}


def test_failure_text_prefers_the_summary_error_then_the_cli_error_lines() -> None:
    f = bench.RunFigures(index=1, returncode=1, summary={"result": "failed", "error": "fence: NOT held"})
    assert bench.failure_text(f, "drill: ...\n") == "fence: NOT held"
    f = bench.RunFigures(index=1, returncode=3)
    stderr = "drill: deploying\nerror: us-east-1: not ready\n  fix: deploy the DR stack\n"
    assert bench.failure_text(f, stderr) == "error: us-east-1: not ready\n  fix: deploy the DR stack"
    f = bench.RunFigures(index=1, returncode=-9)
    assert bench.failure_text(f, "") == "exit code -9 and no output"


_FAKE_CLI = textwrap.dedent(
    """
    import json, sys, time
    time.sleep(0.5)
    if sys.argv[1] == "ok":
        print("drill: deploying", file=sys.stderr)
        print(json.dumps({"result": "succeeded", "error": ""}))
        sys.exit(0)
    print("drill: deploying", file=sys.stderr)
    print("error: eu-west-2: stack streamflix-primary-dev failed", file=sys.stderr)
    print("  fix: look at the stack events", file=sys.stderr)
    sys.exit(1)
    """
)


def _fake_cli(tmp_path: Path, outcome: str) -> list[str]:
    script = tmp_path / "fake_cli.py"
    script.write_text(_FAKE_CLI)
    return [sys.executable, str(script), outcome]


def test_run_once_runs_the_command_with_its_own_reports_dir_and_samples_it(tmp_path: Path) -> None:
    figures, interrupted = bench.run_once(
        1, _fake_cli(tmp_path, "ok"), tmp_path, interval=0.05, timeout=120, env_name="dev"
    )
    assert interrupted is False
    assert figures.succeeded, figures.error
    assert figures.summary == {"result": "succeeded", "error": ""}
    assert figures.samples >= 1
    assert figures.peak_rss_bytes > 0  # the stand-in CLI itself, at least
    assert figures.loadavg_start is not None
    assert figures.left_behind == []


def test_a_failed_drill_is_reported_with_its_run_and_error_and_exit_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench, "cli_command", lambda: _fake_cli(tmp_path, "fail"))
    monkeypatch.setattr(bench, "become_subreaper", lambda: True)  # not in the test process
    out = tmp_path / "bench.json"
    work = tmp_path / "work"
    code = bench.main(["--runs", "1", "--interval", "0.05", "--out", str(out), "--work-dir", str(work)])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err + captured.out
    assert "run 1 FAILED: exit code 1: error: eu-west-2: stack streamflix-primary-dev failed" in captured.err
    assert "| result | failed |" in captured.out
    doc = json.loads(out.read_text())
    assert doc["runs"][0]["succeeded"] is False
    assert doc["runs"][0]["returncode"] == 1
    kept = Path(doc["runs"][0]["reports_dir"])
    assert kept == work / "run1"
    assert (kept / "stderr.txt").is_file()  # a failed run's output is kept
    assert f"its output and reports are kept in {kept}" in captured.err


_STOPPABLE = textwrap.dedent(
    """
    import sys, time
    try:
        print("ready", flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        sys.exit(7)  # what the drill does on Ctrl-C: tear down, then exit
    """
)


def test_stop_asks_the_drill_to_stop_as_ctrl_c_would_and_waits_for_it() -> None:
    # The drill runs in its own session, so the terminal's Ctrl-C reaches the benchmark only, which stops
    # the drill with one SIGINT (a KeyboardInterrupt in the drill: it tears down) rather than killing it.
    proc = subprocess.Popen(
        [sys.executable, "-c", _STOPPABLE], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    bench._stop(proc, grace=60)
    assert proc.returncode == 7
