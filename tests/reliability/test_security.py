"""Security promises (issue 8 item 6; SECURITY.md lists them with these test names).

* The export key and the S3 secret never appear in logs at any level (the package's and
  urllib3's, at DEBUG), exception messages, tracebacks, reprs, cache files, or CLI output
  (the CLI run as a subprocess with the key in its environment) -- across every fault kind.
* File names and job ids given by the server cannot escape the cache folder.
* Only the URLs the job listed are downloaded (no redirect followed elsewhere), and the key is
  only ever sent to the API, in a request body, never in a URL.
* The simulator binds 127.0.0.1 by default, and its callbacks only reach loopback addresses
  unless allowed.

A tiny local stub server plays a hostile export API where the simulator cannot.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from leanplum_notebook import errors
from leanplum_notebook.dates import pacific_day
from leanplum_notebook.export import fetch
from leanplum_notebook.simulator import AppConfig, DataConfig, FaultConfig, SimClock
from leanplum_notebook.simulator.faults import FAULT_KINDS

pytestmark = pytest.mark.reliability

KEY = "exp_ReliabilityKnownKey_9f8e7d6c5b4a3210"
S3_ID = "AKIDRELIABILITY0001"
S3_SECRET = "s3SecretReliability_0a1b2c3d4e5f6g7h8i9j"
APP = "app_ReliabilitySecurityApp_0000000000000000000000"
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "json"


def _app(**over: Any) -> AppConfig:
    data = DataConfig(seed=5, initial_users=150, new_users_per_day=5.0, history_days=70)
    return AppConfig(app_id=APP, export_key=KEY, app_number=4727756026281984, data=data, **over)


def _assert_clean(texts: list[str], where: str) -> None:
    for text in texts:
        assert KEY not in text, f"export key in {where}: {text[:300]}"
        assert S3_SECRET not in text, f"S3 secret in {where}: {text[:300]}"


def _assert_clean_files(root: Path) -> int:
    files = [p for p in root.rglob("*") if p.is_file()]
    for p in files:
        data = p.read_bytes()
        assert KEY.encode() not in data, p
        assert S3_SECRET.encode() not in data, p
    return len(files)


# ---------------------------------------------------------------- the key, everywhere


def test_key_and_s3_secret_never_shown_under_every_fault(
    make_simulator: Any,
    moto_s3: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_s3,
        aws_access_key_id=S3_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="reliability-bucket")
    cache = tmp_path / "cache"
    texts: list[str] = []
    outcomes: dict[str, str] = {}
    for kind in FAULT_KINDS:
        sim = make_simulator(apps=[_app()], faults=FaultConfig(first={kind: 1}, slow_seconds=0.1))
        kw: dict[str, Any] = {
            "app_id": APP,
            "export_key": KEY,
            "api_url": sim.api_url,
            "cache_dir": cache / kind,
            "clock": sim.clock.now,
            "sleep": lambda s, sim=sim: (sim.clock.advance(s), None)[1],
            "progress": True,  # the bars go to stderr: checked too
            "timeout": 60.0,
        }
        try:
            got = fetch("20260601", **kw)
            texts += [repr(got), str(got), repr(got.parts), str(got.plan)]
            tables = got.load(progress=True, on_bad_line="skip")
            texts += [repr(tables), repr(tables.report)]
            outcomes[kind] = "ok"
        except errors.LeanplumError as exc:
            texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            outcomes[kind] = type(exc).__name__
    # the S3 copy: the secret goes to the server in the request body, and nowhere else
    sim = make_simulator(apps=[_app()], s3_endpoint_url=moto_s3)
    s3_kw: dict[str, Any] = {
        "s3_bucket": "reliability-bucket",
        "s3_access_id": S3_ID,
        "s3_access_key": S3_SECRET,
    }
    got = fetch(
        "20260602",
        app_id=APP,
        export_key=KEY,
        api_url=sim.api_url,
        cache_dir=cache / "s3",
        clock=sim.clock.now,
        progress=False,
        **s3_kw,
    )
    assert s3.list_objects_v2(Bucket="reliability-bucket")["KeyCount"] == len(got.files) + 1
    texts += [repr(got), repr(got.parts)]
    # an S3 copy that fails (no such bucket): the job FAILS, the message must not carry it
    with pytest.raises(errors.JobFailed) as info:
        fetch(
            "20260603",
            app_id=APP,
            export_key=KEY,
            api_url=sim.api_url,
            cache_dir=cache / "s3",
            clock=sim.clock.now,
            progress=False,
            **{**s3_kw, "s3_bucket": "no-such-bucket"},
        )
    texts += [str(info.value), "".join(traceback.format_exception(info.value))]

    assert outcomes["http_500_html"] == "ok" and outcomes["drop_connection"] != "ok"
    out = capsys.readouterr()
    texts += [out.out, out.err, caplog.text] + [r.getMessage() for r in caplog.records]
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # really captured
    assert any("exportData" in t for t in texts)
    _assert_clean(texts, "logs, exceptions or reprs")
    assert _assert_clean_files(cache) > 20


def _real_time_sim(make_simulator: Any) -> Any:
    return make_simulator(apps=[_app()], clock=SimClock())


def test_cli_output_never_shows_the_key(make_simulator: Any, tmp_path: Path) -> None:
    sim = _real_time_sim(make_simulator)
    yesterday = pacific_day(sim.clock.now()) - timedelta(days=1)
    day = f"{yesterday:%Y%m%d}"
    env = {
        **os.environ,
        "LEANPLUM_APP_ID": APP,
        "LEANPLUM_EXPORT_KEY": KEY,
        "LEANPLUM_API_URL": sim.api_url,
        "LEANPLUM_CACHE_DIR": str(tmp_path / "cache"),
    }
    cli = [sys.executable, "-m", "leanplum_notebook.cli"]
    runs = [
        (["-vv", "export", day], env, 0),
        (["-vv", "export", day, "--refresh"], env, 0),
        (["-vv", "export", day, "--dry-run"], env, 0),
        (["-vv", "quota"], env, 0),
        (["-vv", "cache", "list"], env, 0),
        # a wrong key (the real one plus a suffix) is refused; neither shows
        (["-vv", "export", "20260101", day], {**env, "LEANPLUM_EXPORT_KEY": KEY + "Z"}, None),
        (["-vv", "export", "not-a-day"], env, None),
    ]
    outputs = []
    for args, run_env, code in runs:
        done = subprocess.run(
            [*cli, *args], env=run_env, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        if code is not None:
            assert done.returncode == code, done.stderr[-2000:]
        else:
            assert done.returncode != 0
        outputs += [done.stdout, done.stderr]
    joined = "\n".join(outputs)
    assert "exportData" in joined and "urllib3" in joined  # -vv did log the calls
    _assert_clean(outputs, "CLI output")
    assert _assert_clean_files(tmp_path / "cache") > 3


# ---------------------------------------------------------------- a hostile export API


@dataclass
class Hostile:
    """A stub export API whose job lists the given file URLs (relative ones on itself)."""

    job_id: str = "export_4727756026281984_1"
    files: list[str] = field(default_factory=list)
    body: bytes = b""
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    base: str = ""
    api_redirect: tuple[int, str] | None = None

    def urls(self) -> list[str]:
        return [f if "://" in f else self.base + f for f in self.files]


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    state = Hostile(
        body=b"\n".join(p.read_bytes().rstrip(b"\n") for p in sorted(GOLDEN.iterdir())[:1]) + b"\n"
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            parts = urlsplit(self.path)
            if parts.path == "/api" and state.api_redirect is not None:
                status, location = state.api_redirect
                self._answer(status, b"", {"Location": location})
            elif parts.path == "/api":
                action = parse_qs(parts.query).get("action", [""])[0]
                if action == "exportData":
                    item: dict[str, Any] = {"success": True, "jobId": state.job_id}
                else:
                    item = {
                        "success": True,
                        "jobId": state.job_id,
                        "state": "FINISHED",
                        "files": state.urls(),
                        "numSessions": state.body.count(b"\n") * len(state.files),
                        "numBytes": len(state.body) * len(state.files),
                    }
                self._answer(
                    200,
                    json.dumps({"response": [item]}).encode(),
                    {"Content-Type": "application/json"},
                )
            elif self.path in state.redirects:
                self._answer(302, b"", {"Location": state.redirects[self.path]})
            else:
                self._answer(200, state.body, {"Content-Type": "application/octet-stream"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _fetch_hostile(h: Hostile, cache: Path) -> Any:
    return fetch(
        "20260601",
        app_id=APP,
        export_key=KEY,
        api_url=h.base + "/api",
        cache_dir=cache,
        clock=lambda: 1781553600.0,  # 2026-06-15T20:00Z
        sleep=lambda s: None,
        progress=False,
        timeout=30,
    )


def _nothing_outside(root: Path, cache: Path) -> None:
    """Every file under ``root`` is inside ``cache``; downloads only in ``files/`` folders."""
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        assert cache in p.parents, f"written outside the cache folder: {p}"
        rel = p.relative_to(cache)
        if "evil" in str(rel) or "passwd" in str(rel):  # only as a job's entry or file name
            assert "entries" in rel.parts[:-1], p


ESCAPING_FILES = [
    "/leanplum_export/../../../../../../../../evil",
    "/leanplum_export/x/..%2F..%2F..%2F..%2F..%2F..%2Fevil",
    "/leanplum_export/%2e%2e",
    "/leanplum_export/%2Fetc%2Fpasswd",
    "/leanplum_export/..%5C..%5C..%5Cevil",
    "/leanplum_export/evil%00.json",
    "/leanplum_export/.hidden-evil",
]


@pytest.mark.parametrize("path", ESCAPING_FILES)
def test_server_file_names_cannot_escape_the_cache(
    hostile: Hostile, tmp_path: Path, path: str
) -> None:
    hostile.files = [path, "/leanplum_export/export-1-abc-output-0"]
    cache = tmp_path / "deep" / "er" / "cache"
    try:
        got = _fetch_hostile(hostile, cache)
    except errors.LeanplumError as exc:  # refusing the name is fine too
        assert isinstance(exc, errors.ValidationError | errors.DownloadError), exc
    else:
        assert all(cache in f.parents for f in got.files)
        assert len({f.name for f in got.files}) == 2
    _nothing_outside(tmp_path, cache)


@pytest.mark.parametrize(
    "job_id", ["../../../../../evil", "..", "/etc/evil", "..\\..\\evil", "a/../../b"]
)
def test_server_job_ids_cannot_escape_the_cache(
    hostile: Hostile, tmp_path: Path, job_id: str
) -> None:
    hostile.job_id = job_id
    hostile.files = ["/leanplum_export/export-1-abc-output-0"]
    cache = tmp_path / "deep" / "er" / "cache"
    try:
        _fetch_hostile(hostile, cache)
    except errors.LeanplumError as exc:
        assert isinstance(exc, errors.ValidationError), exc
    _nothing_outside(tmp_path, cache)


def test_only_listed_urls_are_downloaded_and_the_key_only_goes_to_the_api(
    hostile: Hostile, tmp_path: Path
) -> None:
    hostile.files = [f"/leanplum_export/export-1-abc-output-{i}" for i in range(3)]
    got = _fetch_hostile(hostile, tmp_path / "cache")
    assert len(got.files) == 3
    api = [r for r in hostile.requests if urlsplit(r["path"]).path == "/api"]
    downloads = [r for r in hostile.requests if urlsplit(r["path"]).path != "/api"]
    assert {urlsplit(r["path"]).path for r in downloads} == set(hostile.files)
    for r in downloads:  # no key, no credentials of any kind, to the storage host
        assert KEY not in json.dumps({k: v for k, v in r.items() if k != "body"})
        assert not r["body"] and "Authorization" not in r["headers"]
    for r in api:  # the key goes in the POST body, never in the URL
        assert r["method"] == "POST" and KEY not in r["path"]
        assert json.loads(r["body"])["clientKey"] == KEY


def test_redirects_to_unlisted_urls_are_not_followed(hostile: Hostile, tmp_path: Path) -> None:
    listed = "/leanplum_export/export-1-abc-output-0"
    hostile.files = [listed]
    hostile.redirects = {listed: "/not-listed/secret"}
    try:
        _fetch_hostile(hostile, tmp_path / "cache")
    except errors.LeanplumError as exc:
        assert isinstance(exc, errors.DownloadError), exc
    assert not [r for r in hostile.requests if r["path"].startswith("/not-listed")]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_key_is_never_sent_to_another_host_on_redirect(
    hostile: Hostile, tmp_path: Path, status: int
) -> None:
    sink = _Sink()
    hostile.redirects = {}
    hostile.api_redirect = (status, sink.url + "/steal")
    try:
        with pytest.raises(errors.LeanplumError):
            _fetch_hostile(hostile, tmp_path / "cache")
    finally:
        sink.close()
    leaked = [(path, body) for path, body in sink.received if KEY.encode() in body + path.encode()]
    assert not leaked, f"HTTP {status}: the key was re-sent to {sink.url}"


def test_non_http_file_urls_are_refused(hostile: Hostile, tmp_path: Path) -> None:
    hostile.files = ["file:///etc/passwd"]
    with pytest.raises(errors.ValidationError, match="http"):
        _fetch_hostile(hostile, tmp_path / "cache")
    _nothing_outside(tmp_path, tmp_path / "cache")


# ---------------------------------------------------------------- the simulator's reach


def _non_loopback_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_simulator_binds_loopback_by_default(make_simulator: Any) -> None:
    import argparse

    from leanplum_notebook.simulator import Simulator
    from leanplum_notebook.simulator import cli as sim_cli

    sim = make_simulator()
    assert sim.host == "127.0.0.1" and sim.api_url.startswith("http://127.0.0.1:")
    assert sim._server.server_address[0] == "127.0.0.1"
    assert Simulator().host == "127.0.0.1"
    parser = argparse.ArgumentParser()
    sim_cli.add_arguments(parser)
    assert parser.parse_args([]).host == "127.0.0.1"
    ip = _non_loopback_ip()
    if ip is not None:  # the same port on the machine's other address is not served
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{ip}:{sim.port}/api", timeout=3)


REMOTE_CALLBACKS = [
    "http://10.0.0.1/cb",
    "http://192.0.2.1:8080/cb",
    "http://example.com/cb",
    "http://127.0.0.1.nip.io/cb",
    "http://localhost.evil.example/cb",
    "http://127.0.0.1@10.0.0.1/cb",
    "http://[::ffff:10.0.0.1]/cb",
    "http://0.0.0.0/cb",
    "http://2130706433/cb",
]


@pytest.mark.parametrize("url", REMOTE_CALLBACKS)
def test_simulator_refuses_non_loopback_callbacks(make_simulator: Any, url: str) -> None:
    sim = make_simulator()
    params = {
        "appId": sim.app_id,
        "clientKey": sim.export_key,
        "apiVersion": "1.0.6",
        "action": "exportData",
        "startDate": "20260601",
        "callbackUrl": url,
    }
    r = requests.get(sim.api_url, params=params, timeout=10)
    assert r.status_code == 400 and "callbackUrl" in r.json()["response"][0]["error"]["message"]
    assert sum(sim.stats.exports_accepted.values()) == 0


class _Sink:
    """A loopback HTTP server recording what it receives; ``redirect`` answers 302 there."""

    def __init__(self, redirect: str | None = None) -> None:
        self.received: list[tuple[str, bytes]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.received.append((self.path, body))
                if redirect is not None:
                    self.send_response(302)
                    self.send_header("Location", redirect)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait_for(cond: Callable[[], bool], seconds: float = 10.0) -> bool:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_loopback_callback_arrives_and_redirects_are_not_followed(
    make_simulator: Any, tmp_path: Path
) -> None:
    target = _Sink()
    bouncer = _Sink(redirect=target.url + "/stolen")
    try:
        sim = make_simulator(apps=[_app()])
        got = fetch(
            "20260601",
            app_id=APP,
            export_key=KEY,
            api_url=sim.api_url,
            cache_dir=tmp_path / "cache",
            clock=sim.clock.now,
            progress=False,
            callback_url=bouncer.url + "/cb",
        )
        assert _wait_for(lambda: len(bouncer.received) == 1)
        path, body = bouncer.received[0]
        item = json.loads(body)["response"][0]
        assert path == "/cb" and item["state"] == "FINISHED"
        assert item["jobId"] == got.parts[0].job_id and KEY.encode() not in body
        sim.close()  # joins the job threads: the callback is over
        assert target.received == []  # the 302 was not followed
    finally:
        target.close()
        bouncer.close()
