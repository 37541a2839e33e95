"""Pure parts of the pipeline: dates, settings, validation, planner, envelope, polling, ledger."""

from __future__ import annotations

import json
import multiprocessing
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from leanplum_notebook import dates, errors
from leanplum_notebook.api.client import RetryPolicy, classify, parse_envelope
from leanplum_notebook.api.polling import Backoff, wait
from leanplum_notebook.models import ExportRequest, JobStatus
from leanplum_notebook.quota import QuotaLedger
from leanplum_notebook.settings import Settings, read_dotenv
from leanplum_notebook.store import cache
from leanplum_notebook.store.files import atomic_write_json, read_json, safe_name

# 2026-06-15 20:00 UTC = 13:00 PDT
NOW = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc).timestamp()


# ------------------------------------------------------------------ dates


def test_parse_day_accepts_text_and_dates_and_names_the_argument() -> None:
    assert dates.parse_day("20260601", "start") == date(2026, 6, 1)
    assert dates.parse_day(date(2026, 6, 1), "start") == date(2026, 6, 1)
    # one parser for the API and the loader: dashed text and midnight timestamps too
    assert dates.parse_day("2026-06-01", "start") == date(2026, 6, 1)
    assert dates.parse_day(datetime(2026, 6, 1), "start") == date(2026, 6, 1)
    for bad in ("2026-6-01", "20261301", "2026-13-01", "2026061", 20260601, None):
        with pytest.raises(errors.ValidationError, match=r"^end:") as info:
            dates.parse_day(bad, "end")
        assert info.value.argument == "end"
    # a time of day or a zone leaves the Pacific day to a guess
    for moment in (datetime(2026, 6, 1, 12), datetime(2026, 6, 1, tzinfo=timezone.utc)):
        with pytest.raises(errors.ValidationError, match="datetime"):
            dates.parse_day(moment, "start")


def test_pacific_day_and_midnight_follow_dst() -> None:
    # 2026-06-16 06:59 UTC is still 06-15 in Pacific daylight time (UTC-7)
    t = datetime(2026, 6, 16, 6, 59, tzinfo=timezone.utc).timestamp()
    assert dates.pacific_day(t) == date(2026, 6, 15)
    assert dates.pacific_day(t + 120) == date(2026, 6, 16)
    summer = dates.next_pacific_midnight(NOW)
    assert summer.astimezone(timezone.utc) == datetime(2026, 6, 16, 7, tzinfo=timezone.utc)
    winter = dates.next_pacific_midnight(datetime(2026, 1, 10, tzinfo=timezone.utc).timestamp())
    assert winter.astimezone(timezone.utc) == datetime(2026, 1, 10, 8, tzinfo=timezone.utc)
    # the night the clocks go back (2026-11-01) is 25 hours long
    before = datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc).timestamp()  # 23:30 PDT 10-31
    nxt = dates.next_pacific_midnight(before)
    assert nxt.astimezone(timezone.utc) == datetime(2026, 11, 1, 7, tzinfo=timezone.utc)
    after = dates.next_pacific_midnight(nxt.timestamp() + 1)
    gap = after.astimezone(timezone.utc) - nxt.astimezone(timezone.utc)
    assert gap.total_seconds() == 25 * 3600


def test_day_status_depends_on_age_at_export_time() -> None:
    day = date(2026, 6, 6)
    assert dates.day_status(day, NOW) == "final"  # exported 9 days later
    assert dates.day_status(date(2026, 6, 7), NOW) == "provisional"  # 8 days: late data possible
    assert dates.day_status(date(2026, 6, 15), NOW) == "provisional"


# ------------------------------------------------------------------ settings


def test_settings_precedence_and_hidden_key(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nLEANPLUM_APP_ID=app_from_file\nexport LEANPLUM_EXPORT_KEY='exp_file'\n"
        "LEANPLUM_API_URL=http://file/api # trailing\n"
    )
    s = Settings.resolve(environ={}, dotenv=dotenv, cache_dir=tmp_path)
    assert (s.app_id, s.export_key, s.api_url) == ("app_from_file", "exp_file", "http://file/api")
    env = {"LEANPLUM_APP_ID": "app_env", "LEANPLUM_EXPORT_KEY": "exp_env"}
    s = Settings.resolve(environ=env, dotenv=dotenv, cache_dir=tmp_path)
    assert (s.app_id, s.export_key, s.api_url) == ("app_env", "exp_env", "http://file/api")
    s = Settings.resolve("app_arg", "exp_arg", environ=env, dotenv=dotenv, cache_dir=tmp_path)
    assert (s.app_id, s.export_key) == ("app_arg", "exp_arg")
    for text in (repr(s), str(s)):
        assert "exp_arg" not in text and "***" in text
    env2 = {"LEANPLUM_APP_ID": "a", "LEANPLUM_EXPORT_KEY": "k", "LEANPLUM_CACHE_DIR": "/x/y"}
    assert Settings.resolve(environ=env2, dotenv=None).cache_dir == Path("/x/y")
    assert read_dotenv(tmp_path / "missing.env") == {}
    # a secret is taken as written: no ${VAR} expansion; a bare name has no value
    raw = tmp_path / "raw.env"
    raw.write_text('SECRET="pa${HOME}ss word"\nBARE\nPLAIN=x=y\n')
    assert read_dotenv(raw) == {"SECRET": "pa${HOME}ss word", "PLAIN": "x=y"}


