"""A hostile export API on 127.0.0.1: every answer scripted, the files served as told.

``wire`` is a :class:`Wire` serving the golden JSON export (61 sessions over the Pacific
days 2026-03-07..09) as one job. Tests change what it says: ``wire.results`` (the
getExportResults bodies, in order, the last one repeating), ``wire.export`` (the exportData
answer) and ``wire.files`` (per path, a function of the Range header and the request's
number that returns the :class:`Answer`).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "json"
APP = "app_hostile"
KEY = "exp_Hostile/Key+0123456789abcdefghijklmnopqrstuv"  # "/" and "+" change when encoded
S3_ID = "AKIAHOSTILE0123456789"
S3_SECRET = "s3/Secret+Key=0123456789abcdefghijklmnopq"
SECRETS = (KEY, S3_ID, S3_SECRET)
NOW = 1773345600.0  # 2026-03-12T20:00Z: the golden days are 3 to 5 days old
FIRST, LAST = "20260307", "20260309"
JOB = "export_4727756026281984_1"
DROP = object()  # a field left out of the answer


@dataclass
class Answer:
    """What a file URL answers: status, body, headers; ``length`` is the Content-Length
    claimed (default: the body's), and the connection is closed after a short body."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None


FileFn = Callable[[str | None, int], Answer]


def serve(data: bytes) -> FileFn:
    """A well-behaved storage host for ``data`` (Range requests answered with 206/416)."""

    def answer(rng: str | None, n: int) -> Answer:
        if rng is None:
            return Answer(200, data)
        m = re.fullmatch(r"bytes=(\d+)-", rng)
        start = int(m.group(1)) if m else 0
        if start >= len(data):
            return Answer(416, headers={"Content-Range": f"bytes */{len(data)}"})
        return Answer(
            206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        )

    return answer


@dataclass
class Wire:
    base: str = ""
    data: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, FileFn] = field(default_factory=dict)
    listing: list[str] | None = None  # paths (or URLs) the job lists; default: data's
    results: list[tuple[int, bytes]] = field(default_factory=list)
    export: tuple[int, bytes] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)

    def put(self, path: str, data: bytes) -> None:
        self.data[path] = data
        self.files[path] = serve(data)

    @property
    def exports(self) -> int:
        return sum(1 for r in self.requests if r["action"] == "exportData")

    def urls(self) -> list[str]:
        paths = self.listing if self.listing is not None else list(self.data)
        return [p if "://" in p else self.base + p for p in paths]

    def finished(self, **over: Any) -> bytes:
        """A FINISHED answer listing the files, with the true counts unless overridden
        (a value of DROP leaves the field out; a ``str`` value is written raw, as JSON)."""
        item: dict[str, Any] = {
            "success": True,
            "jobId": JOB,
            "state": "FINISHED",
            "files": self.urls(),
            "numSessions": sum(d.count(b"\n") for d in self.data.values()),
            "numBytes": sum(len(d) for d in self.data.values()),
        }
        raw: dict[str, str] = {}
        for k, v in over.items():
            if v is DROP:
                item.pop(k, None)
            elif isinstance(v, Raw):
                raw[k] = v.text
                item[k] = f"@@{k}@@"
            else:
                item[k] = v
        text = json.dumps({"response": [item]})
        for k, v in raw.items():
            text = text.replace(f'"@@{k}@@"', v)
        return text.encode()

    def fetch(self, cache: Path, **kw: Any) -> Any:
        from leanplum_notebook import fetch

        now = [NOW]  # the clock moves only when the pipeline sleeps: deadlines still pass

        def sleep(seconds: float) -> None:
            now[0] += seconds

        args: dict[str, Any] = {
            "app_id": APP,
            "export_key": KEY,
            "api_url": self.base + "/api",
            "cache_dir": cache,
            "clock": lambda: now[0],
            "sleep": sleep,
            "progress": False,
            "timeout": 30,
        }
        args.update(kw)
        return fetch(FIRST, LAST, **args)


@dataclass(frozen=True)
class Raw:
    """A field value written into the answer as raw JSON text (``1e400``, deep nesting)."""

    text: str


def envelope(**item: Any) -> bytes:
    return json.dumps({"response": [item]}).encode()


@pytest.fixture
def wire() -> Iterator[Wire]:
    state = Wire()
    for p in sorted(GOLDEN.iterdir()):
        state.put(f"/leanplum_export/{p.name}", p.read_bytes())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def send(self, a: Answer) -> None:
            self.send_response(a.status)
            for k, v in a.headers.items():
                self.send_header(k, v)
            length = len(a.body) if a.length is None else a.length
            if "Content-Length" not in a.headers:
                self.send_header("Content-Length", str(length))
            else:  # a header of the test's own: the body ends when the connection does
                self.close_connection = True
            self.end_headers()
            self.wfile.write(a.body)
            if length > len(a.body):  # a transfer cut short: the connection drops
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

        def do_POST(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "action": query.get("action", ""),
                    "query": query,
                    "body": body,
                }
            )
            if parts.path == "/api":
                if query.get("action") == "exportData":
                    status, out = state.export or (200, envelope(success=True, jobId=JOB))
                elif state.results:
                    status, out = (
                        state.results.pop(0) if len(state.results) > 1 else state.results[0]
                    )
                else:
                    status, out = 200, state.finished()
                self.send(Answer(status, out, {"Content-Type": "application/json"}))
                return
            fn = state.files.get(parts.path)
            n = state.hits.get(parts.path, 0)
            state.hits[parts.path] = n + 1
            self.send(fn(self.headers.get("Range"), n) if fn else Answer(404, b"gone"))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def kit() -> Any:
    """The helpers and constants of this suite (conftest modules are not importable)."""
    import types

    return types.SimpleNamespace(
        Answer=Answer,
        serve=serve,
        Raw=Raw,
        envelope=envelope,
        DROP=DROP,
        APP=APP,
        KEY=KEY,
        S3_ID=S3_ID,
        S3_SECRET=S3_SECRET,
        SECRETS=SECRETS,
        NOW=NOW,
        FIRST=FIRST,
        LAST=LAST,
        JOB=JOB,
        GOLDEN=GOLDEN,
    )
