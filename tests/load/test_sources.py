"""Sources (parts, Export-like objects, files), the Parquet cache, deduplication, integrity."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType

import orjson
import pandas as pd
import pytest

from leanplum_notebook import schema
from leanplum_notebook.errors import ValidationError
from leanplum_notebook.load import load
from leanplum_notebook.models import ExportPart

STEM = "export-4727756026281984-c95e54af-5df3-4fc0-a62e-fa7601520b92"


def _entry(tmp_path: Path, lh: ModuleType, name: str, finished_at: float) -> Path:
    """A cache-entry-like folder: files/ with the golden JSON export, entry.json."""
    entry = tmp_path / name
    shutil.copytree(lh.GOLDEN / "json", entry / "files")
    (entry / "entry.json").write_text(json.dumps({"job_id": name, "finished_at": finished_at}))
    return entry


def _part(entry: Path, days: tuple[date, ...] = (), num_sessions: int | None = None) -> ExportPart:
    files = tuple(sorted((entry / "files").iterdir()))
    return ExportPart(
        entry_dir=entry,
        format="json",
        files=files,
        days=days,
        num_sessions=num_sessions,
        job_id=entry.name,
    )


def test_export_parts_cache_and_reload(tmp_path: Path, lh: ModuleType) -> None:
    entry = _entry(tmp_path, lh, "job1", 100.0)
    part = _part(entry, num_sessions=61)
    first = load([part], progress=False)
    assert not first.report.parquet_used and first.report.parts_parsed == 1
    assert (entry / "parquet" / "meta.json").is_file()
    stored = sorted(p.name for p in (entry / "parquet").glob("*.parquet"))
    assert stored == sorted(f"{name}.parquet" for name in schema.TABLES)
    assert not list((entry / "parquet").glob("*.tmp-*"))
    second = load(part, progress=False)
    assert second.report.parquet_used and second.report.parts_cached == 1
    assert second.report.sessions_read == 61 and second.report.mismatches == []
    lh.assert_tables_equal(first, second)

    # a changed source file is noticed (names + sizes in meta.json): re-parsed
    target = part.files[0]
    target.write_bytes(target.read_bytes().splitlines(keepends=True)[0])
    third = load(part, progress=False)
    assert third.report.parts_parsed == 1
    assert len(third.sessions) < len(first.sessions)
    assert third.report.mismatches and third.report.mismatches[0].expected == 61


def test_use_parquet_false_writes_nothing(tmp_path: Path, lh: ModuleType) -> None:
    folder = lh.copy_golden(tmp_path, "json")
    before = sorted(folder.rglob("*"))
    load(folder, progress=False, use_parquet=False)
    assert sorted(folder.rglob("*")) == before


def test_unwritable_cache_falls_back_to_memory(
    tmp_path: Path, lh: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    folder = lh.copy_golden(tmp_path, "json")
    (folder / "parquet").write_text("a file where the cache folder would go")
    with caplog.at_level(logging.WARNING):
        tables = load(folder, progress=False)
    assert len(tables.sessions) == 61
    assert any("cannot write the Parquet cache" in r.getMessage() for r in caplog.records)


def test_num_sessions_mismatch_is_reported_and_logged(
    tmp_path: Path, lh: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    part = _part(_entry(tmp_path, lh, "job1", 1.0), num_sessions=70)
    with caplog.at_level(logging.WARNING, logger="leanplum_notebook"):
        tables = load(part, progress=False)
    (mismatch,) = tables.report.mismatches
    assert (mismatch.job_id, mismatch.expected, mismatch.read) == ("job1", 70, 61)
    assert tables.report.sessions_expected == 70
    assert any("numSessions=70" in r.getMessage() for r in caplog.records)


def test_duplicate_sessions_across_parts_keep_the_newest(tmp_path: Path, lh: ModuleType) -> None:
    old = _entry(tmp_path, lh, "old", finished_at=100.0)
    new = _entry(tmp_path, lh, "new", finished_at=200.0)
    # the newer job has a refreshed copy of the sessions of its first file (other userId,
    # one event fewer each) and nothing else
    first = sorted((new / "files").iterdir())[0]
    refreshed = []
    for raw in first.read_bytes().splitlines():
        line = orjson.loads(raw)
        line["userId"] = "refreshed"
        for state in line.get("states", []):
            state["events"] = state["events"][1:]
        refreshed.append(orjson.dumps(line))
    for path in (new / "files").iterdir():
        path.unlink()
    first.write_bytes(b"\n".join(refreshed) + b"\n")
    old_tables = load(_part(old), progress=False)

    # the newer part comes first in the list: recency, not position, decides
    both = load([_part(new), _part(old)], progress=False)
    ids = both.sessions["sessionId"]
    assert ids.is_unique and len(ids) == 61
    refreshed_ids = {int(orjson.loads(r)["sessionId"]) for r in refreshed}
    winners = both.sessions.set_index("sessionId")["userId"]
    assert (winners.loc[sorted(refreshed_ids)] == "refreshed").all()
    assert (winners.drop(sorted(refreshed_ids)) != "refreshed").all()
    report = both.report
    assert report.duplicates_removed["sessions"] == len(refreshed_ids)
    old_events = old_tables.events
    dup_events = old_events["sessionId"].isin(refreshed_ids).sum()
    assert report.duplicates_removed["events"] == dup_events
    new_events = sum(
        len(state["events"]) for r in refreshed for state in orjson.loads(r).get("states", [])
    )
    assert len(both.events) == len(old_events) - dup_events + new_events
    dup_params = old_tables.event_parameters["eventId"].isin(
        old_events.loc[old_events["sessionId"].isin(refreshed_ids), "eventId"]
    )
    assert report.duplicates_removed["event_parameters"] == dup_params.sum()


def test_part_days_restrict_and_combine_with_days(tmp_path: Path, lh: ModuleType) -> None:
    part = _part(_entry(tmp_path, lh, "job", 1.0), days=(date(2026, 3, 7), date(2026, 3, 8)))
    tables = load(part, progress=False)
    assert len(tables.sessions) == 18 + 27
    only = load(part, days=["2026-03-08", "2026-03-09"], progress=False)
    assert len(only.sessions) == 27
    assert only.report.parquet_used


@dataclass
class _FakeExport:
    parts: list[ExportPart]


def test_export_like_object_and_file_list(tmp_path: Path, lh: ModuleType) -> None:
    part = _part(_entry(tmp_path, lh, "job", 1.0))
    from_export = load(_FakeExport([part]), progress=False)
    from_files = load([str(f) for f in part.files], progress=False)
    lh.assert_tables_equal(from_export, from_files)


def test_tables_object(tmp_path: Path, lh: ModuleType) -> None:
    tables = load(lh.copy_golden(tmp_path, "json"), progress=False)
    assert tables["events"] is tables.events
    assert "events" in tables and list(tables) == list(tables.keys())
    assert repr(tables).startswith("Tables(sessions=61")
    with pytest.raises(KeyError, match="unknown table"):
        tables["nope"]
    joined = tables.joined()
    assert len(joined) == len(tables.events) and "sessionStart" in joined.columns
    assert len(tables.joined("sessions")) == len(tables.sessions)
    assert len(tables.joined("parameters")) == len(tables.events)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"tables": ["events", "nope"]}, "tables"),
        ({"columns": {"events": ["nope"]}}, "columns"),
        ({"columns": {"nope": ["x"]}}, "columns"),
        ({"columns": ["nope"]}, "columns"),
        ({"tables": ["events"], "columns": {"sessions": ["userId"]}}, "columns"),
        ({"days": ["2026-13-01"]}, "days"),
        ({"days": 5}, "days"),
        ({"on_bad_line": "ignore"}, "on_bad_line"),
        ({"batch_sessions": 0}, "batch_sessions"),
        ({"engine": "spark"}, "engine"),
    ],
)
def test_bad_arguments_are_named(
    tmp_path: Path, lh: ModuleType, kwargs: dict, argument: str
) -> None:
    folder = lh.copy_golden(tmp_path, "json")
    with pytest.raises(ValidationError) as caught:
        load(folder, progress=False, **kwargs)
    assert caught.value.argument == argument
    assert not (folder / "parquet").exists()  # nothing parsed before the check


def test_bad_sources(tmp_path: Path, lh: ModuleType) -> None:
    with pytest.raises(ValidationError, match="no such file or folder"):
        load(tmp_path / "missing", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="holds no Leanplum export files"):
        load(tmp_path / "empty", progress=False)
    with pytest.raises(ValidationError, match="not a Leanplum export file name"):
        load([tmp_path / "notes.txt"], progress=False)
    mixed = tmp_path / "mixed"
    shutil.copytree(lh.GOLDEN / "json", mixed)
    for path in (lh.GOLDEN / "csv").iterdir():
        shutil.copy(path, mixed / path.name)
    with pytest.raises(ValidationError, match="both JSON and CSV"):
        load(mixed, progress=False)
    with pytest.raises(ValidationError, match="cannot load a int"):
        load(5, progress=False)


def test_unknown_engine_is_named(tmp_path: Path, lh: ModuleType) -> None:
    with pytest.raises(ValidationError, match="engine"):
        load(lh.copy_golden(tmp_path, "json"), engine="spark", progress=False)


def test_empty_selection_of_days(tmp_path: Path, lh: ModuleType) -> None:
    tables = load(lh.copy_golden(tmp_path, "csv"), days=[date(2020, 1, 1)], progress=False)
    lh.assert_schema_dtypes(tables)
    assert all(len(tables[name]) == 0 for name in tables if name != "event_parameters")
    assert len(tables.event_parameters) == 0
    assert tables.report.sessions_outside_days == 61
    assert isinstance(tables.sessions["start"].dtype, pd.DatetimeTZDtype)
