"""What a person saw in JupyterLab (issue 16), held by the form's widget state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from leanplum_notebook.connect import Connection
from leanplum_notebook.settings import Settings
from leanplum_notebook.ui.widgets import ExportForm, ProgressTimer, duration_text

TODAY = date(2026, 6, 15)  # the simulator fixture's frozen Pacific day


def _form(sim: Any, cache: Path, **kw: Any) -> ExportForm:
    settings = Settings(
        app_id=sim.app_id, export_key=sim.export_key, api_url=sim.api_url, cache_dir=cache
    )
    return ExportForm(Connection(settings, clock=sim.clock.now), **kw)


def test_a_change_clears_the_last_result_and_its_code(simulator: Any, tmp_path: Path) -> None:
    form = _form(
        simulator, tmp_path, start=TODAY - timedelta(days=4), end=TODAY - timedelta(days=3)
    )
    form.submit_button.click()
    form.wait(timeout=60)
    assert form.status.value.startswith("Done: 2 day(s)") and "fetch(" in form.call_box.value
    form.end.value = TODAY - timedelta(days=2)
    assert form.status.value == "" and form.call_box.value == ""
    assert form.progress.layout.visibility == "hidden"
    assert form.export is not None  # the result itself stays available
    form.format.value = "csv"
    assert form.status.value == "" and form.call_box.value == ""


def test_a_start_before_the_window_is_kept_and_explained(simulator: Any, tmp_path: Path) -> None:
    old = TODAY - timedelta(days=70)
    form = _form(simulator, tmp_path, start=old, end=TODAY - timedelta(days=60))
    assert form.start.value == old  # not moved to the first allowed day
    assert "older than 60 days" in form.preview.value and "20260406" in form.preview.value
    assert form.submit_button.disabled


def test_long_labels_are_not_cut_and_the_days_row_wraps(simulator: Any, tmp_path: Path) -> None:
    form = _form(simulator, tmp_path)
    for box in (form.refresh, form.compress):
        assert box.style.description_width == "initial" and box.indent is False
    row = next(c for c in form.widget.children if form.format in getattr(c, "children", ()))
    assert row.layout.flex_flow == "row wrap"


@dataclass
class Event:
    stage: str
    message: str = ""
    state: str | None = None
    done: int | None = None
    total: int | None = None


def test_progress_says_what_leanplum_is_doing_and_how_fast_the_download_goes() -> None:
    now = [100.0]
    timer = ProgressTimer(lambda: now[0])
    assert timer.describe(Event("submitted"))[0] == "Waiting for Leanplum: the job is submitted"
    now[0] += 80
    assert (
        timer.describe(Event("poll", state="RUNNING"))[0]
        == "Waiting for Leanplum: RUNNING, 1 min 20 s"
    )
    first = timer.describe(Event("download", done=0, total=28_400_000))[0]
    assert first == "Downloading: 0.0 of 28.4 MB"
    now[0] += 2
    text, done, total = timer.describe(Event("download", done=2_700_000, total=28_400_000))
    assert text == "Downloading: 2.7 of 28.4 MB at 1.4 MB/s"  # the size once, with a rate
    assert (done, total) == (2_700_000, 28_400_000)
    assert [duration_text(s) for s in (5, 80, 7500)] == ["5 s", "1 min 20 s", "2 h 05 min"]


def test_the_form_shows_the_waiting_state_during_the_job(simulator: Any, tmp_path: Path) -> None:
    form = _form(
        simulator, tmp_path, start=TODAY - timedelta(days=9), end=TODAY - timedelta(days=8)
    )
    seen: list[str] = []
    original = form._on_progress

    def spy(*args: Any, **kw: Any) -> None:
        original(*args, **kw)
        seen.append(form.status.value)

    form._on_progress = spy  # type: ignore[method-assign]
    form.submit_button.click()
    form.wait(timeout=60)
    assert any(s.startswith("Waiting for Leanplum: ") and " s" in s for s in seen), seen
    assert any(s.startswith("Downloading: ") and " MB" in s for s in seen), seen
    assert not any("bytes (" in s for s in seen)