def test_settings_missing_credentials_say_how_to_give_them() -> None:
    with pytest.raises(errors.ConfigError) as info:
        Settings.resolve(environ={}, dotenv=None)
    text = str(info.value)
    for needle in ("app id", "export key", "app_id=", "LEANPLUM_APP_ID", "LEANPLUM_EXPORT_KEY"):
        assert needle in text
    assert ".env" in text
    s = Settings.resolve(app_id="app_x", environ={}, dotenv=None, require_key=False)
    assert s.export_key == ""


# ------------------------------------------------------------------ request validation


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"end_date": date(2026, 5, 31)}, "end"),
        ({"format": "xml"}, "format"),
        ({"start_time": 10, "end_time": 10}, "start_time"),
        ({"start_time": 1.5}, "start_time"),
        ({"s3_bucket": "b"}, "s3_bucket"),
        ({"s3_bucket": "b", "s3_access_id": "id"}, "s3_bucket"),
        ({"s3_access_key": "secret"}, "s3_bucket"),
        ({"callback_url": "ftp://x"}, "callback_url"),
    ],
)
def test_export_request_validation_names_the_argument(
    kwargs: dict[str, Any], argument: str
) -> None:
    base: dict[str, Any] = {"start_date": date(2026, 6, 1), "end_date": date(2026, 6, 2)}
    base.update(kwargs)
    with pytest.raises(errors.ValidationError) as info:
        ExportRequest(**base)
    assert info.value.argument == argument


def test_export_request_params_and_secrets() -> None:
    r = ExportRequest(
        date(2026, 6, 1),
        date(2026, 6, 2),
        "csv",
        start_time=100,
        end_time=200,
        s3_bucket="bkt",
        s3_access_id="AKIDSECRET",
        s3_access_key="S3SECRET",
        s3_prefix="p/",
        compress=True,
    )
    p = r.params()
    assert p["startDate"] == "20260601" and p["endDate"] == "20260602"
    assert p["exportFormat"] == "csv" and p["startTime"] == "100" and p["endTime"] == "200"
    assert p["s3AccessKey"] == "S3SECRET" and p["compressData"] == "true"
    assert "S3SECRET" not in repr(r) and "AKIDSECRET" not in repr(r)
    assert "s3AccessKey" not in r.public_dict() and r.public_dict()["s3BucketName"] == "bkt"


# ------------------------------------------------------------------ planner


def test_merge_ranges_fewest_contiguous_exports() -> None:
    d = [date(2026, 6, i) for i in (1, 2, 3, 5, 20, 21)]
    assert cache.merge_ranges(d, max_gap=0) == [
        (date(2026, 6, 1), date(2026, 6, 3)),
        (date(2026, 6, 5), date(2026, 6, 5)),
        (date(2026, 6, 20), date(2026, 6, 21)),
    ]
    # a gap of one cached day costs bytes, a second export costs quota: bridged
    assert cache.merge_ranges(d, max_gap=1) == [
        (date(2026, 6, 1), date(2026, 6, 5)),
        (date(2026, 6, 20), date(2026, 6, 21)),
    ]
    assert cache.merge_ranges([]) == []


def test_plan_days_reuses_final_and_provisional_refreshes_on_request() -> None:
    days = dates.day_range(date(2026, 6, 1), date(2026, 6, 14))
    exported = NOW
    cached = {
        date(2026, 6, 1): cache.DayRecord("j1", exported),  # final (14 days old at export)
        date(2026, 6, 2): cache.DayRecord("j1", exported),
        date(2026, 6, 12): cache.DayRecord("j2", exported),  # provisional
    }
    plans, ranges = cache.plan_days(days, cached)
    by_day = {p.day: p.status for p in plans}
    assert by_day[date(2026, 6, 1)] == "final"
    assert by_day[date(2026, 6, 12)] == "provisional"
    assert by_day[date(2026, 6, 3)] == "missing"
    assert ranges == [(date(2026, 6, 3), date(2026, 6, 14))]
    plans, ranges = cache.plan_days(days, cached, refresh=True)
    assert {p.day: p.status for p in plans}[date(2026, 6, 12)] == "refresh"
    assert ranges == [(date(2026, 6, 3), date(2026, 6, 14))]
    plans, ranges = cache.plan_days([date(2026, 6, 12)], cached, refresh=False)
    assert ranges == []
    assert cache.window_name(None, None) == "all" and cache.window_name(1, 2) == "1-2"


