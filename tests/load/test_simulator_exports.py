"""Simulator exports (over HTTP, and straight from the generator + writers): JSON == CSV."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from leanplum_notebook.load import load


def _fetch_kwargs(sim: Any, cache_dir: Path) -> dict[str, Any]:
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.03))
        sim.clock.advance(seconds)

    return {
        "app_id": sim.app_id,
        "export_key": sim.export_key,
        "api_url": sim.api_url,
        "cache_dir": cache_dir,
        "clock": sim.clock.now,
        "sleep": sleep,
        "progress": False,
    }


@pytest.mark.slow
def test_fetched_json_and_csv_exports_load_identically(
    simulator: Any, tmp_path: Path, lh: ModuleType
) -> None:
    from leanplum_notebook.export import fetch

    kwargs = _fetch_kwargs(simulator, tmp_path / "cache")
    as_json = fetch("20260610", "20260611", format="json", **kwargs)
    as_csv = fetch("20260610", "20260611", format="csv", **kwargs)
    assert len(as_json.files) > 1  # the fixture splits files at 64 KiB
    from_json = load(as_json, progress=False)
    from_csv = load(as_csv.parts, progress=False)
    lh.assert_tables_equal(from_json, from_csv)
    lh.assert_schema_dtypes(from_json)
    report = from_json.report
    assert report.sessions_expected == report.sessions_read == len(from_json.sessions) > 100
    assert report.mismatches == [] and from_csv.report.mismatches == []
    pacific = from_json.sessions["start"].dt.tz_convert("America/Los_Angeles").dt.date
    assert set(pacific) == {date(2026, 6, 10), date(2026, 6, 11)}
    # the Parquet cache lives in the pipeline's entry folder and answers the next load
    assert all((part.entry_dir / "parquet" / "meta.json").is_file() for part in as_json.parts)
    again = load(as_json, progress=False)
    assert again.report.parquet_used
    lh.assert_tables_equal(from_json, again)


@pytest.mark.slow
@pytest.mark.parametrize("uses_states", [True, False])
def test_generator_days_in_both_formats(tmp_path: Path, lh: ModuleType, uses_states: bool) -> None:
    from leanplum_notebook.simulator.generator import DataConfig, Generator
    from leanplum_notebook.simulator.writers import write_csv, write_json

    end = datetime(2026, 6, 15, 20, tzinfo=timezone.utc).timestamp()
    gen = Generator(
        DataConfig(seed=3, initial_users=400, new_users_per_day=20, uses_states=uses_states),
        4727756026281984,
        end,
    )
    lines = [r.line for day in gen.days[-3:] for r in gen.sessions_for_day(day)]
    (tmp_path / "json").mkdir()
    (tmp_path / "csv").mkdir()
    json_files = write_json(lines, tmp_path / "json", "export-1-x", 100_000)
    write_csv(lines, tmp_path / "csv", "export-1-x", 50_000)
    assert len(json_files) > 2
    from_json = load(tmp_path / "json", progress=False, batch_sessions=97)
    from_csv = load(tmp_path / "csv", progress=False)
    lh.assert_tables_equal(from_json, from_csv)
    lh.assert_schema_dtypes(from_csv)
    assert len(from_json.sessions) == len(lines)
    assert (len(from_json.states) > 0) is uses_states
    expected_sum = sum(
        ev["eventId"] for line in lines for st in line.get("states", []) for ev in st["events"]
    )
    assert sum(from_csv.events["eventId"].tolist()) == expected_sum
