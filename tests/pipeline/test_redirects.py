"""Redirects are never followed: not by the API client (the key is in the POST body), not by
downloads (only the URLs the job listed are fetched). A real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import requests

from leanplum_notebook import errors
from leanplum_notebook.api.client import Client, RetryPolicy
from leanplum_notebook.api.download import download_files
from leanplum_notebook.models import ExportRequest
from leanplum_notebook.settings import Settings

KEY = "exp_SECRET_redirect_test_key"


class _Server:
    """Answers every request with ``status`` and a Location on the same host; records all."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.seen: list[tuple[str, str, bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append((self.command, self.path, body))
                if self.path.startswith("/elsewhere"):
                    payload = b'{"response": [{"success": true, "jobId": "stolen"}]}'
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(outer.status)
                self.send_header("Location", f"{outer.base}/elsewhere/x")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=[301, 302, 303, 307, 308])
def server(request: pytest.FixtureRequest) -> Iterator[_Server]:
    s = _Server(request.param)
    yield s
    s.close()


def test_api_redirect_is_an_error_and_the_key_goes_nowhere_else(server: _Server) -> None:
    cfg = Settings(app_id="app_x", export_key=KEY, api_url=server.base + "/api")
    client = Client(cfg, retry=RetryPolicy(attempts=3), sleep=lambda s: None)
    with pytest.raises(errors.ApiError) as info:
        client.export_data(ExportRequest(date(2026, 6, 1), date(2026, 6, 1)))
    assert info.value.status == server.status
    assert "redirect" in str(info.value) and "api_url" in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert [(m, p.split("?")[0]) for m, p, _ in server.seen] == [("POST", "/api")]  # no retry


def test_download_redirect_is_an_error_naming_the_url(server: _Server, tmp_path: Path) -> None:
    url = server.base + "/leanplum_export/export-1-output-0?sig=abc"
    with pytest.raises(errors.DownloadError) as info:
        download_files([url], tmp_path / "files", session=requests.Session(), progress=False)
    text = str(info.value)
    assert f"{server.base}/leanplum_export/export-1-output-0" in text
    assert str(server.status) in text and "sig=abc" not in text
    assert [p for _, p, _ in server.seen if p.startswith("/elsewhere")] == []
    assert not (tmp_path / "files" / "export-1-output-0").exists()
