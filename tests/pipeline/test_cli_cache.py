"""The export/quota/cache CLI, cache listing and clearing, and Export.load delegation."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from leanplum_notebook import cli
from leanplum_notebook.export import fetch
from leanplum_notebook.simulator import SimClock
from leanplum_notebook.store.cache import clear_cache, list_cache


def test_cache_list_and_clear(harness: Any) -> None:
    h = harness()
    fetch("20260601", "20260603", **h.kw())
    fetch("20260612", **h.kw())
    rows = list_cache(h.cache_dir)
    assert [r.day for r in rows] == [date(2026, 6, d) for d in (1, 2, 3, 12)]
    assert [r.status for r in rows] == ["final"] * 3 + ["provisional"]
    assert all(r.bytes > 0 and r.format == "json" and r.window == "all" for r in rows)
    assert clear_cache(h.cache_dir, before=date(2026, 6, 3)) == 2
    assert [r.day for r in list_cache(h.cache_dir)] == [date(2026, 6, 3), date(2026, 6, 12)]
    # the job of 06-01..03 still holds 06-03: its entry is kept; cleared days cost an export
    assert fetch("20260603", **h.kw()).exports_spent == 0
    assert fetch("20260601", **h.kw()).exports_spent == 1
    assert clear_cache(h.cache_dir, app_id=h.sim.app_id) == 3
    assert list_cache(h.cache_dir) == []
    entries = list(h.cache_dir.rglob("entries/*"))
    assert entries == []  # nothing left but the ledger and empty days files
    assert (h.cache_dir / h.sim.app_id / "quota.json").is_file()


def test_export_load_delegates_to_the_loader(harness: Any) -> None:
    h = harness()
    got = fetch("20260601", "20260602", **h.kw())
    tables = got.load(progress=False)
    assert len(tables.sessions) == sum(p.num_sessions or 0 for p in got.parts)


def test_cli_export_quota_cache(
    make_simulator: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = make_simulator(clock=SimClock())  # the CLI runs on the real clock
    cache_dir = tmp_path / "c"
    monkeypatch.setenv("LEANPLUM_APP_ID", sim.app_id)
    monkeypatch.setenv("LEANPLUM_EXPORT_KEY", sim.export_key)
    monkeypatch.setenv("LEANPLUM_API_URL", sim.api_url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    day = sim.clock.now_datetime().date()
    first = (day.toordinal() - 12, day.toordinal() - 10)
    d0, d1 = (date.fromordinal(o).strftime("%Y%m%d") for o in first)
    common = ["--cache-dir", str(cache_dir)]

    assert cli.main(["export", d0, d1, "--dry-run", *common]) == 0
    out = capsys.readouterr().out
    assert "3 missing" in out and "exports needed: 1" in out and sim.stats.calls.total() == 0

    assert cli.main(["export", d0, d1, "--no-progress", *common]) == 0
    out = capsys.readouterr().out
    assert "exports spent: 1" in out and "sessions" in out

    assert cli.main(["quota", *common]) == 0
    assert "1 of 24 exports used" in capsys.readouterr().out

    assert cli.main(["cache", "list", *common]) == 0
    out = capsys.readouterr().out
    assert out.count("final") == 3 and sim.app_id[:24] in out

    assert cli.main(["export", "2026-13-01", *common]) == 1
    assert "start: expected a date, 'YYYYmmdd' or 'YYYY-mm-dd'" in capsys.readouterr().err

    assert cli.main(["cache", "clear", "--before", d1, *common]) == 0
    assert "removed 2 cached day(s)" in capsys.readouterr().out
    assert cli.main(["cache", "clear", *common]) == 0
    assert "removed 1 cached day(s)" in capsys.readouterr().out
    assert cli.main(["cache", "list", *common]) == 0
    assert "no cached days" in capsys.readouterr().out
