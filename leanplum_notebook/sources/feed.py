"""Leanplum's automated export feed as a source: the same tables, cache and metrics.

Many Leanplum customers get their raw data pushed to their own bucket on a schedule. Files
arrive as ``<prefix>YYYYMMDD/export-<appNum>-<uuid>-output-<n>`` (JSON lines) or
``...-output<kind>-<n>`` (CSV), the folder being the Pacific day the job *started*; each
job holds the sessions that became available since the last successful one, and its
manifest (``...-output-manifest``; for CSV one per kind) is written last. Files without a
manifest are a partial upload: they are reported, never read.

:meth:`Feed.sync` finds the complete jobs not yet ingested, downloads their files (several
at a time, each to a temporary name, size-checked, renamed when whole), parses each job once
into its Parquet cache and records it in a ledger, last: a sync that is killed resumes, and
a second sync downloads nothing. :meth:`Feed.load` gives the six tables by Pacific session
day from whichever jobs hold them; a session in two jobs is kept once (the newest job wins)
and counted in ``report.duplicates_removed``.

The bucket is any fsspec URL: ``s3://bucket/prefix/`` (s3fs; credentials from the AWS chain
or ``storage_options``), ``gs://...`` (when gcsfs is installed), or a local folder holding
the same layout. Credentials are remembered by the redaction layer and never shown.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from leanplum_notebook import schema
from leanplum_notebook.dates import day_range, day_status, parse_day
from leanplum_notebook.errors import DownloadError, ValidationError
from leanplum_notebook.models import ExportPart
from leanplum_notebook.redaction import get_logger, guard_loggers, remember, remember_options
from leanplum_notebook.settings import resolve_cache_dir
from leanplum_notebook.store.files import atomic_write_json, file_lock, read_json, safe_name

__all__ = ["Feed", "FeedExport", "FeedJob", "FeedStatus", "PartialJob", "SyncResult", "feed"]

logger = get_logger(__name__)

_FOLDER = re.compile(r"[0-9]{8}")
#: Loggers of the storage libraries, masked like ours
LIBRARY_LOGGERS = ("botocore", "aiobotocore", "s3fs", "gcsfs", "fsspec", "urllib3", "google")


@dataclass(frozen=True)
class FeedJob:
    """A job whose manifest is in the bucket: ``files`` are ``(path in the bucket, size)``."""

    folder: str
    stem: str
    format: str
    files: tuple[tuple[str, int], ...]
    uploaded_at: float

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.files)


@dataclass(frozen=True)
class PartialJob:
    """Files of a job without its manifest (an upload still going on, or one that failed:
    its sessions then come in a later job). Never read."""

    folder: str
    stem: str
    files: int
    age_seconds: float
    why: str = "no manifest"


@dataclass(frozen=True)
class FeedStatus:
    """What the bucket holds against what the cache has ingested.

    Attributes
    ----------
    jobs : list of FeedJob
        Complete jobs, oldest first.
    ingested : list of str
        Stems of the jobs already in the cache.
    partial : list of PartialJob
        Jobs without a manifest (never read).
    """

    url: str
    jobs: list[FeedJob]
    ingested: list[str]
    partial: list[PartialJob]

    @property
    def pending(self) -> list[FeedJob]:
        """Complete jobs not yet ingested."""
        done = set(self.ingested)
        return [job for job in self.jobs if job.stem not in done]

    def __str__(self) -> str:
        lines = [
            f"{self.url}: {len(self.jobs)} complete job(s), {len(self.ingested)} ingested, "
            f"{len(self.pending)} to sync ({sum(j.bytes for j in self.pending):,} bytes)"
        ]
        if self.partial:
            oldest = max(p.age_seconds for p in self.partial) / 3600
            lines.append(
                f"{len(self.partial)} partial job(s) without a manifest (not read; the oldest "
                f"{oldest:.1f} h old): "
                + ", ".join(f"{p.folder}/{p.stem}" for p in self.partial[:5])
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class SyncResult:
    """What a :meth:`Feed.sync` did."""

    jobs_ingested: int
    files_downloaded: int
    bytes_downloaded: int
    status: FeedStatus

    def __str__(self) -> str:
        return (
            f"synced {self.jobs_ingested} job(s): {self.files_downloaded} file(s), "
            f"{self.bytes_downloaded:,} bytes downloaded\n{self.status}"
        )


def _mtime(info: Mapping[str, Any]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return 0.0


def _base(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _manifest_names(raw: bytes, where: str) -> list[str]:
    """The file names a manifest lists (keys, URLs or objects with one of them)."""
    import orjson

    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise DownloadError(f"the manifest {where} is not JSON") from None
    items = data.get("files", data.get("entries")) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DownloadError(f"the manifest {where} is not a list of files")
    names = []
    for item in items:
        if isinstance(item, Mapping):
            item = next((item[k] for k in ("key", "url", "name", "file") if k in item), None)
        if not isinstance(item, str) or not item:
            raise DownloadError(f"the manifest {where} lists {str(item)[:60]!r}, not a file")
        names.append(_base(urlsplit(item).path or item))
    return names


class Feed:
    """Leanplum's automated export feed in a bucket (or a local folder of the same layout).

    Parameters
    ----------
    url
        ``s3://bucket/prefix/``, ``gs://bucket/prefix/``, any fsspec URL, or a local path.
    format
        ``"json"`` or ``"csv"``: which files of the feed to read.
    cache_dir
        Cache root (default ``LEANPLUM_CACHE_DIR``, else the platform's cache folder).
    storage_options
        Passed to fsspec (for S3: ``key``, ``secret``, ``endpoint_url``...); default: the
        usual credential chain. Secrets in it are never shown.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        format: str = "json",
        cache_dir: str | os.PathLike[str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(url, (str, os.PathLike)) or not os.fspath(url):
            raise ValidationError("url", "expected the feed's URL (s3://bucket/prefix/) or folder")
        if format not in ("json", "csv"):
            raise ValidationError("format", f"expected 'json' or 'csv', not {format!r}")
        self.url = os.fspath(url)
        self.format = format
        self.storage_options = dict(storage_options or {})
        remember_options(self.storage_options)
        parts = urlsplit(self.url)
        if parts.password or parts.query:
            remember(parts.password, parts.query)
        host = parts.hostname or ""
        self.shown = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else self.url
        self.clock = clock
        digest = sha256(f"{self.shown}|{format}".encode()).hexdigest()[:16]
        self.cache_root = resolve_cache_dir(cache_dir)
        self.dir = self.cache_root / "feeds" / f"{safe_name(_base(self.shown) or 'feed')}-{digest}"
        self._fs: Any = None

    def __repr__(self) -> str:
        return f"Feed({self.shown!r}, format={self.format!r}, ingested={len(self.ledger())})"

    def with_format(self, format: str) -> Feed:
        """The same feed, read in the other format (its own cache)."""
        return Feed(
            self.url,
            format=format,
            cache_dir=self.cache_root,
            storage_options=self.storage_options,
            clock=self.clock,
        )

    # -- the bucket

    @property
    def fs(self) -> Any:
        if self._fs is None:
            import fsspec

            fs, root = fsspec.core.url_to_fs(self.url, **self.storage_options)
            self._fs, self._root = fs, root.rstrip("/")
            # the storage libraries log requests (headers, signed URLs) at DEBUG
            guard_loggers(*LIBRARY_LOGGERS)
        return self._fs

    def _listing(self) -> dict[str, list[dict[str, Any]]]:
        fs = self.fs
        try:
            top = fs.ls(self._root, detail=True)
        except FileNotFoundError:
            raise ValidationError("url", f"{self.shown} does not exist") from None
        folders = sorted(
            _base(i["name"])
            for i in top
            if i.get("type") == "directory" and _FOLDER.fullmatch(_base(i["name"]))
        )
        return {f: fs.ls(f"{self._root}/{f}", detail=True) for f in folders}

    def scan(self) -> FeedStatus:
        """Read the bucket's listing and manifests: complete and partial jobs.

        Returns
        -------
        FeedStatus
            ``jobs`` (complete, oldest first), ``ingested``, ``pending``, ``partial``.
        """
        now = self.clock()
        known = self.ledger()
        jobs: list[FeedJob] = []
        partial: list[PartialJob] = []
        for folder, entries in self._listing().items():
            data: dict[str, dict[str, tuple[str, int, float]]] = {}
            manifests: dict[str, dict[str, tuple[str, float]]] = {}
            for info in entries:
                name, path = _base(info["name"]), info["name"]
                m = schema.MANIFEST_FILE.fullmatch(name)
                if m:
                    manifests.setdefault(m["stem"], {})[m["kind"]] = (path, _mtime(info))
                    continue
                m = (schema.JSON_FILE if self.format == "json" else schema.CSV_FILE).fullmatch(name)
                if m:
                    data.setdefault(m["stem"], {})[name] = (
                        path,
                        int(info.get("size") or 0),
                        _mtime(info),
                    )
            for stem in sorted(set(data) | set(manifests)):
                job = self._job(
                    folder, stem, data.get(stem, {}), manifests.get(stem, {}), known.get(stem)
                )
                if isinstance(job, FeedJob):
                    jobs.append(job)
                elif data.get(stem):
                    newest = max(t for _, _, t in data[stem].values())
                    partial.append(
                        PartialJob(folder, stem, len(data[stem]), max(0.0, now - newest), job)
                    )
        jobs.sort(key=lambda j: (j.folder, j.uploaded_at, j.stem))
        return FeedStatus(self.shown, jobs, list(self.ledger()), partial)

    def _job(
        self,
        folder: str,
        stem: str,
        data: dict[str, tuple[str, int, float]],
        manifests: dict[str, tuple[str, float]],
        ingested: Mapping[str, Any] | None = None,
    ) -> FeedJob | str:
        """The complete job, or why it is not complete (a job already ingested is taken
        from the ledger: its manifests are not read again)."""
        if self.format == "json":
            wanted = [""]
        else:
            kinds = {schema.CSV_FILE.fullmatch(n)["kind"] for n in data}  # type: ignore[index]
            wanted = sorted(kinds | {"sessions"})
        missing = [k for k in wanted if k not in manifests]
        if missing:
            return "no manifest" if len(missing) == len(wanted) else f"no manifest for {missing}"
        files: list[tuple[str, int]] = []
        try:
            names = (
                list(ingested["files"])
                if ingested is not None
                else [
                    name
                    for kind in wanted
                    for name in _manifest_names(
                        self.fs.cat_file(manifests[kind][0]),
                        f"{folder}/{_base(manifests[kind][0])}",
                    )
                ]
            )
        except DownloadError as exc:  # a broken manifest: that job waits, the others go on
            return str(exc)
        for name in names:
            if name not in data:
                return f"the manifest lists {name}, which is not in the bucket"
            files.append(data[name][:2])
        return FeedJob(
            folder, stem, self.format, tuple(files), max(t for _, t in manifests.values())
        )

    status = scan

    # -- the cache

    def ledger(self) -> dict[str, dict[str, Any]]:
        """Jobs ingested so far: ``{stem: {"folder", "files", "uploaded_at", ...}}``."""
        raw = read_json(self.dir / "ledger.json", default={})
        return raw if isinstance(raw, dict) else {}

    def sync(
        self, *, progress: bool = True, max_workers: int = 4, timeout: float = 600.0
    ) -> SyncResult:
        """Ingest the complete jobs not yet in the cache.

        Returns
        -------
        SyncResult
            ``jobs_ingested``, ``files_downloaded``, ``bytes_downloaded`` and the
            :class:`FeedStatus` after the sync (with the partial jobs left unread).
        """
        from tqdm.auto import tqdm

        with file_lock(self.dir / "sync", timeout):
            status = self.scan()
            todo = status.pending
            counts = [0, 0]
            with tqdm(
                total=sum(j.bytes for j in todo),
                unit="B",
                unit_scale=True,
                desc=f"Syncing {len(todo)} feed job(s)",
                disable=not progress or not todo,
            ) as bar:
                for job in todo:
                    got = self._ingest(job, max_workers=max_workers, advance=bar.update)
                    counts[0] += got[0]
                    counts[1] += got[1]
            if status.partial:
                logger.warning("%s", str(status).splitlines()[-1])
            after = FeedStatus(status.url, status.jobs, list(self.ledger()), status.partial)
        return SyncResult(len(todo), counts[0], counts[1], after)

    def _ingest(
        self, job: FeedJob, *, max_workers: int, advance: Callable[[int], Any]
    ) -> tuple[int, int]:
        from leanplum_notebook.load.loader import build_cache

        entry = self.dir / "jobs" / safe_name(job.stem, what="job")
        files = entry / "files"
        files.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()
        done = [0, 0]

        def fetch(item: tuple[str, int]) -> Path:
            remote, size = item
            local = files / safe_name(_base(remote))
            if local.is_file() and local.stat().st_size == size:
                advance(size)
                return local  # downloaded before a sync was stopped
            part = local.with_name(local.name + ".part")
            self.fs.get_file(remote, str(part))
            got = part.stat().st_size
            if got != size:
                part.unlink(missing_ok=True)
                raise DownloadError(f"{job.folder}/{local.name}: got {got:,} of {size:,} bytes")
            os.replace(part, local)
            with lock:
                done[0] += 1
                done[1] += size
            advance(size)
            return local

        pool = ThreadPoolExecutor(max_workers=max(1, max_workers))
        try:
            paths = list(pool.map(fetch, job.files))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # no download after a failure
            raise
        pool.shutdown()
        atomic_write_json(
            entry / "entry.json",
            {
                "job_id": job.stem,
                "folder": job.folder,
                "format": job.format,
                "finished_at": job.uploaded_at,
                "files": [{"name": p.name, "size": p.stat().st_size} for p in paths],
                "complete": True,
            },
        )
        build_cache(self._part(job.stem, job.format, paths))
        ledger = self.ledger()
        ledger[job.stem] = {
            "folder": job.folder,
            "format": job.format,
            "files": [p.name for p in paths],
            "uploaded_at": job.uploaded_at,
            "ingested_at": self.clock(),
        }
        atomic_write_json(self.dir / "ledger.json", ledger)  # last: a job counts once whole
        logger.info("feed job %s/%s ingested (%d files)", job.folder, job.stem, len(paths))
        return done[0], done[1]

    def _part(self, stem: str, format: str, paths: Sequence[Path]) -> ExportPart:
        entry = self.dir / "jobs" / safe_name(stem, what="job")
        return ExportPart(entry_dir=entry, format=format, files=tuple(paths), days=(), job_id=stem)  # type: ignore[arg-type]

    def parts(self) -> list[ExportPart]:
        """The ingested jobs as loader parts, oldest first (the newest wins a duplicate)."""
        items = sorted(
            self.ledger().items(), key=lambda kv: (kv[1]["folder"], kv[1]["uploaded_at"], kv[0])
        )
        out = []
        for stem, rec in items:
            folder = self.dir / "jobs" / safe_name(stem, what="job") / "files"
            out.append(self._part(stem, rec["format"], [folder / n for n in rec["files"]]))
        return out

    def export(self, start: Any, end: Any = None, *, progress: bool = True, **_: Any) -> FeedExport:
        """Sync, then the Pacific days ``start``..``end`` as a :class:`FeedExport`."""
        first = parse_day(start, "start")
        last = first if end is None else parse_day(end, "end")
        if last < first:
            raise ValidationError("end", f"{last:%Y%m%d} is before start {first:%Y%m%d}")
        return FeedExport(self, day_range(first, last), self.sync(progress=progress))

    def load(self, **kw: Any) -> Any:
        """The six tables of the ingested jobs: ``load(feed.parts(), days=..., ...)``.

        ``days`` selects sessions by their Pacific start day, whichever job holds them;
        ``engine="dask"`` gives Dask tables. Call :meth:`sync` first.
        """
        from leanplum_notebook.load.loader import load

        parts = self.parts()
        if not parts:
            raise ValidationError(
                "feed", f"nothing ingested from {self.shown} yet: call sync() first"
            )
        return load(parts, **kw)


class FeedExport:
    """Pacific days of a synced feed, shaped like :class:`~leanplum_notebook.export.Export`
    (what ``connect(feed=...).fetch(start, end)`` returns, so notebooks and the report run
    the same on either source).

    Attributes
    ----------
    days : tuple of date
    status : dict of date to str
        ``"provisional"`` until the newest ingested job is 9 days past the day (sessions
        arrive up to 8 days late), then ``"final"``.
    exports_spent : int
        Always 0: a feed spends none of the 24 daily exports.
    sync : SyncResult
        What the sync before it did.
    """

    exports_spent = 0

    def __init__(self, feed: Feed, days: Sequence[Any], sync: SyncResult) -> None:
        self.feed = feed
        self.days = tuple(days)
        self.sync = sync
        newest = max((j["uploaded_at"] for j in feed.ledger().values()), default=0.0)
        self.status = {d: day_status(d, newest) for d in self.days}
        self.format = feed.format
        self._tables: Any = None

    @property
    def parts(self) -> list[ExportPart]:
        """The ingested jobs (every one may hold sessions of these days)."""
        return self.feed.parts()

    @property
    def files(self) -> list[Path]:
        return [Path(f) for p in self.parts for f in p.files]

    @property
    def provisional_days(self) -> list[Any]:
        return [d for d in self.days if self.status[d] == "provisional"]

    def load(self, **kw: Any) -> Any:
        """The six tables of these days: ``feed.load(days=self.days, **kw)``."""
        kw.setdefault("days", self.days)
        return self.feed.load(**kw)

    @property
    def tables(self) -> Any:
        if self._tables is None:
            self._tables = self.load()
        return self._tables

    def __repr__(self) -> str:
        first, last = (self.days[0], self.days[-1]) if self.days else (None, None)
        return (
            f"FeedExport({self.feed.shown!r}, days={first}..{last} ({len(self.days)} days, "
            f"{len(self.provisional_days)} provisional), jobs={len(self.feed.ledger())})"
        )


def feed(url: str | os.PathLike[str], **kw: Any) -> Feed:
    """``Feed(url, ...)``: Leanplum's automated export feed as a source (see :class:`Feed`)."""
    return Feed(url, **kw)
