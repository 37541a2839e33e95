"""Secrets the server echoes back never survive in any text the toolkit writes.

The server writes the export key, the S3 access key and the S3 access id into its error
messages, a FAILED job's message and ``s3CopyStatus`` (success and failure items), as they
are, URL-encoded and JSON-escaped. Every log record at every level (the package's and
urllib3's), every exception, every repr, every cache file and the CLI's output are read.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus
from zoneinfo import ZoneInfo

import pytest

from leanplum_notebook import errors
from leanplum_notebook.store.quota import QuotaLedger


def echoes(kit: Any) -> str:
    """Every secret, in every form a server or library may write it back."""
    forms = []
    for s in kit.SECRETS:
        forms += [s, quote(s, safe=""), quote_plus(s), s.replace("/", "\\/")]
    return "echo: " + " | ".join(forms)


def leaks(text: str, kit: Any, secrets: tuple[str, ...] | None = None) -> list[str]:
    found = []
    for s in kit.SECRETS if secrets is None else secrets:
        for form in {s, quote(s, safe=""), quote_plus(s), s.replace("/", "\\/")}:
            if form in text:
                found.append(form)
    return found


def cache_text(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


S3 = {"s3_bucket": "bucket", "s3_prefix": "x/"}


def s3_args(kit: Any) -> dict[str, Any]:
    return {**S3, "s3_access_id": kit.S3_ID, "s3_access_key": kit.S3_SECRET}


def test_echoes_in_s3_copy_status_reach_no_log_and_no_cache_file(
    wire: Any, kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = echoes(kit)
    s3 = {
        "success": [{"sourceFile": "a", "destFile": f"x/{echo}"}],
        "failure": [{"sourceFile": "b", "error": f"AccessDenied for {echo}", "nested": [echo]}],
    }
    wire.results = [
        (503, kit.envelope(success=False, error={"message": echo})),
        (200, wire.finished(s3CopyStatus=s3)),
    ]
    cache = tmp_path / "cache"
    result = wire.fetch(cache, **s3_args(kit))
    assert "S3 copy" in caplog.text and "retrying" in caplog.text  # the lines were logged
    assert "***" in caplog.text
    assert leaks(caplog.text, kit) == []
    assert leaks(cache_text(cache), kit) == []
    assert leaks(repr(result) + repr(result.parts), kit) == []
    entry = json.loads(next(cache.rglob("entry.json")).read_text())
    assert entry["s3CopyStatus"]["failure"][0]["error"].startswith("AccessDenied for echo: ***")


@pytest.mark.parametrize("where", ["export refused", "job failed", "status refused"])
def test_echoes_in_errors_reach_no_exception_and_no_log(
    wire: Any, kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = echoes(kit)
    refused = kit.envelope(success=False, error={"message": echo})
    if where == "export refused":
        wire.export = (400, refused)
    elif where == "job failed":
        wire.results = [(200, kit.envelope(success=True, state="FAILED", error={"message": echo}))]
    else:
        wire.results = [(400, refused)]
    cache = tmp_path / "cache"
    with pytest.raises(errors.LeanplumError) as caught:
        wire.fetch(cache, **s3_args(kit))
    assert "***" in str(caught.value)
    texts = [str(caught.value), repr(caught.value), caplog.text, cache_text(cache)]
    assert [leaks(t, kit) for t in texts] == [[], [], [], []]


def test_get_requests_carry_the_key_in_the_url_but_no_log_shows_it(
    wire: Any, kit: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = wire.fetch(tmp_path / "cache", method="get", **s3_args(kit))
    api = [r for r in wire.requests if r["path"].startswith("/api")]
    assert api and all(r["method"] == "GET" and not r["body"] for r in api)
    assert all(r["query"]["clientKey"] == kit.KEY for r in api)
    assert api[0]["query"]["s3AccessKey"] == kit.S3_SECRET
    assert len(result.files) == 5
    url_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/api?" in line and "clientKey=***" in line for line in url_lines), url_lines
    assert leaks(caplog.text, kit) == []


def test_post_is_the_default_and_keeps_the_key_out_of_the_url(
    wire: Any, kit: Any, tmp_path: Path
) -> None:
    wire.fetch(tmp_path / "cache")
    api = [r for r in wire.requests if r["path"].startswith("/api")]
    assert all(r["method"] == "POST" and kit.KEY not in r["path"] for r in api)
    assert all(json.loads(r["body"])["clientKey"] == kit.KEY for r in api)


def test_the_method_comes_from_the_environment_and_is_checked_before_any_request(
    wire: Any, kit: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEANPLUM_API_METHOD", "GET")
    wire.fetch(tmp_path / "a")
    assert {r["method"] for r in wire.requests if r["path"].startswith("/api")} == {"GET"}
    wire.requests.clear()
    monkeypatch.setenv("LEANPLUM_API_METHOD", "put")
    with pytest.raises(errors.ValidationError, match="LEANPLUM_API_METHOD"):
        wire.fetch(tmp_path / "b")
    with pytest.raises(errors.ValidationError, match="method"):
        wire.fetch(tmp_path / "c", method="delete")
    assert wire.requests == []


def test_a_get_url_longer_than_the_api_accepts_is_refused_before_it_is_sent(
    wire: Any, kit: Any, tmp_path: Path
) -> None:
    args = {**s3_args(kit), "s3_prefix": "p/" * 1100}
    with pytest.raises(errors.ValidationError, match="2083"):
        wire.fetch(tmp_path / "cache", method="get", **args)
    assert wire.exports == 0
    ledger = QuotaLedger(tmp_path / "cache" / kit.APP, clock=lambda: kit.NOW)
    assert ledger.status(kit.APP).used == 0  # nothing was sent, so nothing is counted
    assert leaks(str(wire.requests), kit) == []


def test_the_cli_prints_no_echoed_secret(wire: Any, kit: Any, tmp_path: Path) -> None:
    """The server echoes the key in a FAILED job's message; the CLI runs with -vv in GET
    mode, so urllib3 logs every request URL, and prints the error."""
    wire.results = [
        (200, kit.envelope(success=True, state="FAILED", error={"message": echoes(kit)}))
    ]
    day = (datetime.now(ZoneInfo("America/Los_Angeles")) - timedelta(days=3)).strftime("%Y%m%d")
    env = {**os.environ, "LEANPLUM_EXPORT_KEY": kit.KEY, "LEANPLUM_API_METHOD": "get"}
    command = [sys.executable, "-m", "leanplum_notebook.cli", "-vv", "export", day]
    command += ["--app-id", kit.APP, "--api-url", wire.base + "/api", "--no-progress"]
    command += ["--cache-dir", str(tmp_path / "cache"), "--timeout", "20"]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "FAILED" in out and "clientKey=***" in out  # the URL line and the error were shown
    # the CLI holds only the key (no S3 copy was asked for): the S3 secrets the server
    # echoes are not its own, and it cannot know them
    assert leaks(out, kit, (kit.KEY,)) == []
    assert leaks(cache_text(tmp_path / "cache"), kit, (kit.KEY,)) == []
