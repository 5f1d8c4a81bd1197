"""The arithmetic of `python -m bench celery` (bench/celery_workers.py) on task instances as Airflow's REST API
returns them: the extract wall runs from the first extract's start to the last extract's end, whatever ran
before (partitions) or after (validate, load), and the spread of extracts over the workers is counted."""

from __future__ import annotations

from bench import floors
from bench.celery_workers import spans


def ti(task_id: str, start: str, end: str, host: str = "w1", map_index: int = -1) -> dict:
    return {"task_id": task_id, "map_index": map_index, "hostname": host, "state": "success",
            "start_date": f"2026-12-07T10:00:{start}Z", "end_date": f"2026-12-07T10:00:{end}Z"}


def test_extract_wall_spans_the_extract_tasks_only():
    instances = [
        ti("github.partitions", "00", "02"),
        ti("github.extract", "03", "10", "w1", 0), ti("github.extract", "04", "20", "w2", 1),
        ti("jira.extract", "05", "15", "w2", 0),
        ti("github.validate", "21", "30"),
        ti("load", "31", "40", "warehouse"),
        # a source the run leaves out: its tasks skip without running (no dates)
        {"task_id": "pagerduty.extract", "map_index": -1, "hostname": "", "state": "skipped", "start_date": None,
         "end_date": None},
    ]
    seen = spans(instances)
    assert seen["extract_wall_s"] == 17.0  # 10:00:03 → 10:00:20
    assert seen["phase_wall_s"] == 30.0  # partitions' start → validate's end; load is not part of it
    assert seen["extract_tasks"] == 3 and seen["extract_task_s_sum"] == 7 + 16 + 10
    assert seen["extract_tasks_by_worker"] == {"w1": 1, "w2": 2}
    assert seen["longest_extracts"][0] == (16.0, "github.extract[1]")


def test_the_target_is_two_workers_at_most_six_tenths_of_one():
    target = floors.TARGETS["celery_workers"]
    assert target.judge(0.6) == "met" and target.judge(0.61) == "MISSED" and target.judge(None) == "n/a"