def test_plan_days_does_not_refresh_days_just_delivered() -> None:
    # a job resumed by this fetch delivered 06-12: refresh=True must not export it again
    cached = {
        date(2026, 6, 12): cache.DayRecord("j2", NOW),
        date(2026, 6, 13): cache.DayRecord("j3", NOW),
    }
    days = [date(2026, 6, 12), date(2026, 6, 13)]
    plans, ranges = cache.plan_days(days, cached, refresh=True, keep={date(2026, 6, 12)})
    assert [p.status for p in plans] == ["provisional", "refresh"]
    assert ranges == [(date(2026, 6, 13), date(2026, 6, 13))]
    _, ranges = cache.plan_days(days[:1], cached, refresh=True, keep={date(2026, 6, 12)})
    assert ranges == []


# ------------------------------------------------------------------ envelope


def test_envelope_success_escaped_slashes_and_key_order() -> None:
    body = (
        b'{"response":[{"numBytes":36590,"state":"FINISHED","success":true,'
        b'"files":["https:\\/\\/leanplum_export.storage.googleapis.com\\/export-1-output-0"],'
        b'"jobId":"export_1_2","numSessions":101}]}'
    )
    el = parse_envelope(200, body, "getExportResults")
    assert el["files"] == ["https://leanplum_export.storage.googleapis.com/export-1-output-0"]
    assert (
        parse_envelope(200, b'{"response":[{"success":"true","jobId":"j"}]}', "exportData")["jobId"]
        == "j"
    )


@pytest.mark.parametrize(
    ("status", "body", "exc", "text"),
    [
        (
            200,
            b'{"response":[{"success":false,"error":{"message":"You cannot export data older '
            b'than 60 days"}}]}',
            errors.ApiError,
            "60 days",
        ),
        (500, b"<html>500 Server Error</html>", errors.TransientError, "non-JSON"),
        (502, b"", errors.TransientError, "non-JSON"),
        (
            403,
            b'{"response":[{"success":false,"error":{"message":"Invalid access key"}}]}',
            errors.AuthError,
            "Invalid access key",
        ),
        (
            429,
            b'{"response":[{"success":false,"error":{"message":"Export limit of 24 per day '
            b'exceeded"}}]}',
            errors.QuotaExceeded,
            "24 per day",
        ),
        (
            429,
            b'{"response":[{"success":false,"error":{"message":"Too Many Requests."}}]}',
            errors.TransientError,
            "Too Many",
        ),
        (
            404,
            b'{"response":[{"success":false,"error":{"message":"Export job not found"}}]}',
            errors.JobNotFound,
            "not found",
        ),
        (
            404,
            b'{"response":[{"success":false,"error":{"message":"No matching data found."}}]}',
            errors.NoMatchingData,
            "No matching",
        ),
        (200, b'{"response":[{"success":true,"error":{"message":"x"}}]}', errors.ApiError, "skip"),
        (200, b'{"nope":1}', errors.ApiError, "envelope"),
        (200, b"not json", errors.ApiError, "non-JSON"),
    ],
)
def test_envelope_errors(status: int, body: bytes, exc: type[Exception], text: str) -> None:
    with pytest.raises(exc, match=text) as info:
        parse_envelope(status, body, "getExportResults" if status == 404 else "exportData")
    assert type(info.value) is exc
    assert isinstance(info.value, errors.LeanplumError)


def test_failed_job_is_returned_for_the_poller_and_classify_defaults() -> None:
    body = b'{"response":[{"success":false,"state":"FAILED","error":{"message":"bad S3 creds"}}]}'
    assert parse_envelope(200, body, "getExportResults")["state"] == "FAILED"
    assert type(classify(418, "teapot", "exportData")) is errors.ApiError


def test_retry_policy_backoff_is_capped_with_jitter() -> None:
    import random

    rng = random.Random(1)
    p = RetryPolicy(base=2, factor=2, cap=8, jitter=0.5)
    delays = [p.delay(i, rng) for i in range(6)]
    assert 1.0 <= delays[0] <= 3.0 and 2.0 <= delays[1] <= 6.0
    assert all(4.0 <= d <= 12.0 for d in delays[2:])
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not identical


# ------------------------------------------------------------------ polling


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def test_wait_backs_off_with_cap_and_returns_finished() -> None:
    ft = FakeTime()
    states = iter(["PENDING"] * 3 + ["RUNNING"] * 5 + ["FINISHED"])
    seen: list[str] = []
    out = wait(
        "j",
        lambda job: JobStatus(job, next(states)),
        backoff=Backoff(initial=1, factor=2, cap=5),
        clock=ft.clock,
        sleep=ft.sleep,
        progress=False,
        on_poll=lambda s: seen.append(s.state),
    )
    assert out.state == "FINISHED"
    assert ft.sleeps == [1, 2, 4, 5, 5, 5, 5, 5]
    assert seen[0] == "PENDING" and seen[-1] == "FINISHED"


