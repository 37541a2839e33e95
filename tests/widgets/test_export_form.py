"""ExportForm driven in plain pytest (set values, click()) against the simulator over HTTP."""

from __future__ import annotations

import html
import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from leanplum_notebook.connect import Connection
from leanplum_notebook.settings import Settings
from leanplum_notebook.ui.widgets import ExportForm, FormValues, equivalent_call, parse_time

KNOWN_KEY = "exp_KnownFormKey_9f8e7d6c5b4a3210"
S3_SECRET = "s3SecretForFormTest_0123456789abcdef"
TODAY = date(2026, 6, 15)  # the simulator fixture's frozen Pacific day


def _connection(sim: Any, cache: Path, key: str | None = None) -> Connection:
    settings = Settings(
        app_id=sim.app_id,
        export_key=key or sim.export_key,
        api_url=sim.api_url,
        cache_dir=cache,
    )
    return Connection(settings, simulated=False, clock=sim.clock.now)


def _all_state(form: ExportForm) -> str:
    """Every child widget's synced state, as text."""
    return json.dumps([child.get_state() for child in form.children], default=str)


def _export_calls(sim: Any) -> int:
    """exportData calls the simulator received (accepted or not)."""
    return int(sim.stats.calls.get("exportData", 0))


def test_preview_export_and_cached_days(simulator: Any, tmp_path: Path) -> None:
    form = ExportForm(_connection(simulator, tmp_path), load=True)
    form.start.value = TODAY - timedelta(days=12)
    form.end.value = TODAY - timedelta(days=3)

    # Before: 10 days, none cached, one export; the whole quota left.
    assert form.last_plan is not None and form.last_quota is not None
    assert [d.status for d in form.last_plan.days] == ["missing"] * 10
    assert form.last_plan.exports_needed == 1
    assert "<b>0</b> cached final" in form.preview.value
    assert "<b>10</b> to export" in form.preview.value
    assert "24 of 24 exports left today, resets at 2026-06-16 00:00 PDT" in form.preview.value
    assert not form.submit_button.disabled

    form.submit_button.click()
    export = form.wait(timeout=60)
    assert form.error is None, form.error_box.value
    assert export is not None and export.exports_spent == 1
    assert _export_calls(simulator) == 1
    assert len(form.tables.sessions) > 0
    assert form.tables.sessions["sessionId"].is_unique
    assert "Done: 10 day(s), 1 export(s) spent" in form.status.value
    assert form.progress.value == form.progress.max and form.progress.bar_style == "success"
    # The equivalent call, with no key in it.
    assert 'lpn.fetch("20260603", "20260612", format="json")' in html.unescape(form.call_box.value)
    assert form.code is not None and "lpn.fetch(" in form.code
    assert not form.submit_button.disabled

    # After: the days are cached (the 4 days older than 8 days are final) and one export spent.
    counts = {s: [d.status for d in form.last_plan.days].count(s) for s in ("final", "provisional")}
    assert counts == {"final": 4, "provisional": 6}
    assert form.last_plan.exports_needed == 0
    assert "23 of 24 exports left today" in form.preview.value

    # Widening the range by two days plans one export for just those two.
    form.end.value = TODAY - timedelta(days=1)
    assert [d.status for d in form.last_plan.days].count("missing") == 2
    assert form.last_plan.exports == [(TODAY - timedelta(days=2), TODAY - timedelta(days=1))]
    assert "<b>1</b> export(s) to spend (20260613-20260614)" in form.preview.value

    # Asking to refresh provisional days plans their re-export.
    form.refresh.value = True
    assert [d.status for d in form.last_plan.days].count("refresh") == 6


def test_submit_disabled_while_running_and_second_click_ignored(
    make_simulator: Any, tmp_path: Path
) -> None:
    sim = make_simulator(pending_seconds=0.8, running_seconds=0.8)
    form = ExportForm(_connection(sim, tmp_path), load=False)
    form.start.value = form.end.value = TODAY - timedelta(days=20)
    form.submit_button.click()
    assert form.running
    assert form.submit_button.disabled
    form.submit_button.click()  # ignored: one export only
    # The kernel is not blocked: this code runs while the export is in flight.
    started = time.monotonic()
    while form.running and time.monotonic() - started < 0.3:
        time.sleep(0.01)
    assert form.running
    form.wait(timeout=60)
    assert form.error is None, form.error_box.value
    assert _export_calls(sim) == 1
    assert not form.submit_button.disabled
    assert form.tables is None  # load=False


