"""Output that stays whole on an 80-column or piped terminal; reports written where git does not look."""

from __future__ import annotations

import os
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from schemas import RunFinished, RunRejected
from schemas.events import RunMetrics
from services.cli import console as cli_console
from services.demo.report import print_report
from services.demo.runner import JobOutcome, WorkloadResult
from services.executor.tools.workload import load_workload

PROJECT = Path(__file__).resolve().parents[3]


def test_demo_table_cuts_no_cell_when_the_output_is_80_columns() -> None:
    jobs = load_workload()
    outcomes = [
        JobOutcome(
            job,
            RunFinished(
                run_id=f"run-{number}",
                status="succeeded" if number % 2 else "timed_out",
                answer=1.239,
                expected_answer="1.239",
                reason=None if number % 2 else "deadline of 300 s passed",
                metrics=RunMetrics(makespan_s=1.5, sequential_s=13.25, critical_path_s=1.2, speedup=8.83),
            ),
        )
        for number, job in enumerate(jobs[:6])
    ]
    outcomes.append(JobOutcome(jobs[6], RunRejected(run_id="run-x", reason="cycle: 1 -> 2 -> 1")))
    outcomes.append(JobOutcome(jobs[7], None))
    piped = Console(file=StringIO(), width=80)  # what rich assumes when stdout is not a terminal
    print_report(piped, WorkloadResult(outcomes, wall_s=12.0))
    text = piped.file.getvalue()
    assert "…" not in text, text
    for word in ("succeeded", "timed_out", "failed", "makespan/seq/crit s", "speedup", "1.50/13.25/1.20", "8.83x"):
        assert word in text, f"{word!r} not whole in:\n{text}"
    assert max(len(line) for line in text.splitlines()) <= 80


def test_long_path_is_printed_unbroken_when_the_output_is_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/home/someone/projects/genesis-gap/.genesis/warehouse/timelines/0192f3a47b8c7def8123456789012340.png"
    with cli_console.console.capture() as captured:
        monkeypatch.setattr(cli_console.console, "_width", 80)
        cli_console.console.print(f"  timeline of run 0192f3a47b8c (population-ratio-germany-france): {path}")
    assert path in captured.get()


def test_audit_writes_its_report_under_the_reports_dir_not_the_current_folder_when_run(
    genesis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hello"}], "difficulty": "easy"}\n')
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    done = genesis("data", "audit", str(data), "--json", env={"GENESIS_CURATOR_REPORTS_DIR": str(tmp_path / "r")})
    assert done.exit_code == 0, done.output
    assert list(work.iterdir()) == []
    assert (tmp_path / "r" / "training_quality_audit_v2.md").is_file()


def test_default_reports_dir_is_ignored_by_git_when_checked() -> None:
    from services.curator.settings import CuratorSettings

    default = Path(CuratorSettings().reports_dir) / "training_quality_audit_v2.md"
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", str(default)], cwd=PROJECT, env={**os.environ}, check=False
    )
    assert checked.returncode == 0, f"git does not ignore {default}"
