"""Leanplum's automated export feed, simulated: on its clock, a job every few hours in a bucket.

The layout Leanplum documents ("Reading and understanding exported sessions data", spec 3.3):
``<prefix>YYYYMMDD/export-<appNum>-<uuid>-output-<n>`` (JSON lines) or
``...-output<kind>-<n>`` (CSV, six kinds), the date folder being the Pacific day the job
*started*. A job holds every session that became available since the last successful job,
so one day's sessions are spread over several jobs (late ones arrive up to 8 days after).
When every file of a job is uploaded, a manifest is written last (``...-output-manifest``,
for CSV one per kind: ``...-outputsessions-manifest``): a JSON list of the job's keys.

Seeded faults: a job whose upload stops before its manifest (its sessions come again in
the next successful job), and a slow job, half uploaded at one step and finished at the next.

Destinations: a local folder (:class:`LocalBucket`) or an S3-compatible endpoint
(:class:`S3Bucket`, boto3; moto's server in the tests).
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from . import writers
from .generator import PACIFIC, Generator, SessionRecord

__all__ = ["FeedConfig", "FeedJob", "FeedWriter", "LocalBucket", "S3Bucket"]

logger = logging.getLogger(__name__)

#: Days before a job's window that may hold sessions becoming available in it (late ones)
LATE_DAYS = 9
CSV_KINDS = ("sessions", "states", "events", "eventparameters", "userattributes", "experiments")


class Bucket(Protocol):
    """Where the feed is written."""

    def put(self, key: str, data: bytes) -> None: ...


class LocalBucket:
    """A local folder standing for the bucket (keys are relative paths)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".uploading")
        tmp.write_bytes(data)
        tmp.replace(path)  # an object appears whole, as in S3


