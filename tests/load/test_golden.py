"""The golden exports (tests/data/golden): JSON and CSV give identical, correctly typed tables."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import orjson
import pandas as pd
import pytest

from leanplum_notebook import schema
from leanplum_notebook.load import load

MANIFEST = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "golden" / "manifest.json").read_text()
)


def _json_lines(folder: Path) -> list[dict]:
    lines = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and "-output-" in path.name:
            lines += [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    return lines


@pytest.mark.parametrize("which", ["", "nostates/"])
def test_json_and_csv_give_identical_tables(tmp_path: Path, lh: ModuleType, which: str) -> None:
    from_json = load(lh.copy_golden(tmp_path, which + "json"), progress=False)
    from_csv = load(lh.copy_golden(tmp_path, which + "csv"), progress=False)
    lh.assert_tables_equal(from_json, from_csv)
    lh.assert_schema_dtypes(from_json)
    lh.assert_schema_dtypes(from_csv)
    manifest = MANIFEST["nostates" if which else "main"]
    for table, kind in schema.CSV_FILE_KINDS.items():
        assert len(from_json[table]) == manifest["csv_rows"][kind], table
    assert from_json.report.sessions_read == manifest["num_sessions"]
    assert from_csv.report.sessions_read == manifest["num_sessions"]


def test_values_match_the_json_lines_exactly(tmp_path: Path, lh: ModuleType) -> None:
    folder = lh.copy_golden(tmp_path, "json")
    lines = _json_lines(folder)
    tables = load(folder, progress=False)

    sessions = tables.sessions.set_index("sessionId")
    assert sorted(sessions.index) == sorted(int(line["sessionId"]) for line in lines)
    for line in lines:
        row = sessions.loc[int(line["sessionId"])]
        # times: round(float(x) * 1000) ms, whether number, Java-style float or string
        expected_ms = round(float(line["time"]) * 1000)
        assert row["start"] == pd.Timestamp(expected_ms, unit="ms", tz="UTC")
        assert row["isDeveloper"] == bool(line.get("isDeveloper", False))
        assert row["isSession"] == bool(line.get("isSession", False))
        if "lat" in line:
            assert row["lat"] == float(line["lat"])
        else:
            assert pd.isna(row["lat"])
        assert row["userId"] == line["userId"]

    events = tables.events
    expected_ids = [
        ev["eventId"] for line in lines for st in line.get("states", []) for ev in st["events"]
    ]
    assert len(events) == len(expected_ids)
    # exact 64-bit integers: a float64 pass would change the sum
    assert sum(events["eventId"].tolist()) == sum(expected_ids)
    assert events["eventId"].max() == 2**63 - 1
    assert tables.states["stateId"].min() == -(2**63)

    params = tables.event_parameters
    expected_params = sorted(
        (ev["eventId"], name, value if isinstance(value, str) else _text(value))
        for line in lines
        for st in line.get("states", [])
        for ev in st["events"]
        for name, value in ev.get("parameters", {}).items()
    )
    got = sorted(zip(params["eventId"], params["name"].astype(str), params["value"], strict=True))
    assert got == expected_params


def _text(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return repr(value) if isinstance(value, float) else str(value)


def test_quirky_values_survive(tmp_path: Path, lh: ModuleType) -> None:
    tables = load(lh.copy_golden(tmp_path, "json"), progress=False)
    info = tables.states["info"].dropna()
    assert info.str.contains("\n").any() and info.str.contains('"').any()
    assert tables.sessions["city"].astype(str).str.contains(r"[^\x00-\x7f]").any()
    values = set(tables.user_attributes["value"].dropna())
    assert {"True", "False", "true", "false"} <= values
    # every event lives in a state; a nameless (synthetic) state has no states row
    assert set(tables.events["stateId"]) >= set(tables.states["stateId"])
    assert tables.sessions["isSession"].eq(False).sum() == MANIFEST["main"]["num_offline_records"]


def test_days_filter_by_pacific_start(tmp_path: Path, lh: ModuleType) -> None:
    folder = lh.copy_golden(tmp_path, "json")
    day = date(2026, 3, 8)
    tables = load(folder, days=[day], progress=False)
    everything = load(folder, progress=False)
    pacific = tables.sessions["start"].dt.tz_convert(ZoneInfo("America/Los_Angeles"))
    assert (pacific.dt.date == day).all()
    assert len(tables.sessions) == MANIFEST["main"]["pacific_days"]["2026-03-08"]
    kept = set(tables.sessions["sessionId"])
    for name in ("states", "events", "user_attributes", "experiments"):
        assert set(tables[name]["sessionId"]) <= kept
        full = everything[name]
        assert len(tables[name]) == full["sessionId"].isin(kept).sum(), name
    kept_events = set(tables.events["eventId"])
    assert set(tables.event_parameters["eventId"]) <= kept_events
    assert tables.report.sessions_outside_days == len(everything.sessions) - len(kept)
    # the same with the text form, from the Parquet cache this time
    again = load(folder, days="20260308", progress=False)
    assert again.report.parquet_used
    lh.assert_tables_equal(tables, again)


def test_columns_and_tables_subset(tmp_path: Path, lh: ModuleType) -> None:
    folder = lh.copy_golden(tmp_path, "csv")
    full = load(folder, progress=False)
    part = load(
        folder,
        tables=["events", "sessions"],
        columns={"events": ["eventName", "start"], "sessions": ["userId"]},
        progress=False,
    )
    assert list(part.events.columns) == ["eventName", "start"]
    assert list(part.sessions.columns) == ["userId"]
    pd.testing.assert_frame_equal(part.events, full.events[["eventName", "start"]])
    with pytest.raises(LookupError, match="was not loaded"):
        _ = part.states
    assert part.keys() == ["sessions", "events"]
    shared = load(folder, columns=["sessionId"], progress=False)
    assert list(shared.events.columns) == ["sessionId"]
    assert list(shared.event_parameters.columns) == []
    assert len(shared.event_parameters) == len(full.event_parameters)
