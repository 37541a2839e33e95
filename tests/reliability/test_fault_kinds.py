"""The client under each fault the simulator can inject (issue 8 item 2), one test per kind.

Each test: the fault happens (``sim.stats.faults``), the client recovers (retry, resume) or
stops with an error saying what happened, the cache invariants hold after every attempt
(no partial file that looks complete; accepted exports == ledger), and re-running completes
the job, with the data matching the server's files byte for byte.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from leanplum_notebook import errors
from leanplum_notebook.export import fetch
from leanplum_notebook.simulator import FaultConfig

pytestmark = pytest.mark.reliability

START, END = "20260601", "20260603"
#: API faults only on downloads (no action is eligible for API faults)
DOWNLOADS_ONLY = frozenset[str]()


def _complete(h: Any, rel: Any, *, spent: int, accepted: int) -> Any:
    """Fetch again: it completes, spends ``spent``, and the totals are ``accepted``."""
    got = fetch(START, END, **h.kw())
    assert got.exports_spent == spent
    assert h.accepted == accepted
    h.check()
    counts = rel.check_cache(h.cache_dir, h.sim)
    assert counts["files"] >= len(got.files) > 1
    tables = got.load(progress=False, use_parquet=False)
    assert len(tables.sessions) == sum(p.num_sessions or 0 for p in got.parts) > 0
    assert not tables.report.mismatches
    return got


# ---------------------------------------------------------------- recovered within one call


@pytest.mark.parametrize("scope", ["api", "download"])
@pytest.mark.parametrize("kind", ["http_500_html", "http_502_empty", "http_429"])
def test_transient_http_errors_are_retried(harness: Any, rel: Any, kind: str, scope: str) -> None:
    only = None if scope == "api" else DOWNLOADS_ONLY
    h = harness(faults=FaultConfig(first={kind: 3}, only_actions=only, retry_after=3))
    got = fetch(START, END, **h.kw())
    assert h.sim.stats.faults[kind] == 3
    assert got.exports_spent == 1 and h.accepted == 1  # refused before the handler: free
    if scope == "api":
        assert h.sim.stats.calls["exportData"] == 4  # 3 refused, then accepted
    if kind == "http_429":
        assert h.slept >= 9  # Retry-After: 3, honoured 3 times (by the API and file hosts)
    h.check()
    _complete(h, rel, spent=0, accepted=1)


@pytest.mark.parametrize("scope", ["api", "download"])
def test_slow_answers_are_waited_for(harness: Any, rel: Any, scope: str) -> None:
    only = None if scope == "api" else DOWNLOADS_ONLY
    h = harness(faults=FaultConfig(first={"slow": 3}, only_actions=only, slow_seconds=0.3))
    t0 = time.monotonic()
    got = fetch(START, END, **h.kw())
    assert time.monotonic() - t0 >= 0.3
    assert h.sim.stats.faults["slow"] == 3 and got.exports_spent == 1
    h.check()
    _complete(h, rel, spent=0, accepted=1)


def test_drop_download_resumes_with_range(harness: Any, rel: Any) -> None:
    h = harness(faults=FaultConfig(first={"drop_download": 4}))
    got = fetch(START, END, **h.kw())
    assert h.sim.stats.faults["drop_download"] == 4 and got.exports_spent == 1
    h.check()  # every file byte-identical to the server's
    _complete(h, rel, spent=0, accepted=1)


def test_drop_connection_on_polling_is_retried(harness: Any, rel: Any) -> None:
    only = frozenset({"getExportResults"})
    h = harness(faults=FaultConfig(first={"drop_connection": 2}, only_actions=only))
    got = fetch(START, END, **h.kw())
    assert h.sim.stats.faults["drop_connection"] == 2 and got.exports_spent == 1
    h.check()
    _complete(h, rel, spent=0, accepted=1)


# ---------------------------------------------------------------- clear error, then re-run


def test_drop_connection_on_export_is_not_retried_blindly(harness: Any, rel: Any) -> None:
    h = harness(faults=FaultConfig(first={"drop_connection": 1}))
    with pytest.raises(errors.ExportOutcomeUnknown) as info:
        fetch(START, END, **h.kw())
    text = str(info.value)
    assert "may have been created" in text and "not retried" in text
    assert h.sim.stats.calls["exportData"] == 1  # no blind retry
    assert h.accepted == 1  # the server did spend it...
    h.check()  # ...and the ledger counts it
    # re-running spends one more (the lost job id cannot be recovered): accepted == ledger
    _complete(h, rel, spent=1, accepted=2)


@pytest.mark.parametrize("action", ["exportData", "getExportResults"])
def test_success_false_in_200_is_an_error_then_rerun_completes(
    harness: Any, rel: Any, action: str
) -> None:
    only = frozenset({action})
    h = harness(faults=FaultConfig(first={"success_false_200": 1}, only_actions=only))
    with pytest.raises(errors.ApiError) as info:
        fetch(START, END, **h.kw())
    assert info.value.status == 200 and info.value.action == action
    assert "try again" in str(info.value)
    h.check()
    if action == "exportData":
        assert h.accepted == 0  # refused before the handler: nothing spent or counted
        _complete(h, rel, spent=1, accepted=1)
    else:
        assert h.accepted == 1  # the job exists: the re-run resumes it by job id
        got = _complete(h, rel, spent=0, accepted=1)
        assert h.sim.stats.calls["exportData"] == 1
        assert len(got.parts) == 1


def test_rerun_with_refresh_does_not_spend_again(harness: Any, rel: Any) -> None:
    only = frozenset({"getExportResults"})
    h = harness(faults=FaultConfig(first={"success_false_200": 1}, only_actions=only))
    with pytest.raises(errors.ApiError):
        fetch("20260612", refresh=True, **h.kw())  # a provisional day, export accepted
    assert h.accepted == 1
    again = fetch("20260612", refresh=True, **h.kw())  # the user runs the same cell again
    h.check()
    assert again.exports_spent == 0 and h.accepted == 1


def test_truncated_file_is_not_kept_as_complete(harness: Any, rel: Any) -> None:
    # the server's Content-Length (and body) is half the file: only the job's numBytes tells
    h = harness(faults=FaultConfig(first={"truncate_file": 1}))
    for _ in range(2):
        try:
            fetch(START, END, **h.kw())
            break
        except errors.DownloadError as exc:
            assert "numBytes" in str(exc)
        finally:
            h.check()  # the short file must never sit in the cache under its final name
    assert h.sim.stats.faults["truncate_file"] == 1
    _complete(h, rel, spent=0, accepted=1)


def test_failed_job_is_reported_and_rerun_exports_again(harness: Any, rel: Any) -> None:
    h = harness(faults=FaultConfig(first={"job_fail": 1}))
    with pytest.raises(errors.JobFailed) as info:
        fetch(START, END, **h.kw())
    assert "FAILED" in str(info.value) and info.value.message
    h.check()
    entries = [json.loads(p.read_text()) for p in h.cache_dir.rglob("entry.json")]
    assert [e["state"] for e in entries] == ["FAILED"]
    assert not any(h.cache_dir.rglob("days.json")) or all(
        not json.loads(p.read_text()) for p in h.cache_dir.rglob("days.json")
    )
    _complete(h, rel, spent=1, accepted=2)  # the failed job's export is gone, as on Leanplum


def test_stuck_job_times_out_and_rerun_resumes_it(harness: Any) -> None:
    h = harness(faults=FaultConfig(first={"job_stuck": 1}))
    t0 = time.monotonic()
    with pytest.raises(errors.ExportTimeout) as info:
        fetch(START, END, **h.kw(timeout=90))
    assert time.monotonic() - t0 < 20
    assert "still RUNNING" in str(info.value) and "resumes it" in str(info.value)
    h.check()
    # an immediate re-run resumes the same job (no second export), and times out again
    with pytest.raises(errors.ExportTimeout):
        fetch(START, END, **h.kw(timeout=90))
    assert h.sim.stats.calls["exportData"] == 1 and h.accepted == 1
    h.check()


def test_stuck_job_is_given_up_after_a_day(harness: Any, rel: Any) -> None:
    h = harness(faults=FaultConfig(first={"job_stuck": 1}))
    with pytest.raises(errors.ExportTimeout):
        fetch(START, END, **h.kw(timeout=60))
    h.sim.clock.advance(25 * 3600)  # a job still RUNNING a day later is dead
    _complete(h, rel, spent=1, accepted=2)


def test_files_expired_early_then_rerun_completes(harness: Any, rel: Any) -> None:
    h = harness(faults=FaultConfig(first={"expire_early": 1}))
    with pytest.raises(errors.FilesExpired):
        fetch(START, END, **h.kw())
    h.check()
    attempts = 1
    while True:  # the job's export is lost; re-running must get there, spending one more
        try:
            _complete(h, rel, spent=1, accepted=2)
            break
        except errors.FilesExpired as exc:
            attempts += 1
            assert "costs 1 export" in str(exc)
            assert attempts <= 2, "re-running never completes"
            h.check()


def test_files_expired_early_first_error_says_the_cost_and_one_rerun_completes(
    harness: Any, rel: Any
) -> None:
    h = harness(faults=FaultConfig(first={"expire_early": 1}))
    with pytest.raises(errors.FilesExpired) as info:
        fetch(START, END, **h.kw())
    assert "costs 1 export" in str(info.value)
    _complete(h, rel, spent=1, accepted=2)


def test_corrupt_line_is_named_by_the_loader_or_skipped_and_counted(harness: Any, rel: Any) -> None:
    from leanplum_notebook.load import LoadError, load

    h = harness(faults=FaultConfig(first={"corrupt_line": 1}))
    got = fetch(START, END, **h.kw())
    h.check()  # the download is the server's file, garbled line included
    assert h.sim.stats.faults["corrupt_line"] == 1
    with pytest.raises(LoadError) as info:
        load(got.parts, progress=False)
    assert info.value.line is not None and info.value.path.name in {p.name for p in got.files}
    assert str(info.value.line) in str(info.value)
    # the failed parse left no Parquet table under a final name, and no meta.json to trust
    parquet = got.parts[0].entry_dir / "parquet"
    assert not list(parquet.glob("*.parquet")) and not (parquet / "meta.json").exists()
    tables = load(got.parts, progress=False, on_bad_line="skip")
    report = tables.report
    expected = sum(p.num_sessions or 0 for p in got.parts)
    assert report.bad_lines_skipped == 1
    assert len(tables.sessions) + report.bad_lines_skipped == expected  # nothing lost silently
    # the Parquet cache of a skipping load is not served to a strict load
    assert (parquet / "meta.json").exists()
    with pytest.raises(LoadError):
        load(got.parts, progress=False)
    _ = rel