class S3Bucket:
    """An S3 bucket at an (S3-compatible) endpoint; credentials go to boto3 only."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        access_id: str = "testing",
        access_key: str = "testing",
    ) -> None:
        import boto3

        self.bucket = bucket
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_id,
            aws_secret_access_key=access_key,
            region_name="us-east-1",
        )

    def __repr__(self) -> str:
        return f"S3Bucket({self.bucket!r})"

    def create(self) -> S3Bucket:
        """Create the bucket (for a fresh local endpoint)."""
        self._client.create_bucket(Bucket=self.bucket)
        return self

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data)


@dataclass(frozen=True)
class FeedConfig:
    """How the feed runs.

    ``fail_jobs``: job numbers (from 0) whose upload stops before the manifest;
    ``slow_jobs``: job numbers uploaded half at their step and finished at the next.
    """

    interval_hours: float = 4.0
    format: str = "json"
    max_file_bytes: int = 256 * 1024 * 1024
    fail_jobs: frozenset[int] = frozenset()
    slow_jobs: frozenset[int] = frozenset()


@dataclass
class FeedJob:
    """One job of the feed, as written."""

    number: int
    started_at: float
    folder: str
    stem: str
    sessions: int
    keys: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    state: str = "complete"  # complete, failed (no manifest ever), uploading (slow)


class FeedWriter:
    """Writes the feed of one app up to a given time.

    Parameters
    ----------
    generator
        The app's session generator (the simulator's, so the API and the feed agree).
    bucket
        Destination.
    prefix
        Key prefix before the date folders (``""`` or ending in ``/``).
    start
        When the first job starts (Unix seconds); it holds the sessions that became
        available during the ``interval`` before it.
    """

    def __init__(
        self,
        generator: Generator,
        bucket: Bucket,
        prefix: str = "",
        *,
        start: float,
        config: FeedConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.generator = generator
        self.bucket = bucket
        self.prefix = prefix
        self.config = config or FeedConfig()
        self.start = float(start)
        self.seed = seed
        self.jobs: list[FeedJob] = []
        # sessions up to here are in a job whose manifest was written (or will be: slow)
        self.covered_until = self.start - self.config.interval_hours * 3600
        self._pending: list[tuple[FeedJob, list[tuple[str, bytes]]]] = []
        self._days: dict[Any, list[SessionRecord]] = {}  # the generator keeps only 8 days

    def run_until(self, now: float) -> list[FeedJob]:
        """Write every job that starts at or before ``now`` (and finish slow uploads)."""
        written: list[FeedJob] = []
        for job, rest in self._pending:
            for key, data in rest:
                self.bucket.put(key, data)
            self._manifests(job)
            job.state = "complete"
        self._pending.clear()
        step = self.config.interval_hours * 3600
        while self.start + len(self.jobs) * step <= now:
            written.append(self._job(len(self.jobs), self.start + len(self.jobs) * step))
        return written

    # -- one job

    def _records(self, until: float) -> list[SessionRecord]:
        first = datetime.fromtimestamp(self.covered_until, PACIFIC).date()
        day = first - timedelta(days=LATE_DAYS)
        last = datetime.fromtimestamp(until, PACIFIC).date()
        out: list[SessionRecord] = []
        while day <= last:
            if self.generator.first_day <= day <= self.generator.end_day:
                if day not in self._days:
                    self._days[day] = self.generator.sessions_for_day(day)
                for record in self._days[day]:
                    if self.covered_until < record.available_at <= until:
                        out.append(record)
            day += timedelta(days=1)
        return out

    def _job(self, number: int, started_at: float) -> FeedJob:
        rng = random.Random(f"leanplum-simulator-feed:{self.seed}:{number}")
        stem = (
            f"export-{self.generator.app_number}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        )
        folder = datetime.fromtimestamp(started_at, PACIFIC).strftime("%Y%m%d")
        records = self._records(started_at)
        rng.shuffle(records)
        job = FeedJob(number, started_at, folder, stem, len(records))
        self.jobs.append(job)
        files = self._files([r.line for r in records], stem)
        uploads = [(f"{self.prefix}{folder}/{name}", data) for name, data in files]
        job.keys = [key for key, _ in uploads]
        if number in self.config.fail_jobs:
            for key, data in uploads[: max(1, len(uploads) // 2)]:
                self.bucket.put(key, data)  # the upload stops: no manifest, ever
            job.state = "failed"
            logger.info("feed job %d: upload stopped before its manifest", number)
            return job
        self.covered_until = started_at
        if number in self.config.slow_jobs:
            half = max(1, len(uploads) // 2)
            for key, data in uploads[:half]:
                self.bucket.put(key, data)
            self._pending.append((job, uploads[half:]))
            job.state = "uploading"
            return job
        for key, data in uploads:
            self.bucket.put(key, data)
        self._manifests(job)
        return job

    def _files(self, lines: list[dict[str, Any]], stem: str) -> list[tuple[str, bytes]]:
        with tempfile.TemporaryDirectory(prefix="leanplum-feed-") as tmp:
            directory = Path(tmp)
            write: Callable[..., list[Path]] = (
                writers.write_csv if self.config.format == "csv" else writers.write_json
            )
            if lines or self.config.format == "csv":
                paths = write(lines, directory, stem, self.config.max_file_bytes)
            else:
                paths = []
            return [(p.name, p.read_bytes()) for p in paths]

    def _manifests(self, job: FeedJob) -> None:
        """The manifests, written last: one for JSON, one per kind for CSV."""
        base = f"{self.prefix}{job.folder}/{job.stem}"
        if self.config.format == "csv":
            for kind in CSV_KINDS:
                keys = [k for k in job.keys if f"-output{kind}-" in k]
                key = f"{base}-output{kind}-manifest"
                self.bucket.put(key, json.dumps(keys).encode())
                job.manifests.append(key)
        else:
            key = f"{base}-output-manifest"
            self.bucket.put(key, json.dumps(job.keys).encode())
            job.manifests.append(key)