def test_wait_raises_failed_with_server_message() -> None:
    ft = FakeTime()
    with pytest.raises(errors.JobFailed, match="S3 credentials rejected") as info:
        wait(
            "job1",
            lambda job: JobStatus(job, "FAILED", message="S3 credentials rejected"),
            clock=ft.clock,
            sleep=ft.sleep,
            progress=False,
        )
    assert info.value.job_id == "job1"


def test_wait_deadline_and_transient_errors() -> None:
    ft = FakeTime()
    calls = [0]

    def status(job: str) -> JobStatus:
        calls[0] += 1
        if calls[0] % 2:
            raise errors.TransientError(503, "busy", "getExportResults")
        return JobStatus(job, "RUNNING")

    with pytest.raises(errors.ExportTimeout, match="still RUNNING after 60 s") as info:
        wait("j", status, deadline=60, clock=ft.clock, sleep=ft.sleep, progress=False)
    assert ft.t - 1000.0 == pytest.approx(60.0)  # never sleeps past the deadline
    assert "resumes it" in str(info.value) and calls[0] > 5


# ------------------------------------------------------------------ files, ledger


def test_atomic_write_keeps_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "d" / "x.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"a": object()})
    assert read_json(target) == {"a": 1}
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]  # no temp file left
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(errors.CacheError):
        read_json(tmp_path / "bad.json")


def test_safe_name_refuses_escapes() -> None:
    assert safe_name("export-1-output-0") == "export-1-output-0"
    assert safe_name("a/../b") == "a_.._b"
    for bad in ("..", ".", "", ".hidden"):
        with pytest.raises(errors.ValidationError):
            safe_name(bad)


def test_ledger_refuses_25th_and_says_when_it_resets(tmp_path: Path) -> None:
    t = [NOW]
    ledger = QuotaLedger(tmp_path / "app", clock=lambda: t[0])
    slots = [ledger.reserve() for _ in range(24)]
    ledger.confirm(slots[0], "job0")
    with pytest.raises(errors.QuotaExceeded, match="resets at 2026-06-16 00:00 PDT") as info:
        ledger.reserve()
    assert info.value.resets_at is not None and info.value.status is None
    ledger.release(slots[1])  # a refused call gives its slot back
    assert ledger.status("app").remaining == 1
    ledger.check(1)
    with pytest.raises(errors.QuotaExceeded):
        ledger.check(2)
    ledger.mark_full()
    assert ledger.status("app").remaining == 0
    t[0] += 11 * 3600 + 1  # past Pacific midnight
    st = ledger.status("app")
    assert (st.used, st.remaining, st.day) == (0, 24, date(2026, 6, 16))
    data = json.loads((tmp_path / "app" / "quota.json").read_text())
    assert data["days"]["20260615"]["full"] is True
    t[0] += 8 * 86400
    ledger.reserve()  # a week later the old day is pruned
    data = json.loads((tmp_path / "app" / "quota.json").read_text())
    assert list(data["days"]) == ["20260624"]


def _reserve_many(path: str, n: int, q: Any) -> None:
    ledger = QuotaLedger(Path(path), clock=lambda: NOW)
    ok = 0
    for _ in range(n):
        try:
            ledger.reserve()
            ok += 1
        except errors.QuotaExceeded:
            pass
    q.put(ok)


def test_ledger_is_shared_safely_by_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_reserve_many, args=(str(tmp_path), 10, q)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    granted = sum(q.get(timeout=5) for _ in procs)
    assert granted == 24  # 40 attempts, exactly 24 slots, no lost update
    assert QuotaLedger(tmp_path, clock=lambda: NOW).status("a").used == 24


def test_set_days_moves_days_to_the_newer_entry(tmp_path: Path) -> None:
    wc = cache.WindowCache(tmp_path, "app_x", "json", "all")
    d1, d2, d3 = date(2026, 6, 7), date(2026, 6, 8), date(2026, 6, 9)
    for job, days in (("j1", [d1, d2]), ("j2", [d2, d3])):
        entry = cache.CacheEntry(job, {}, [dates.format_day(d) for d in days], NOW, complete=True)
        wc.write_entry(entry)
        wc.set_days(days, job, NOW)
    assert {d: r.job_id for d, r in wc.read_days().items()} == {d1: "j1", d2: "j2", d3: "j2"}
    old, new = wc.read_entry("j1"), wc.read_entry("j2")
    assert old is not None and new is not None
    assert old.days == ["20260607"] and new.days == ["20260608", "20260609"]