def test_api_error_shown_in_plain_words(simulator: Any, tmp_path: Path) -> None:
    form = ExportForm(_connection(simulator, tmp_path, key=KNOWN_KEY), load=False)
    form.start.value = form.end.value = TODAY - timedelta(days=20)
    form.submit_button.click()
    assert form.wait(timeout=60) is None
    assert form.error is not None
    assert "Invalid access key" in form.error_box.value
    assert "Export failed" in form.error_box.value
    assert "Traceback" not in form.error_box.value
    assert form.progress.bar_style == "danger"
    assert not form.submit_button.disabled
    assert KNOWN_KEY not in _all_state(form)


def test_invalid_inputs_shown_and_submit_disabled(simulator: Any, tmp_path: Path) -> None:
    form = ExportForm(_connection(simulator, tmp_path), load=False)
    form.start.value = TODAY - timedelta(days=3)
    form.end.value = TODAY - timedelta(days=5)
    assert "before the start day" in form.preview.value
    assert form.submit_button.disabled

    form.end.value = TODAY - timedelta(days=3)
    assert not form.submit_button.disabled
    form.start_time.value = "yesterday"
    assert "startTime: expected Unix seconds or a date-time" in form.preview.value
    assert form.submit_button.disabled
    form.start_time.value = ""

    form.s3_bucket.value = "my-bucket"  # bucket without keys
    assert "needs the S3 access id and secret key" in form.preview.value
    # Clicking anyway shows the reason and spends nothing.
    form.submit()
    assert "needs the S3 access id and secret key" in form.error_box.value
    assert not form.running
    assert _export_calls(simulator) == 0


def test_quota_spent_shown_and_submit_disabled(make_simulator: Any, tmp_path: Path) -> None:
    sim = make_simulator()
    conn = _connection(sim, tmp_path)
    from leanplum_notebook.store.quota import QuotaLedger, safe_app_dir

    ledger = QuotaLedger(tmp_path / safe_app_dir(sim.app_id), clock=sim.clock.now)
    for _ in range(24):
        ledger.confirm(ledger.reserve(), "export_0_0")
    form = ExportForm(conn, load=False)
    form.start.value = form.end.value = TODAY - timedelta(days=20)
    assert "0 of 24 exports left today" in form.preview.value
    assert "more than are left today" in form.preview.value
    assert form.submit_button.disabled
    form.submit()  # the button is disabled, but code may still call submit(): refused locally
    form.wait(timeout=30)
    assert form.error is not None
    assert "24" in form.error_box.value
    assert _export_calls(sim) == 0


