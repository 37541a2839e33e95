"""The simulated Leanplum export API: one ``/api`` endpoint and the export files, over HTTP.

:class:`Simulator` starts a ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread::

    with Simulator(seed=0) as sim:
        requests.get(sim.api_url, params={"appId": sim.app_id, "clientKey": sim.export_key,
                                          "apiVersion": "1.0.6", "action": "exportData",
                                          "startDate": "20260601"})

Nothing here runs at import time. The export key is never logged: request lines are logged
without their query string, and any ``clientKey``/``s3AccessKey`` text is redacted.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from .api import (
    INVALID_KEY_MESSAGE,
    JOB_NOT_FOUND_MESSAGE,
    QUOTA_MESSAGE,
    ApiError,
    envelope,
    error_body,
    pacific_day,
    parse_body,
    parse_query,
    require,
    validate_common,
    validate_export,
)
from .clock import SimClock
from .config import AppConfig, make_apps
from .faults import FaultConfig, FaultInjector
from .generator import DataConfig, Generator
from .jobs import JobManager

__all__ = ["SimStats", "Simulator"]

logger = logging.getLogger(__name__)

DAILY_EXPORT_LIMIT = 24
MAX_BODY_BYTES = 1 << 20
_CHUNK = 1 << 20
_ACTIONS = ("exportData", "getExportResults")
_SECRET_RE = re.compile(r"((?:clientKey|s3AccessKey)=)[^&\s'\"]*", re.IGNORECASE)
_HTML_500 = (
    b"<!DOCTYPE html><html><head><title>500 Server Error</title></head><body>"
    b"<h1>Error: Server Error</h1><p>The server encountered an error and could not complete "
    b"your request. Please try again in 30 seconds.</p></body></html>"
)


def redact(text: str) -> str:
    """``text`` with the values of ``clientKey=`` and ``s3AccessKey=`` replaced by ``***``."""
    return _SECRET_RE.sub(r"\1***", text)


@dataclass
class SimStats:
    """Counters of what the simulator saw (read them, don't write them).

    Attributes
    ----------
    calls : Counter
        ``/api`` calls by ``action`` (``"other"`` for unknown or missing ones).
    exports_accepted : Counter
        Accepted ``exportData`` calls by ``(app_id, Pacific day ISO date)``: the quota ledger.
    downloads : int
        File requests answered (any status).
    faults : Counter
        Faults injected, by kind.
    """

    calls: Counter[str] = field(default_factory=Counter)
    exports_accepted: Counter[tuple[str, str]] = field(default_factory=Counter)
    downloads: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    def exports_today(self, app_id: str, now: float) -> int:
        """Exports accepted for ``app_id`` on the Pacific day of ``now``."""
        return self.exports_accepted[(app_id, pacific_day(now).isoformat())]


class _DropConnection(Exception):
    """Raised inside a handler to close the socket without a complete answer."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: Simulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Through logging, not stderr; a client hanging up mid-request is routine.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            logger.debug("connection from %s ended: %s", client_address[0], type(exc).__name__)
        else:
            logger.error("error handling a request from %s", client_address[0], exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LeanplumSimulator/0.1"
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    # -- logging: never the query string, never a key ----------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s", redact(format % args))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        raw = getattr(self, "path", None)
        path = urlsplit(raw).path if isinstance(raw, str) else "-"
        logger.debug("%s %s -> %s", getattr(self, "command", None) or "-", path, code)

    # -- routing -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route(head=False)

    def do_POST(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def _route(self, *, head: bool) -> None:
        sim = self.server.simulator
        try:
            path = urlsplit(self.path).path
            if self.command == "POST" and path != "/api":
                self.close_connection = True  # its body is never read
            if path == "/api":
                if head:
                    self._send_json(405, error_body("Use GET or POST"))
                else:
                    self._api(sim)
            elif path.startswith("/leanplum_export/"):
                if self.command == "POST":
                    self._send_json(405, error_body("Use GET"))
                else:
                    self._download(sim, unquote(path[len("/leanplum_export/") :]), head=head)
            else:
                self._send_json(404, error_body("Not found"))
        except _DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            logger.exception("simulator error on %s %s", self.command, urlsplit(self.path).path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send_json(500, error_body("Internal simulator error"))

    # -- /api ----------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.command != "POST":
            return b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length_text = self.headers.get("Content-Length", "0") or "0"
        try:
            length = int(length_text)
        except ValueError:
            raise ApiError(400, "Invalid Content-Length") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise ApiError(413, f"Request body larger than {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ApiError(400, "Malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY_BYTES:
                raise ApiError(413, f"Request body larger than {MAX_BODY_BYTES} bytes")
            out += self.rfile.read(size)
            self.rfile.readline(1024)

    def _api(self, sim: Simulator) -> None:
        try:
            params = parse_query(urlsplit(self.path).query)
            # POST may mix URL and body arguments; the body wins on a clash.
            params.update(parse_body(self.headers.get("Content-Type", ""), self._read_body()))
        except ApiError as exc:
            sim._count_call("")
            self.close_connection = True
            self._send_json(exc.status, error_body(exc.message))
            return
        sim._count_call(params.get("action", ""))
        action = params.get("action", "")
        only = sim.faults.config.only_actions
        faults = sim._draw_faults("api") if only is None or action in only else []
        if "slow" in faults:
            time.sleep(sim.faults.config.slow_seconds)
        if self._answer_fault(sim, faults):
            return
        status, payload = sim._handle_api(params)
        if "drop_connection" in faults:
            # The request was handled (an exportData may have spent quota); the answer is lost.
            body = orjson.dumps(payload)
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            raise _DropConnection
        self._send_json(status, payload)

    def _answer_fault(self, sim: Simulator, faults: list[str]) -> bool:
        """Answer with an injected error instead of handling the request; True if done."""
        if "http_500_html" in faults:
            self._send_bytes(500, _HTML_500, "text/html; charset=UTF-8")
        elif "http_502_empty" in faults:
            self._send_bytes(502, b"", "text/html; charset=UTF-8")
        elif "http_429" in faults:
            body = orjson.dumps(error_body("Too Many Requests."))
            self._send_bytes(
                429,
                body,
                "application/json;charset=utf-8",
                extra={"Retry-After": str(sim.faults.config.retry_after)},
            )
        elif "success_false_200" in faults:
            body = orjson.dumps(error_body("Internal error, please try again"))
            self._send_bytes(200, body, "application/json;charset=utf-8")
        else:
            return False
        return True

    # -- files -----------------------------------------------------------------------------------

    def _download(self, sim: Simulator, name: str, *, head: bool) -> None:
        sim._count_download()
        jobs = sim._jobs_or_none()
        entry = jobs.file(name) if jobs is not None else None
        if entry is None:
            self._send_bytes(404, b"Not Found", "text/plain; charset=utf-8", head=head)
            return
        job, path = entry
        faults = [] if head else sim._draw_faults("download")
        if "slow" in faults:
            time.sleep(sim.faults.config.slow_seconds)
        if self._answer_fault(sim, faults):
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        range_header = self.headers.get("Range")
        parsed = _parse_range(range_header, size) if range_header else None
        if parsed == "unsatisfiable":
            self._send_bytes(
                416,
                b"Requested range not satisfiable",
                "text/plain; charset=utf-8",
                extra={"Content-Range": f"bytes */{size}"},
                head=head,
            )
            return
        if isinstance(parsed, tuple):
            start, end = parsed
            status = 206
        length = max(0, end - start + 1)
        if "truncate_file" in faults and length >= 2:
            # A clean-looking answer whose Content-Length (and body) is short: only a size
            # check against numBytes or Content-Range catches it.
            end = start + length // 2 - 1
            length = length // 2
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{job.job_id}-{size}"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head or length == 0:
            return
        to_send = length // 2 if "drop_download" in faults else length
        with path.open("rb") as fh:
            fh.seek(start)
            remaining = to_send
            while remaining > 0:
                chunk = fh.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)
        if to_send < length:
            raise _DropConnection

    # -- sending ---------------------------------------------------------------------------------

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send_bytes(status, orjson.dumps(payload), "application/json;charset=utf-8")

    def _send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        extra: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=`` range as inclusive (start, end), ``"unsatisfiable"``, or ``None`` to
    ignore the header (malformed or multi-range: the whole file is sent, as RFC 9110 allows)."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, end


class Simulator:
    """The bundled Leanplum export API, served over HTTP from a thread.

    Parameters
    ----------
    seed : int
        Seeds the apps' ids and keys, job ids, file names, row order and (through ``data``,
        when not given) the synthetic data.
    apps : list of AppConfig, optional
        The apps to serve; default: ``n_apps`` apps derived from ``seed``.
    n_apps : int
        How many apps to derive when ``apps`` is not given.
    clock : SimClock, optional
        The simulated "now"; default: real time.
    host, port : str, int
        Where to listen; port 0 picks a free port. Binds 127.0.0.1 unless told otherwise.
    max_file_bytes : int
        Files are split at this size (256 MB by default), on session boundaries.
    pending_seconds, running_seconds : float
        Real (monotonic) seconds a job stays PENDING, then at least RUNNING.
    data : DataConfig, optional
        Synthetic data settings for derived apps; default ``DataConfig(seed=seed)``.
    s3_endpoint_url : str, optional
        S3-compatible endpoint for the S3 copy (e.g. a local moto server); default AWS.
    allow_remote_callbacks : bool
        Allow ``callbackUrl`` hosts that are not loopback.
    faults : FaultConfig, optional
        Faults to inject (see :mod:`leanplum_notebook.simulator.faults`).
    daily_export_limit : int
        Accepted exports per app per Pacific day (24, like Leanplum).

    Notes
    -----
    An export whose selection is empty finishes with ``numSessions`` 0 and no files (JSON) or
    six header-only files (CSV). The export key is never logged.
    """

    def __init__(
        self,
        seed: int = 0,
        apps: list[AppConfig] | None = None,
        n_apps: int = 1,
        clock: SimClock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_file_bytes: int = 256 * 2**20,
        pending_seconds: float = 0.3,
        running_seconds: float = 0.7,
        data: DataConfig | None = None,
        s3_endpoint_url: str | None = None,
        allow_remote_callbacks: bool = False,
        faults: FaultConfig | None = None,
        daily_export_limit: int = DAILY_EXPORT_LIMIT,
    ) -> None:
        if max_file_bytes < 1:
            raise ValueError(f"max_file_bytes must be positive, got {max_file_bytes}")
        if pending_seconds < 0 or running_seconds < 0:
            raise ValueError("pending_seconds and running_seconds must be >= 0")
        self.seed = seed
        self.data = data if data is not None else DataConfig(seed=seed)
        self.apps: list[AppConfig] = (
            list(apps) if apps is not None else make_apps(seed, n_apps, self.data)
        )
        if not self.apps:
            raise ValueError("a Simulator needs at least one app")
        self._apps_by_id = {app.app_id: app for app in self.apps}
        if len(self._apps_by_id) != len(self.apps):
            raise ValueError("app ids must be unique")
        self.clock = clock if clock is not None else SimClock()
        self.host = host
        self._requested_port = port
        self.max_file_bytes = max_file_bytes
        self.pending_seconds = pending_seconds
        self.running_seconds = running_seconds
        self.s3_endpoint_url = s3_endpoint_url
        self.allow_remote_callbacks = allow_remote_callbacks
        self.faults = FaultInjector(faults)
        self.daily_export_limit = daily_export_limit
        self.stats = SimStats()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._jobs: JobManager | None = None
        self._workdir: Path | None = None
        self.generators: dict[str, Generator] = {}

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Build the data generators, bind the port and serve in a daemon thread."""
        if self._server is not None:
            return self
        history_end = self.clock.now()
        self.generators = {
            app.app_id: Generator(app.data, app.app_number, history_end) for app in self.apps
        }
        self._workdir = Path(tempfile.mkdtemp(prefix="leanplum-simulator-"))
        server = _Server((self.host, self._requested_port), _Handler)
        server.simulator = self
        self._server = server
        self._jobs = JobManager(
            seed=self.seed,
            clock_now=self.clock.now,
            workdir=self._workdir,
            base_url=self.base_url,
            generators=self.generators,
            max_file_bytes=self.max_file_bytes,
            pending_seconds=self.pending_seconds,
            running_seconds=self.running_seconds,
            s3_endpoint_url=self.s3_endpoint_url,
            allow_remote_callbacks=self.allow_remote_callbacks,
        )
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="leanplum-simulator",
            daemon=True,
        )
        self._thread.start()
        logger.info("simulator serving %s for %d app(s)", self.api_url, len(self.apps))
        return self

    def close(self) -> None:
        """Stop serving, stop the jobs and delete the files."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._jobs is not None:
            self._jobs.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        logger.info("simulator closed")

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.api_url if self._server is not None else "not started"
        return f"Simulator({where}, apps={[a.app_id for a in self.apps]})"

    # -- addresses and the first app -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port served on (only once started)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started: use start() or a with block")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>``."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The API endpoint, ``http://<host>:<port>/api``."""
        return f"{self.base_url}/api"

    @property
    def app_id(self) -> str:
        """The first app's ``appId``."""
        return self.apps[0].app_id

    @property
    def export_key(self) -> str:
        """The first app's Data Export key (``clientKey``)."""
        return self.apps[0].export_key

    def feed(
        self, bucket: Any, prefix: str = "", *, start: float | None = None, **config: Any
    ) -> Any:
        """A :class:`~leanplum_notebook.simulator.feed.FeedWriter` of the first app's
        automated export feed into ``bucket`` (a ``LocalBucket`` or ``S3Bucket``), a job
        every ``interval_hours`` (4) from ``start`` (default: 7 days ago on this clock);
        call ``run_until(sim.clock.now())`` to write the jobs due."""
        from .feed import FeedConfig, FeedWriter

        if not self.generators:
            raise RuntimeError("start the simulator first")
        now = self.clock.now()
        return FeedWriter(
            self.generators[self.app_id],
            bucket,
            prefix,
            start=now - 7 * 86400 if start is None else start,
            config=FeedConfig(**config),
            seed=self.seed,
        )

    @property
    def workdir(self) -> Path | None:
        """The temporary folder holding the export files (deleted on close)."""
        return self._workdir

    # -- used by the handler ---------------------------------------------------------------------

    def _jobs_or_none(self) -> JobManager | None:
        return self._jobs

    def _count_call(self, action: str) -> None:
        with self._lock:
            self.stats.calls[action if action in _ACTIONS else "other"] += 1

    def _count_download(self) -> None:
        with self._lock:
            self.stats.downloads += 1

    def _draw_faults(self, scope: str) -> list[str]:
        faults = self.faults.draw(scope)
        if faults:
            with self._lock:
                self.stats.faults.update(faults)
            logger.info("injecting fault(s) %s on a %s call", ",".join(faults), scope)
        return faults

    def _handle_api(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer one ``/api`` call: (HTTP status, JSON payload)."""
        try:
            app_id, client_key, action = validate_common(params)
            app = self._apps_by_id.get(app_id)
            if app is None or not hmac.compare_digest(
                client_key.encode("utf-8"), app.export_key.encode("utf-8")
            ):
                raise ApiError(403, INVALID_KEY_MESSAGE)
            if action == "exportData":
                return self._export_data(app, params)
            if action == "getExportResults":
                return self._get_export_results(app, params)
            raise ApiError(400, f"Unknown action: {action[:100]!r}")
        except ApiError as exc:
            return exc.status, error_body(exc.message)

    def _export_data(self, app: AppConfig, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        now = self.clock.now()
        export = validate_export(params, now, allow_remote_callbacks=self.allow_remote_callbacks)
        jobs = self._jobs
        if jobs is None:
            raise ApiError(503, "Simulator is shutting down")
        ledger_key = (app.app_id, pacific_day(now).isoformat())
        with self._lock:
            if self.stats.exports_accepted[ledger_key] >= self.daily_export_limit:
                raise ApiError(429, QUOTA_MESSAGE)
            self.stats.exports_accepted[ledger_key] += 1
        job_faults = self._draw_faults("job")
        job = jobs.submit(app, export, job_faults)
        return 200, envelope({"success": True, "jobId": job.job_id})

    def _get_export_results(
        self, app: AppConfig, params: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        job_id = require(params, "jobId")
        jobs = self._jobs
        job = jobs.get(app.app_id, job_id) if jobs is not None else None
        if job is None or jobs is None:
            raise ApiError(404, JOB_NOT_FOUND_MESSAGE)
        return 200, envelope(jobs.result(job))
