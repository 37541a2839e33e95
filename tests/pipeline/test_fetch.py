"""fetch() against the simulator over HTTP: caching, quota, refresh, resume, expiry, faults."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from leanplum_notebook import errors
from leanplum_notebook.export import ProgressEvent, fetch, plan
from leanplum_notebook.quota import quota
from leanplum_notebook.simulator import FaultConfig


def _lines(paths: Any) -> int:
    return sum(1 for p in paths for line in Path(p).read_bytes().splitlines() if line.strip())


def test_second_fetch_spends_nothing_and_overlap_spends_one(harness: Any) -> None:
    h = harness()
    first = fetch("20260601", "20260603", **h.kw())
    assert first.exports_spent == 1 and h.exports == 1
    assert first.days == (date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3))
    assert set(first.status.values()) == {"final"}
    assert len(first.parts) == 1 and len(first.files) > 1  # 64 KiB files: several
    part = first.parts[0]
    assert part.num_sessions == _lines(part.files) > 0
    entry = json.loads((part.entry_dir / "entry.json").read_text())
    assert entry["complete"] is True and entry["days"] == ["20260601", "20260602", "20260603"]
    assert sum(f["size"] for f in entry["files"]) == entry["numBytes"]

    again = fetch(date(2026, 6, 1), date(2026, 6, 3), **h.kw())
    assert again.exports_spent == 0 and h.exports == 1
    assert again.files == first.files

    p = plan("20260602", "20260606", **{k: h.kw()[k] for k in ("app_id", "cache_dir", "clock")})
    assert [d.status for d in p.days] == ["final", "final", "missing", "missing", "missing"]
    assert p.exports == [(date(2026, 6, 4), date(2026, 6, 6))] and p.exports_needed == 1

    wider = fetch("20260602", "20260606", **h.kw())
    assert wider.exports_spent == 1 and h.exports == 2
    assert [pt.days for pt in wider.parts] == [
        (date(2026, 6, 2), date(2026, 6, 3)),
        (date(2026, 6, 4), date(2026, 6, 5), date(2026, 6, 6)),
    ]
    stats = h.sim.stats.calls
    assert stats["exportData"] == 2
    q = quota(h.sim.app_id, cache_dir=h.cache_dir, clock=h.sim.clock.now)
    assert (q.used, q.remaining) == (2, 22)


def test_bad_input_spends_nothing(harness: Any, tmp_path: Path) -> None:
    h = harness()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"start": "2026-06-31"}, "start"),
        ({"start": "20260605", "end": "20260601"}, "end"),
        ({"start": "20260601", "end": "20260620"}, "end"),  # future
        ({"start": "20260401"}, "start"),  # 75 days ago, not cached
        ({"start": "20260601", "format": "parquet"}, "format"),
        ({"start": "20260601", "start_time": 5, "end_time": 5}, "start_time"),
        ({"start": "20260601", "s3_bucket": "b"}, "s3_bucket"),
        ({"start": "20260601", "cache_dir": tmp_path / "afile"}, "cache_dir"),
        ({"start": "20260601", "timeout": 0}, "timeout"),
    ]
    (tmp_path / "afile").write_text("x")
    for args, argument in cases:
        kw = h.kw(**{k: v for k, v in args.items() if k not in ("start", "end")})
        with pytest.raises(errors.ValidationError) as info:
            fetch(args["start"], args.get("end"), **kw)
        assert info.value.argument == argument, (args, info.value)
    assert sum(h.sim.stats.calls.values()) == 0


@pytest.mark.slow
def test_25th_export_refused_locally_and_server_429_reconciles(
    harness: Any, tmp_path: Path
) -> None:
    h = harness(pending_seconds=0.0, running_seconds=0.0)
    day0 = date(2026, 6, 14)
    for i in range(24):
        fetch(day0.fromordinal(day0.toordinal() - i), **h.kw())
    assert h.exports == 24
    with pytest.raises(errors.QuotaExceeded, match="resets at 2026-06-16 00:00 PDT") as info:
        fetch("20260501", **h.kw())
    assert info.value.status is None  # refused locally
    assert h.exports == 24  # never called
    st = quota(h.sim.app_id, cache_dir=h.cache_dir, clock=h.sim.clock.now)
    assert (st.used, st.remaining) == (24, 0)
    # a second machine (fresh ledger) learns it from the server's 429 and marks the day full
    other = tmp_path / "other-cache"
    with pytest.raises(errors.QuotaExceeded, match="Export limit of 24") as info:
        fetch("20260501", **h.kw(cache_dir=other))
    assert info.value.status == 429
    assert quota(h.sim.app_id, cache_dir=other, clock=h.sim.clock.now).remaining == 0
    # cached days are still served without an export
    assert fetch("20260614", **h.kw()).exports_spent == 0
    # after Pacific midnight the quota is back
    h.sim.clock.advance(11 * 3600 + 60)
    assert fetch("20260501", **h.kw()).exports_spent == 1


def test_provisional_day_refreshed_on_request_picks_up_late_sessions(harness: Any) -> None:
    h = harness()
    first = fetch("20260612", **h.kw())
    assert first.status == {date(2026, 6, 12): "provisional"}
    h.sim.clock.advance(6 * 86400)  # late sessions arrive
    reused = fetch("20260612", **h.kw())
    assert reused.exports_spent == 0 and reused.status[date(2026, 6, 12)] == "provisional"
    refreshed = fetch("20260612", refresh=True, **h.kw())
    assert refreshed.exports_spent == 1
    assert refreshed.status == {date(2026, 6, 12): "final"}  # exported 9+ days after
    old_n, new_n = first.parts[0].num_sessions, refreshed.parts[0].num_sessions
    assert old_n is not None and new_n is not None and new_n > old_n
    assert refreshed.parts[0].job_id != first.parts[0].job_id
    # final now: refresh=True spends nothing more
    assert fetch("20260612", refresh=True, **h.kw()).exports_spent == 0


class Crash(Exception):
    pass


def _crash_after_submit(event: ProgressEvent) -> None:
    if event.stage == "submitted":
        raise Crash(event.job_id)


def test_killed_fetch_resumes_by_job_id(harness: Any) -> None:
    h = harness()
    with pytest.raises(Crash) as info:
        fetch("20260601", "20260602", on_progress=_crash_after_submit, **h.kw())
    job_id = str(info.value)
    assert h.exports == 1
    resumed = fetch("20260601", "20260602", **h.kw())
    assert h.exports == 1 and resumed.exports_spent == 0
    assert [p.job_id for p in resumed.parts] == [job_id]
    assert resumed.parts[0].num_sessions == _lines(resumed.files)


def test_expired_files_are_reported_with_the_cost(harness: Any) -> None:
    h = harness()
    with pytest.raises(Crash):
        fetch("20260601", "20260602", on_progress=_crash_after_submit, **h.kw())
    time.sleep(0.4)  # the job finishes on the simulator
    h.sim.clock.advance(25 * 3600)
    with pytest.raises(errors.FilesExpired) as info:
        fetch("20260601", "20260602", **h.kw())
    text = str(info.value)
    assert "expired" in text and "costs 1 export" in text and "24 h" in text
    assert h.exports == 1
    redo = fetch("20260601", "20260602", **h.kw())
    assert redo.exports_spent == 1 and h.exports == 2


def test_failed_job_raises_with_server_message_and_is_not_resumed(harness: Any) -> None:
    h = harness(faults=FaultConfig(first={"job_fail": 1}))
    t0 = time.monotonic()
    with pytest.raises(errors.JobFailed) as info:
        fetch("20260601", **h.kw(timeout=60))
    assert time.monotonic() - t0 < 10
    assert info.value.message and info.value.job_id in str(info.value)
    ok = fetch("20260601", **h.kw())
    assert ok.exports_spent == 1 and h.exports == 2


def test_stuck_job_times_out_within_the_deadline(harness: Any) -> None:
    h = harness(faults=FaultConfig(first={"job_stuck": 1}))
    t0 = time.monotonic()
    with pytest.raises(errors.ExportTimeout, match="still RUNNING after") as info:
        fetch("20260601", **h.kw(timeout=120))
    assert time.monotonic() - t0 < 15
    assert 100 <= h.slept <= 121  # slept up to the deadline, not past it
    assert info.value.job_id.startswith("export_")


def test_stuck_job_is_given_up_a_day_later_and_its_days_exported_again(
    harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(faults=FaultConfig(first={"job_stuck": 1}))
    with pytest.raises(errors.ExportTimeout, match="given up") as info:
        fetch("20260601", **h.kw(timeout=60))
    stuck = info.value.job_id
    with pytest.raises(errors.ExportTimeout):  # within the day: resumed, not exported again
        fetch("20260601", **h.kw(timeout=60))
    assert h.exports == 1
    h.sim.clock.advance(25 * 3600)
    with caplog.at_level("WARNING", logger="leanplum_notebook.export"):
        redo = fetch("20260601", **h.kw(timeout=60))
    assert redo.exports_spent == 1 and h.exports == 2
    assert [p.job_id for p in redo.parts] != [stuck]
    assert any(stuck in r.getMessage() and "given up" in r.getMessage() for r in caplog.records)
    entry = json.loads(next(h.cache_dir.rglob(f"{stuck}/entry.json")).read_text())
    assert entry["state"] == "EXPIRED" and "given up" in entry["message"]


def test_first_files_expired_marks_the_entry_and_one_rerun_completes(harness: Any) -> None:
    h = harness(faults=FaultConfig(first={"expire_early": 1}))
    with pytest.raises(errors.FilesExpired, match="costs 1 export") as info:
        fetch("20260601", "20260602", **h.kw())
    assert "marked expired" in str(info.value)
    states = [json.loads(p.read_text())["state"] for p in h.cache_dir.rglob("entry.json")]
    assert states == ["EXPIRED"]
    redo = fetch("20260601", "20260602", **h.kw())
    assert redo.exports_spent == 1 and h.exports == 2


@pytest.mark.parametrize("kind", ["drop_download", "truncate_file"])
def test_download_broken_mid_file_resumes_and_bytes_match(harness: Any, kind: str) -> None:
    h = harness(faults=FaultConfig(first={kind: 2}))
    got = fetch("20260601", "20260603", **h.kw())
    assert h.sim.stats.faults[kind] == 2
    entry = json.loads((got.parts[0].entry_dir / "entry.json").read_text())
    for f in entry["files"]:
        local = (got.parts[0].entry_dir / "files" / f["name"]).read_bytes()
        remote = requests.get(f["url"], timeout=10).content
        assert hashlib.sha256(local).digest() == hashlib.sha256(remote).digest()
    assert sum(len(p.read_bytes()) for p in got.files) == entry["numBytes"]
    assert not list((got.parts[0].entry_dir / "files").glob("*.part"))


@pytest.mark.parametrize("kind", ["http_500_html", "http_502_empty", "http_429"])
def test_transient_api_faults_are_retried(harness: Any, kind: str) -> None:
    # the first 2 API calls (exportData, then its retry) get the fault
    h = harness(faults=FaultConfig(first={kind: 2}, retry_after=7))
    got = fetch("20260601", **h.kw())
    assert got.exports_spent == 1 and h.sim.stats.faults[kind] == 2
    assert h.exports == 3  # refused twice before the handler (no quota), then accepted
    assert quota(h.sim.app_id, cache_dir=h.cache_dir, clock=h.sim.clock.now).used == 1
    if kind == "http_429":
        assert h.slept >= 14  # Retry-After: 7 honoured twice


def test_success_false_with_200_is_an_error_and_gives_the_slot_back(harness: Any) -> None:
    h = harness(faults=FaultConfig(first={"success_false_200": 1}))
    with pytest.raises(errors.ApiError) as info:
        fetch("20260601", **h.kw())
    assert info.value.status == 200 and h.exports == 1
    assert quota(h.sim.app_id, cache_dir=h.cache_dir, clock=h.sim.clock.now).used == 0


def test_dropped_export_answer_is_not_retried_and_is_recorded(harness: Any) -> None:
    h = harness(faults=FaultConfig(first={"drop_connection": 1}))
    with pytest.raises(errors.ExportOutcomeUnknown, match="may have been created"):
        fetch("20260601", **h.kw())
    assert h.exports == 1  # no blind retry
    st = quota(h.sim.app_id, cache_dir=h.cache_dir, clock=h.sim.clock.now)
    assert st.used == 1  # counted: it may have been spent (and here it was)
    entries = list((h.cache_dir).rglob("entry.json"))
    assert len(entries) == 1
    entry = json.loads(entries[0].read_text())
    assert entry["state"] == "UNKNOWN" and entry["complete"] is False
    assert fetch("20260601", **h.kw()).exports_spent == 1


def test_wrong_key_is_an_auth_error_and_spends_nothing(harness: Any) -> None:
    h = harness()
    with pytest.raises(errors.AuthError, match="Invalid access key"):
        fetch("20260601", **h.kw(export_key="exp_wrong"))
    assert quota(h.sim.app_id, cache_dir=h.cache_dir, clock=h.sim.clock.now).used == 0


def test_csv_and_windows_have_their_own_cache(harness: Any) -> None:
    h = harness()
    csv = fetch("20260601", format="csv", **h.kw())
    assert csv.format == "csv" and any("outputsessions" in p.name for p in csv.files)
    now = int(h.sim.clock.now())
    win = fetch("20260601", start_time=now - 30 * 86400, end_time=now, **h.kw())
    assert win.parts[0].entry_dir.parts[-3] == f"{now - 30 * 86400}-{now}"
    assert h.exports == 2
    assert fetch("20260601", format="csv", **h.kw()).exports_spent == 0


def test_crash_mid_download_leaves_nothing_complete_and_resumes(harness: Any) -> None:
    h = harness()

    def crash_mid_download(event: ProgressEvent) -> None:
        if event.stage == "download" and (event.done or 0) > 100_000:
            raise Crash("pulled the plug")

    with pytest.raises(Crash):
        fetch("20260601", "20260604", on_progress=crash_mid_download, **h.kw())
    entry_file = next(h.cache_dir.rglob("entry.json"))
    entry = json.loads(entry_file.read_text())
    assert entry["complete"] is False and entry["state"] == "FINISHED"
    files_dir = entry_file.parent / "files"
    assert list(files_dir.glob("*.part"))  # partial data kept, under temporary names only
    assert not [p for p in files_dir.iterdir() if not p.name.endswith(".part")]
    days_json = entry_file.parents[2] / "days.json"
    assert not days_json.exists() or json.loads(days_json.read_text()) == {}
    downloads_before = h.sim.stats.downloads
    again = fetch("20260601", "20260604", **h.kw())
    assert again.exports_spent == 0 and h.exports == 1  # resumed by job id
    assert again.parts[0].job_id == entry["job_id"]
    assert again.parts[0].num_sessions == _lines(again.files)
    assert h.sim.stats.downloads - downloads_before == len(again.files)


def test_s3_copy_and_callback(harness: Any, moto_s3: str) -> None:
    import http.server
    import threading

    import boto3

    received: list[bytes] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_s3,
        aws_access_key_id="AKIDPIPELINE",
        aws_secret_access_key="pipeline-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="pipeline-bucket")
    h = harness(s3_endpoint_url=moto_s3)
    try:
        got = fetch(
            "20260601",
            **h.kw(
                s3_bucket="pipeline-bucket",
                s3_access_id="AKIDPIPELINE",
                s3_access_key="pipeline-secret",
                s3_prefix="lp/",
                compress=True,
                callback_url=f"http://127.0.0.1:{hook.server_address[1]}/done",
            ),
        )
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        hook.shutdown()
        hook.server_close()
    entry = json.loads((got.parts[0].entry_dir / "entry.json").read_text())
    copied = entry["s3CopyStatus"]["success"]
    assert len(copied) == len(got.files)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="pipeline-bucket")["Contents"]}
    assert {c["destFile"] for c in copied} <= keys and all(k.startswith("lp/") for k in keys)
    assert entry["request"]["s3BucketName"] == "pipeline-bucket"
    assert "pipeline-secret" not in json.dumps(entry)
    assert received and json.loads(received[0])["response"][0]["jobId"] == got.parts[0].job_id
