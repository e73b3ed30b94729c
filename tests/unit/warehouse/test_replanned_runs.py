"""A re-planned run in the warehouse: the sub-plan's tasks join the run's tasks and its timeline."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli.main import app
from services.warehouse.query import open_reader
from services.warehouse.runs import load_timeline
from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import WarehouseStore
from tests.unit.warehouse.events import replanned_run, write


def test_timeline_shows_the_sub_plan_s_tasks_and_their_edges_when_a_run_was_replanned(
    settings: WarehouseSettings,
) -> None:
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold="16MB", timeout_s=1)
    write(store, *replanned_run("run-replanned"))
    store.close()
    with open_reader(settings) as reader:
        timeline = load_timeline(reader, "run-replanned")
        [(event_type,)] = reader.query(
            "SELECT type FROM events WHERE run_id = ? AND type LIKE 'RunReplanned%'", ["run-replanned"]
        ).rows
    assert event_type == "RunReplanned.v1"
    tasks = {task.task_id: task for task in timeline.tasks}
    assert list(tasks) == ["1", "2", "r1.1"]
    assert tasks["r1.1"].deps == () and [span.status for span in tasks["r1.1"].attempts] == ["ok"]
    assert set(tasks["2"].deps) == {"1", "r1.1"}  # the edge to the replaced task stays beside the new one
    assert tasks["1"].status == "failed" and tasks["2"].status == "skipped"
    assert timeline.replans == (
        "re-planned: task 1 failed (search backend down); the sub-plan r1.1 took its place, r1.1 standing in for it",
    )
    shown = CliRunner().invoke(
        app, ["runs", "show", "run-replanned"], env={"GENESIS_WAREHOUSE_DIR": settings.dir, "COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    assert "re-planned: task 1 failed (search backend down)" in shown.stdout and "r1.1" in shown.stdout
