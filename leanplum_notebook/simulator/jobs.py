"""Export jobs: PENDING -> RUNNING -> FINISHED (or FAILED), files produced in a thread.

The session selection is a pure function (:func:`select_sessions`); the :class:`JobManager`
does the I/O around it: writing files into the simulator's temporary folder, the S3 copy and
the callback. Job durations are real monotonic seconds (so tests with a frozen simulated
clock still see jobs finish); the 24 h file expiry runs on the simulated clock.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from . import writers
from .api import ExportParams, envelope, pacific_day
from .callback import post_callback
from .config import AppConfig
from .generator import Generator, SessionRecord
from .s3 import S3CopyError, copy_to_s3

__all__ = ["FILE_RETENTION_SECONDS", "Job", "JobManager", "select_sessions"]

logger = logging.getLogger(__name__)

FILE_RETENTION_SECONDS = 24 * 3600
PENDING, RUNNING, FINISHED, FAILED = "PENDING", "RUNNING", "FINISHED", "FAILED"


def select_sessions(
    sessions_for_day: Callable[[date], list[SessionRecord]],
    start_date: date,
    end_date: date,
    start_time: float | None,
    end_time: float | None,
    now: float,
) -> list[SessionRecord]:
    """The sessions an export returns (spec 7.4), in generation order.

    A session is selected when its start's Pacific day is in ``start_date..end_date``, its
    availability time is in ``[start_time, end_time)`` (open ends when ``None``) and it is
    already available at ``now``. Days after ``now``'s Pacific day hold nothing available, so
    they are not asked for.
    """
    last = min(end_date, pacific_day(now) + timedelta(days=1))
    selected: list[SessionRecord] = []
    day = start_date
    while day <= last:
        for record in sessions_for_day(day):
            available = record.available_at
            if available > now:
                continue
            if start_time is not None and available < start_time:
                continue
            if end_time is not None and available >= end_time:
                continue
            selected.append(record)
        day += timedelta(days=1)
    return selected


@dataclass
class Job:
    """One export job and, once finished, its files."""

    job_id: str
    app: AppConfig
    params: ExportParams
    accepted_at: float  # simulated time of the exportData call: the selection's "now"
    stem: str  # export-<appNum>-<uuid4>
    shuffle_seed: str
    faults: frozenset[str] = frozenset()
    state: str = PENDING
    files: list[Path] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    num_sessions: int = 0
    num_bytes: int = 0
    s3_copy_status: dict[str, Any] | None = None
    error: str | None = None
    finished_at: float | None = None  # simulated time

    def result(self) -> dict[str, Any]:
        """The ``getExportResults`` item for this job (without the envelope)."""
        item: dict[str, Any] = {"success": True, "jobId": self.job_id, "state": self.state}
        if self.state == FINISHED:
            item["files"] = list(self.urls)
            item["numSessions"] = self.num_sessions
            item["numBytes"] = self.num_bytes
            if self.s3_copy_status is not None:
                item["s3CopyStatus"] = self.s3_copy_status
        elif self.state == FAILED:
            item["error"] = {"message": self.error or "Export job failed"}
        return item


class JobManager:
    """Runs jobs in background threads and keeps their files until the simulator closes."""

    def __init__(
        self,
        *,
        seed: int,
        clock_now: Callable[[], float],
        workdir: Path,
        base_url: str,
        generators: dict[str, Generator],
        max_file_bytes: int,
        pending_seconds: float,
        running_seconds: float,
        s3_endpoint_url: str | None,
        allow_remote_callbacks: bool,
    ) -> None:
        self._seed = seed
        self._now = clock_now
        self._workdir = workdir
        self._base_url = base_url.rstrip("/")
        self._generators = generators
        self._max_file_bytes = max_file_bytes
        self._pending = pending_seconds
        self._running = running_seconds
        self._s3_endpoint_url = s3_endpoint_url
        self._allow_remote_callbacks = allow_remote_callbacks
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._jobs: dict[str, Job] = {}
        self._files: dict[str, tuple[Job, Path]] = {}
        self._counters: dict[str, int] = {}
        self._threads: list[threading.Thread] = []

    # -- submission and lookup -------------------------------------------------------------

    def submit(self, app: AppConfig, params: ExportParams, faults: Iterable[str] = ()) -> Job:
        """Create a job for an accepted ``exportData`` call and start producing its files."""
        with self._lock:
            seq = self._counters.get(app.app_id, 0)
            self._counters[app.app_id] = seq + 1
            # Ids and names are deterministic in (seed, app, job counter), like the data.
            rng = random.Random(f"leanplum-simulator-job:{self._seed}:{app.app_number}:{seq}")
            job_id = f"export_{app.app_number}_{rng.getrandbits(64)}"
            stem = f"export-{app.app_number}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            job = Job(
                job_id=job_id,
                app=app,
                params=params,
                accepted_at=self._now(),
                stem=stem,
                shuffle_seed=f"leanplum-simulator-shuffle:{self._seed}:{app.app_number}:{seq}",
                faults=frozenset(faults),
            )
            self._jobs[job_id] = job
            thread = threading.Thread(target=self._run, args=(job,), name=job_id, daemon=True)
            self._threads.append(thread)
        thread.start()
        logger.info("job %s accepted (%s)", job_id, params.export_format)
        return job

    def get(self, app_id: str, job_id: str) -> Job | None:
        """The job ``job_id`` of app ``app_id``, or ``None``."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.app.app_id != app_id:
            return None
        return job

    def result(self, job: Job) -> dict[str, Any]:
        """A consistent snapshot of the job's ``getExportResults`` item."""
        with self._lock:
            return job.result()

    def file(self, name: str) -> tuple[Job, Path] | None:
        """The job and path behind a served file name, or ``None`` if unknown or expired."""
        with self._lock:
            entry = self._files.get(name)
        if entry is None:
            return None
        if self.expired(entry[0]):
            return None
        return entry

    def expired(self, job: Job) -> bool:
        """Whether ``job``'s files are gone: 24 h (simulated) after it finished."""
        if "expire_early" in job.faults:
            return True
        finished = job.finished_at
        return finished is not None and self._now() >= finished + FILE_RETENTION_SECONDS

    def close(self, timeout: float = 5.0) -> None:
        """Stop waiting jobs and join the worker threads."""
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- the worker --------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the simulator closes; return False if it did."""
        return not self._stop.wait(max(0.0, seconds))

    def _set(self, job: Job, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(job, key, value)

    def _run(self, job: Job) -> None:
        if not self._sleep(self._pending):
            return
        self._set(job, state=RUNNING)
        started = time.monotonic()
        error: str | None = None
        try:
            self._produce(job)
        except S3CopyError as exc:
            error = str(exc)
        except Exception:
            logger.exception("job %s failed while producing its files", job.job_id)
            error = "Export job failed: internal error in the simulator"
        if not self._sleep(self._running - (time.monotonic() - started)):
            return
        if "job_stuck" in job.faults:
            logger.info("job %s stays RUNNING (injected fault)", job.job_id)
            return
        if error is None and "job_fail" in job.faults:
            error = "Export job failed (injected fault)"
        if error is not None:
            self._set(job, state=FAILED, error=error, finished_at=self._now())
            logger.info("job %s FAILED", job.job_id)
        else:
            self._set(job, state=FINISHED, finished_at=self._now())
            logger.info("job %s FINISHED: %d sessions", job.job_id, job.num_sessions)
        if job.params.callback_url:
            post_callback(
                job.params.callback_url,
                envelope(self.result(job)),
                allow_remote=self._allow_remote_callbacks,
            )

    def _produce(self, job: Job) -> None:
        params = job.params
        generator = self._generators[job.app.app_id]
        records = select_sessions(
            generator.sessions_for_day,
            params.start_date,
            params.end_date,
            params.start_time,
            params.end_time,
            job.accepted_at,
        )
        random.Random(job.shuffle_seed).shuffle(records)  # the export is unordered
        lines = [record.line for record in records]
        directory = self._workdir / job.job_id
        directory.mkdir(parents=True, exist_ok=True)
        write = writers.write_csv if params.export_format == "csv" else writers.write_json
        if lines or params.export_format == "csv":
            files = write(lines, directory, job.stem, self._max_file_bytes)
        else:
            files = []  # an empty JSON export has no files (a CSV one has header-only files)
        if "corrupt_line" in job.faults and params.export_format == "json":
            _corrupt_one_line(files, random.Random(job.shuffle_seed))
        urls = [f"{self._base_url}/leanplum_export/{path.name}" for path in files]
        s3_status = None
        if params.s3 is not None:
            s3_status = copy_to_s3(
                files, urls, params.s3, stem=job.stem, endpoint_url=self._s3_endpoint_url
            )
        with self._lock:
            job.files = files
            job.urls = urls
            job.num_sessions = len(records)
            job.num_bytes = sum(path.stat().st_size for path in files)
            job.s3_copy_status = s3_status
            for path in files:
                self._files[path.name] = (job, path)


def _corrupt_one_line(files: list[Path], rng: random.Random) -> None:
    """Garble one line of one JSON file in place (the ``corrupt_line`` fault)."""
    candidates = [path for path in files if path.stat().st_size > 0]
    if not candidates:
        return
    path = rng.choice(candidates)
    lines = path.read_bytes().split(b"\n")
    indexes = [i for i, line in enumerate(lines) if len(line) > 2]
    if not indexes:
        return
    i = rng.choice(indexes)
    cut = max(1, len(lines[i]) // 2)
    lines[i] = lines[i][:cut] + b'\x00{"broken'  # not JSON any more, same file otherwise
    path.write_bytes(b"\n".join(lines))