def test_key_typed_in_masked_field_never_kept_in_widget_state(
    simulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LEANPLUM_APP_ID", "LEANPLUM_EXPORT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEANPLUM_API_URL", simulator.api_url)
    monkeypatch.setenv("LEANPLUM_CACHE_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env file here
    form = ExportForm(clock=simulator.clock.now, load=False)
    assert form.app_id_field in form.children and form.key_field in form.children
    assert "(enter below)" in form.header.value
    form.app_id_field.value = simulator.app_id
    form.start.value = form.end.value = TODAY - timedelta(days=20)

    # A wrong key first: the error is shown, the key is not.
    form.key_field.value = KNOWN_KEY
    assert form.key_field.value == ""  # moved out of the widget at once
    form.s3_access_key.value = S3_SECRET
    assert form.s3_access_key.value == ""
    form.submit_button.click()
    form.wait(timeout=60)
    assert "Invalid access key" in form.error_box.value
    everything = _all_state(form) + repr(form) + str(form._repr_mimebundle_())
    assert KNOWN_KEY not in everything
    assert S3_SECRET not in everything

    # Then the right key: the export runs, and still no key anywhere in the widgets.
    form.key_field.value = simulator.export_key
    assert form.key_field.value == ""
    form.submit_button.click()
    export = form.wait(timeout=60)
    assert form.error is None, form.error_box.value
    assert export is not None and export.exports_spent == 1
    everything = _all_state(form) + repr(form) + form.call_box.value
    assert simulator.export_key not in everything
    assert S3_SECRET not in everything


def test_missing_key_reported_before_any_request(
    simulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LEANPLUM_EXPORT_KEY", "LEANPLUM_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEANPLUM_APP_ID", simulator.app_id)
    monkeypatch.setenv("LEANPLUM_CACHE_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    form = ExportForm(clock=simulator.clock.now, load=False)
    # The app id came from the environment: only the key is asked for.
    assert form.app_id_field not in form.children and form.key_field in form.children
    form.submit()
    assert "enter the export key" in form.error_box.value
    assert not form.running
    assert _export_calls(simulator) == 0


def test_equivalent_call_and_parse_time() -> None:
    values = FormValues(start=date(2026, 6, 1), end=date(2026, 6, 7))
    assert 'export = lpn.fetch("20260601", "20260607", format="json")' in equivalent_call(values)
    s3 = FormValues(
        start=date(2026, 6, 1),
        end=date(2026, 6, 1),
        format="csv",
        start_time=100,
        end_time=200,
        s3_bucket="b",
        s3_access_id="AKIA1",
        s3_prefix="x/",
        compress=True,
    )
    code = equivalent_call(s3, simulated=True)
    assert 'connect().fetch("20260601", "20260601", format="csv", start_time=100' in code
    assert 's3_access_key=os.environ["LEANPLUM_S3_ACCESS_KEY"]' in code
    assert code.startswith("import os\n")
    compile(code, "<call>", "exec")  # valid Python
    compile(equivalent_call(s3), "<call>", "exec")
    assert parse_time("", "startTime") is None
    assert parse_time("1750000000", "startTime") == 1750000000
    assert parse_time("2026-06-01T08:00Z", "startTime") == 1780300800
    assert parse_time("2026-06-01T08:00", "startTime") == 1780300800  # naive = UTC
    with pytest.raises(ValueError, match="endTime"):
        parse_time("soon", "endTime")


def test_advanced_s3_copy_lands_in_the_bucket_and_the_secret_stays_private(
    make_simulator: Any, moto_s3: str, tmp_path: Path
) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_s3,
        aws_access_key_id="AKIAFORMTEST",
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="form-bucket")
    sim = make_simulator(s3_endpoint_url=moto_s3)
    form = ExportForm(_connection(sim, tmp_path), load=False)
    form.start.value = form.end.value = TODAY - timedelta(days=20)
    form.s3_bucket.value = "form-bucket"
    form.s3_access_id.value = "AKIAFORMTEST"
    form.s3_access_key.value = S3_SECRET
    form.s3_prefix.value = "exports/"
    form.compress.value = True
    assert form.s3_access_key.value == ""
    assert not form.submit_button.disabled, form.preview.value
    form.submit_button.click()
    form.wait(timeout=60)
    assert form.error is None, form.error_box.value
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="form-bucket")["Contents"]]
    assert any(k.startswith("exports/") and k.endswith(".gz") for k in keys)
    assert any(k.endswith("-output-manifest") for k in keys)
    code = html.unescape(form.call_box.value)
    assert "s3_bucket='form-bucket'" in code and "compress=True" in code
    assert S3_SECRET not in _all_state(form) + code + repr(form)


def test_credentials_from_the_environment_need_no_field(
    simulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEANPLUM_APP_ID", simulator.app_id)
    monkeypatch.setenv("LEANPLUM_EXPORT_KEY", simulator.export_key)
    monkeypatch.setenv("LEANPLUM_API_URL", simulator.api_url)
    monkeypatch.setenv("LEANPLUM_CACHE_DIR", str(tmp_path))
    form = ExportForm(clock=simulator.clock.now, load=False)
    assert form.app_id_field not in form.children and form.key_field not in form.children
    assert simulator.app_id in form.header.value and "Leanplum API" in form.header.value
    form.start.value = form.end.value = TODAY - timedelta(days=30)
    form.submit_button.click()
    assert form.wait(timeout=60) is not None, form.error_box.value
    assert simulator.export_key not in _all_state(form) + repr(form)
