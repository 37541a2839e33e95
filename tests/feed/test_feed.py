"""The automated export feed as a source, against a local folder and moto's real S3 server.

The feed and the API come from the same simulated app, so for the same Pacific days the
feed's tables must equal the API export's, row for row.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leanplum_notebook import errors

KEYS = {
    "sessions": ["sessionId"],
    "states": ["sessionId", "stateId"],
    "events": ["sessionId", "eventId", "start"],
    "event_parameters": ["eventId", "name", "value"],
    "user_attributes": ["sessionId", "name"],
    "experiments": ["sessionId", "experimentId"],
}


def assert_same_tables(got: Any, want: Any) -> None:
    for name, keys in KEYS.items():
        a = got[name].sort_values(keys, kind="stable").reset_index(drop=True)
        b = want[name].sort_values(keys, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_categorical=False, obj=name)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_the_feed_gives_the_api_exports_tables_row_for_row(feed_world: Any, kind: str) -> None:
    world = feed_world(kind, fail_jobs=frozenset({20}))  # its sessions come in job 21
    world.writer.run_until(world.now)
    feed = world.feed()
    result = feed.sync(progress=False)
    assert result.jobs_ingested == 72 and len(result.status.partial) == 1
    got = feed.load(days=world.days(10, 2), progress=False)
    want = world.api_tables(world.day(10), world.day(2))
    assert len(got.sessions) > 300
    assert_same_tables(got, want)


def test_partial_jobs_are_reported_and_never_read(feed_world: Any) -> None:
    world = feed_world(fail_jobs=frozenset({3, 40}))
    world.writer.run_until(world.now)
    failed = [j for j in world.writer.jobs if j.state == "failed"]
    feed = world.feed()
    status = feed.scan()
    assert {p.stem for p in status.partial} == {j.stem for j in failed}
    assert "2 partial job(s) without a manifest (not read" in str(status)
    feed.sync(progress=False)
    cached = {p.name for p in feed.dir.rglob("*-output-*") if p.is_file()}
    for job in failed:
        assert not any(job.stem in name for name in cached)
    assert all(job.stem not in feed.ledger() for job in failed)


def test_a_second_sync_downloads_nothing(feed_world: Any) -> None:
    world = feed_world()
    world.writer.run_until(world.now)
    feed = world.feed()
    first = feed.sync(progress=False)
    assert first.files_downloaded == 73
    again = feed.sync(progress=False)
    assert (again.jobs_ingested, again.files_downloaded, again.bytes_downloaded) == (0, 0, 0)


def test_an_interrupted_sync_resumes_and_ends_with_the_same_tables(
    feed_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = feed_world(max_file_bytes=16 * 1024)  # several files per job
    world.writer.run_until(world.now)
    whole = world.feed(cache_dir=world.cache / "whole")
    total = whole.sync(progress=False).files_downloaded
    feed = world.feed()
    real_get = type(feed.fs).get_file
    calls = [0]

    def dying_get(self: Any, remote: str, local: str, **kw: Any) -> Any:
        calls[0] += 1
        if calls[0] == 40:  # the process dies in the middle of a job
            raise KeyboardInterrupt
        return real_get(self, remote, local, **kw)

    monkeypatch.setattr(type(feed.fs), "get_file", dying_get)
    with pytest.raises(KeyboardInterrupt):
        feed.sync(progress=False, max_workers=1)
    monkeypatch.setattr(type(feed.fs), "get_file", real_get)
    stopped = len(feed.ledger())
    assert 0 < stopped < 73
    kept = [p for p in feed.dir.rglob("files/*") if not p.name.endswith(".part")]
    assert 39 <= len(kept) <= 40  # at most the download in flight ends after the stop
    resumed = feed.sync(progress=False)
    assert resumed.jobs_ingested == 73 - stopped
    assert resumed.files_downloaded == total - len(kept)  # what was whole is not fetched again
    days = world.days(11, 0)
    assert_same_tables(feed.load(days=days, progress=False), whole.load(days=days, progress=False))


def test_late_sessions_of_a_day_appear_after_the_later_job_is_synced(feed_world: Any) -> None:
    world = feed_world()
    day = world.day(3)
    world.writer.run_until(world.now - 2 * 86400)
    feed = world.feed()
    feed.sync(progress=False)
    before = feed.load(days=day, progress=False).sessions
    world.writer.run_until(world.now)
    assert feed.sync(progress=False).jobs_ingested == 12
    after = feed.load(days=day, progress=False).sessions
    assert set(before["sessionId"]) < set(after["sessionId"])
    assert_same_tables(feed.load(days=day, progress=False), world.api_tables(day, day))


def test_a_slow_upload_is_partial_until_its_manifest_comes(feed_world: Any) -> None:
    world = feed_world(slow_jobs=frozenset({72}), max_file_bytes=8 * 1024)
    world.writer.run_until(world.now)
    feed = world.feed()
    result = feed.sync(progress=False)
    assert result.jobs_ingested == 72
    assert [p.stem for p in result.status.partial] == [world.writer.jobs[72].stem]
    world.writer.run_until(world.now)  # the upload finishes, the manifest comes last
    assert feed.sync(progress=False).jobs_ingested == 1
    day = world.day(1)
    assert_same_tables(feed.load(days=day, progress=False), world.api_tables(day, day))


def test_csv_feed(feed_world: Any) -> None:
    world = feed_world(format="csv")
    world.writer.run_until(world.now)
    feed = world.feed(format="csv")
    assert feed.sync(progress=False).jobs_ingested == 73
    day = world.day(4)
    assert_same_tables(
        feed.load(days=day, progress=False), world.api_tables(day, day, format="csv")
    )


def test_the_credentials_never_appear(feed_world: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world = feed_world("s3", fail_jobs=frozenset({2}))
    secrets = (world.storage_options["secret"], world.storage_options["key"])
    world.writer.run_until(world.now - 10 * 86400)
    caplog.clear()  # the simulator's own uploads (boto3 at DEBUG) are the other side's logs
    feed = world.feed()
    result = feed.sync(progress=False)
    assert "botocore" in caplog.text  # the storage library did log its requests
    texts = [caplog.text, repr(feed), str(result), repr(result.status)]
    texts += [p.read_text(errors="replace") for p in feed.dir.rglob("*.json")]
    assert "AKIA" in str(world.storage_options) and "feed" in caplog.text
    for secret in secrets:
        leaked = [line for t in texts for line in t.splitlines() if secret in line]
        assert not leaked, leaked[:3]


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    from leanplum_notebook.sources.feed import Feed

    with pytest.raises(errors.ValidationError, match="format"):
        Feed(tmp_path, format="xml")
    with pytest.raises(errors.ValidationError, match="does not exist"):
        Feed(tmp_path / "nope", cache_dir=tmp_path / "c").scan()
    with pytest.raises(errors.ValidationError, match="sync"):
        Feed(tmp_path, cache_dir=tmp_path / "c").load()
    (tmp_path / "20260601").mkdir()
    (tmp_path / "20260601" / "export-1-abc-output-0").write_text("{}\n")
    (tmp_path / "20260601" / "export-1-abc-output-manifest").write_text(json.dumps({"x": 1}))
    status = Feed(tmp_path, cache_dir=tmp_path / "c").scan()
    assert status.jobs == [] and "not a list" in status.partial[0].why


def test_the_cli_syncs_and_shows_the_feed(
    feed_world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from leanplum_notebook.ui.cli import main

    world = feed_world(fail_jobs=frozenset({1}))
    world.writer.run_until(world.now - 11 * 86400)
    common = ["--cache-dir", str(world.cache), "--no-progress"]
    assert main(["feed", "status", world.url, *common]) == 0
    shown = capsys.readouterr().out
    assert "6 to sync" in shown and "1 partial job(s)" in shown
    assert main(["feed", "sync", world.url, *common]) == 0
    assert "synced 6 job(s)" in capsys.readouterr().out
    assert main(["feed", "sync", world.url, *common]) == 0
    assert "synced 0 job(s): 0 file(s)" in capsys.readouterr().out
    assert main(["feed", "status", str(world.cache / "nowhere"), *common]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_the_feed_on_dask_and_from_the_package(feed_world: Any) -> None:
    import leanplum_notebook as lpn
    from leanplum_notebook import metrics

    world = feed_world()
    world.writer.run_until(world.now)
    feed = lpn.feed(world.url, cache_dir=world.cache)
    assert isinstance(feed, lpn.Feed)
    feed.sync(progress=False)
    days = world.days(6, 2)
    pandas_tables = feed.load(days=days, progress=False)
    dask_tables = feed.load(days=days, engine="dask")
    want = metrics.active_users(pandas_tables.sessions)
    got = metrics.active_users(dask_tables.sessions)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


def test_the_simulator_writes_its_own_feed(make_simulator: Any, tmp_path: Path) -> None:
    from leanplum_notebook.simulator.feed import LocalBucket
    from leanplum_notebook.sources.feed import Feed

    sim = make_simulator()
    writer = sim.feed(LocalBucket(tmp_path / "b"), "x/", interval_hours=6)
    jobs = writer.run_until(sim.clock.now())
    assert len(jobs) == 7 * 4 + 1 and all(j.state == "complete" for j in jobs)
    status = Feed(tmp_path / "b" / "x", cache_dir=tmp_path / "c").scan()
    assert len(status.jobs) == len(jobs) and not status.partial
    folders = sorted({j.folder for j in jobs})
    assert len(folders) == 8  # a date folder per Pacific day a job started


def test_connect_and_the_report_take_a_feed(feed_world: Any, tmp_path: Path) -> None:
    from leanplum_notebook.sources.connect import connect
    from leanplum_notebook.ui.report import render_report

    world = feed_world()
    world.writer.run_until(world.now)
    conn = connect(feed=world.url, cache_dir=world.cache, environ={}, dotenv=None)
    assert conn.feed is not None and "automated export feed" in conn.source
    export = conn.fetch(world.day(4), world.day(2), progress=False)
    assert export.exports_spent == 0 and len(export.days) == 3
    # a day is final once the newest job was uploaded 9 days after it: here the bucket's
    # file times are the real clock, months after the simulated days
    assert set(export.status.values()) == {"final"}
    assert_same_tables(export.load(progress=False), world.api_tables(world.day(4), world.day(2)))
    html = render_report(
        world.day(4), world.day(2), out=tmp_path / "feed.html", connection=conn, timeout=300
    ).read_text(encoding="utf-8")
    assert "automated export feed" in html and "a feed announces no count" in html
    assert "exports spent for this report: 0" in html


def test_a_session_in_two_jobs_is_kept_once_from_the_newest(feed_world: Any) -> None:
    world = feed_world()
    world.writer.run_until(world.now - 6 * 86400)
    jobs = [j for j in world.writer.jobs if j.sessions]
    old_key, new_key = jobs[-3].keys[0], jobs[-1].keys[0]
    bucket = Path(world.url).parent
    line = json.loads((bucket / old_key).read_text().splitlines()[0])
    line["city"] = "Copy in the newer job"
    with open(bucket / new_key, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
    feed = world.feed()
    feed.sync(progress=False)
    tables = feed.load(progress=False)
    kept = tables.sessions[tables.sessions["sessionId"] == int(line["sessionId"])]
    assert len(kept) == 1 and kept["city"].iloc[0] == "Copy in the newer job"
    assert tables.report.duplicates_removed["sessions"] == 1
    assert tables.report.duplicates_removed["events"] == sum(
        len(s.get("events") or []) for s in line.get("states") or []
    )
