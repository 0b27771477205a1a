"""Fault schedules written out (faults/schedule.py): their JSON, their checks, their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_sdconform.faults.schedule import Schedule, ScheduleError, Step

SCHEDULE = Schedule((Step(((0, "partition"),), 1.0, 2.5),
                     Step(((0, "partition"), (1, "kill-n2")), 0.5, 1.0)))


def test_json_round_trip_and_what_a_person_reads() -> None:
    data = json.loads(json.dumps(SCHEDULE.to_json()))
    assert Schedule.from_json(data) == SCHEDULE
    assert data["describe"] == "1s quiet, partition 2.5s; 0.5s quiet, partition + kill-n2 1s"
    assert SCHEDULE.span == 5.0 and SCHEDULE.size == (2, 3, 3.5)


def test_a_schedule_names_the_case_faults_as_they_are() -> None:
    SCHEDULE.check(["partition", "kill-n2"])
    with pytest.raises(ScheduleError, match=r"f.json: step 2 names fault 1 'kill-n2', but this "
                                            r"case's faults are 0: partition, 1: kill-n3"):
        SCHEDULE.check(["partition", "kill-n3"], "f.json")
    with pytest.raises(ScheduleError, match=r"step 1 names fault 0 'partition'.*faults are none"):
        SCHEDULE.check([])


@pytest.mark.parametrize("text, why", [
    ("[1]", "not a fault schedule"),
    ('{"steps": 3}', "steps is not a list"),
    ('{"steps": [{"faults": [[0, "p"]], "quiet": -1, "duration": 1}]}', "not a number of sec"),
    ('{"steps": [{"faults": [[0, "p"]], "quiet": 1, "duration": "NaN"}]}', "not a number of s"),
    ('{"steps": [{"quiet": 1, "duration": 1}]}', "KeyError"),
    ("{no", "not JSON"),
])
def test_bad_files_are_named_with_the_reason(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(ScheduleError, match=why) as e:
        Schedule.read(path)
    assert str(e.value).startswith(str(path))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="cannot read it"):
        Schedule.read(tmp_path / "none.json")
