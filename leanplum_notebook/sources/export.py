"""``fetch()``: export (or reuse from the cache) a range of Pacific days, in one call.

It composes the pipeline: validate the arguments (nothing is spent on bad input), resume
jobs a previous fetch left unfinished, plan the days against the per-day cache, check the
quota ledger, call ``exportData`` for the fewest contiguous ranges, wait for the jobs,
download their files, record the days, and return an :class:`Export`.

One fetch at a time holds the lock of its (app, format, window) cache folder, so two
processes asking for the same days spend one export: the second waits, then finds the
days cached.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from leanplum_notebook.dates import (
    WINDOW_DAYS,
    day_range,
    day_status,
    format_day,
    pacific_day,
    parse_day,
)
from leanplum_notebook.errors import (
    ApiError,
    CacheError,
    ConfigError,
    ExportOutcomeUnknown,
    ExportTimeout,
    FilesExpired,
    IncompleteExport,
    InvalidAnswer,
    JobFailed,
    JobNotFound,
    NoMatchingData,
    QuotaExceeded,
    ValidationError,
)
from leanplum_notebook.load.tables import TableAttributes
from leanplum_notebook.models import ExportFormat, ExportPart, ExportRequest, JobStatus
from leanplum_notebook.redaction import get_logger
from leanplum_notebook.settings import Settings, check_method
from leanplum_notebook.store.cache import (
    CacheEntry,
    DayPlan,
    Plan,
    WindowCache,
    plan_days,
    window_name,
)
from leanplum_notebook.store.quota import QuotaLedger

if TYPE_CHECKING:
    import requests

    from leanplum_notebook.api.client import Client

__all__ = ["DayPlan", "Export", "Plan", "ProgressEvent", "fetch", "plan"]

logger = get_logger(__name__)


@dataclass(frozen=True)
class ProgressEvent:
    """What ``on_progress`` receives.

    ``stage`` is one of ``plan``, ``resume``, ``submitted``, ``poll``, ``download``,
    ``done``; ``done``/``total`` are bytes for ``download``.
    """

    stage: str
    message: str
    job_id: str | None = None
    state: str | None = None
    done: int | None = None
    total: int | None = None


class Export(TableAttributes[Any]):
    """The days a :func:`fetch` covers, their files, and the way to load them.

    Attributes
    ----------
    days : tuple of date
        The requested Pacific days.
    status : dict of date to str
        ``"final"`` or ``"provisional"`` (exported less than 9 days after the day: late
        sessions may still be missing; ``fetch(..., refresh=True)`` re-exports them).
    parts : list of ExportPart
        One per cache entry, with the days it is authoritative for.
    format : str
    app_id : str
    exports_spent : int
        exportData calls this fetch made (0 when everything came from the cache).
    plan : Plan
        What was planned.
    """

    def __init__(
        self,
        *,
        days: tuple[date, ...],
        status: dict[date, str],
        parts: list[ExportPart],
        format: str,
        app_id: str,
        exports_spent: int,
        plan: Plan,
    ) -> None:
        self.days = days
        self.status = status
        self.parts = parts
        self.format = format
        self.app_id = app_id
        self.exports_spent = exports_spent
        self.plan = plan
        self._tables: Any = None

    @property
    def files(self) -> list[Path]:
        """Every downloaded file of every part."""
        return [f for p in self.parts for f in p.files]

    @property
    def provisional_days(self) -> list[date]:
        """Days whose data may still grow."""
        return [d for d in self.days if self.status.get(d) == "provisional"]

    def __repr__(self) -> str:
        first, last = (self.days[0], self.days[-1]) if self.days else (None, None)
        prov = len(self.provisional_days)
        return (
            f"Export(app_id={self.app_id!r}, format={self.format!r}, days={first}..{last} "
            f"({len(self.days)} days, {prov} provisional), parts={len(self.parts)}, "
            f"files={len(self.files)}, exports_spent={self.exports_spent})"
        )

    def load(self, **kw: Any) -> Any:
        """Load the six tables: ``leanplum_notebook.load.load(self.parts, **kw)``."""
        from leanplum_notebook.load.loader import load

        return load(self.parts, **kw)

    @property
    def tables(self) -> Any:
        """The loaded tables (loaded once, on first use)."""
        if self._tables is None:
            self._tables = self.load()
        return self._tables

    def _get(self, name: str) -> Any:
        return self.tables[name]

    def joined(self, **kw: Any) -> Any:
        """Events joined with their sessions (see ``Tables.joined``)."""
        return self.tables.joined(**kw)


# ---------------------------------------------------------------- validation (pure)


@dataclass(frozen=True)
class _Args:
    days: list[date]
    format: ExportFormat
    start_time: int | None
    end_time: int | None
    window: str


#: Latest instant accepted for ``start_time``/``end_time`` (2100-01-01 UTC): anything later
#: is a unit mistake (milliseconds) or garbage, and the server would refuse it
MAX_UNIX_SECONDS = 4_102_444_800
#: A job still not finished this long after it was submitted is given up (the service keeps
#: export files 24 h, so a job that old is not coming back)
GIVE_UP_SECONDS = 24 * 3600
#: Downloads of one job whose files do not add up before it is set aside and re-exported
MAX_FAILED_CHECKS = 2
#: How long the service keeps a job's files (spec 7.13)
FILES_KEPT_SECONDS = 24 * 3600
#: Longest app id accepted (Leanplum's are ``app_`` and about 40 characters)
MAX_APP_ID = 200


def _as_seconds(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(name, f"expected Unix seconds (int), got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(name, f"expected a finite number of Unix seconds, got {value!r}")
    if value < 0 or value > MAX_UNIX_SECONDS:
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:40]}..."
        raise ValidationError(
            name, f"expected Unix seconds between 0 and {MAX_UNIX_SECONDS} (year 2100), got {shown}"
        )
    return int(value)


def _check_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError("timeout", f"expected seconds (a number), got {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        seconds = math.inf
    if not math.isfinite(seconds) or seconds <= 0:
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:40]}..."
        raise ValidationError(
            "timeout", f"must be a positive, finite number of seconds, got {shown}"
        )
    return seconds


def _check_app_id_arg(value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise ValidationError("app_id", f"expected text ('app_...'), got {type(value).__name__}")
    if len(value) > MAX_APP_ID:
        raise ValidationError(
            "app_id", f"{value[:20]!r}... is {len(value)} characters; an app id is shorter"
        )


def _check_cache_dir_arg(value: object) -> None:
    if value is None:
        return
    if not isinstance(value, (str, os.PathLike)):
        raise ValidationError(
            "cache_dir", f"expected a folder path (str or Path), got {type(value).__name__}"
        )
    text = os.fspath(value)
    if not isinstance(text, str):
        raise ValidationError("cache_dir", "expected a folder path as text, got bytes")
    if "\x00" in text:
        raise ValidationError("cache_dir", "the path contains a NUL byte")


def _validate(
    start: object,
    end: object,
    format: str,
    start_time: object,
    end_time: object,
    now: float,
    **request_extra: Any,
) -> _Args:
    """The checked arguments of ``plan``/``fetch``; ``request_extra`` (S3, callback) is
    checked by the same one ExportRequest that checks the days, format and time window."""
    first = parse_day(start, "start")
    last = first if end is None else parse_day(end, "end")
    t0 = _as_seconds(start_time, "start_time")
    t1 = _as_seconds(end_time, "end_time")
    fmt = cast(ExportFormat, format)
    # the request checks its own days, format and time window: one definition of each
    ExportRequest(first, last, fmt, t0, t1, **request_extra)
    today = pacific_day(now)
    if last > today:
        raise ValidationError(
            "end", f"{last:%Y%m%d} is in the future (today in US Pacific time is {today:%Y%m%d})"
        )
    return _Args(day_range(first, last), fmt, t0, t1, window_name(t0, t1))


def _check_window(ranges: Sequence[tuple[date, date]], args: _Args, now: float) -> None:
    """The 60-day rule (spec 7.5), for the days that need an export."""
    today = pacific_day(now)
    for first, _ in ranges:
        if (today - first).days > WINDOW_DAYS:
            raise ValidationError(
                "start",
                f"{first:%Y%m%d} is {(today - first).days} days before today ({today:%Y%m%d}, "
                f"Pacific) and is not cached; the API refuses data older than {WINDOW_DAYS} days",
            )
    if ranges and args.start_time is not None and now - args.start_time > WINDOW_DAYS * 86400:
        raise ValidationError(
            "start_time", f"{args.start_time} is more than {WINDOW_DAYS} days before now"
        )


def _resolve(
    settings: Settings | None,
    app_id: str | None,
    export_key: str | None,
    api_url: str | None,
    cache_dir: str | os.PathLike[str] | None,
    method: str | None = None,
) -> Settings:
    _check_app_id_arg(app_id)
    _check_cache_dir_arg(cache_dir)
    if method is not None:
        method = check_method(method)
    if settings is None:
        return Settings.resolve(
            app_id, export_key, api_url, cache_dir, method=method, require_key=False
        )
    changes: dict[str, Any] = {}
    if method:
        changes["method"] = method
    if app_id:
        changes["app_id"] = app_id
    if export_key:
        changes["export_key"] = export_key
    if api_url:
        changes["api_url"] = api_url
    if cache_dir is not None:
        changes["cache_dir"] = Path(cache_dir).expanduser()
    return dataclasses.replace(settings, **changes) if changes else settings


def _check_cache_dir(root: Path, *, create: bool = True) -> Path:
    """The cache root is (or can become) a writable folder; ValidationError('cache_dir').

    With ``create=False`` (planning) nothing is created: the first existing folder on the
    way must be a folder.
    """
    try:
        if root.exists() and not root.is_dir():
            raise ValidationError("cache_dir", f"{root} exists and is not a folder")
        if not create:
            for parent in (root, *root.parents):
                if parent.exists():
                    if not parent.is_dir():
                        raise ValidationError("cache_dir", f"{parent} is not a folder")
                    break
            return root
        root.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:  # too long a name, a file on the way, a NUL byte
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError("cache_dir", f"cannot use {str(root)[:200]!r}: {why}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise ValidationError("cache_dir", f"{root} is not writable")
    return root


def plan(
    start: date | str,
    end: date | str | None = None,
    *,
    format: str = "json",
    start_time: int | None = None,
    end_time: int | None = None,
    refresh: bool = False,
    app_id: str | None = None,
    settings: Settings | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> Plan:
    """What :func:`fetch` would do, without any network call.

    Returns
    -------
    Plan
        ``days`` (each ``final``/``provisional`` cached, ``missing`` or ``refresh``),
        ``exports`` (the day ranges to export) and ``exports_needed``.

    Raises
    ------
    ValidationError
        The same argument checks as :func:`fetch`, including the 60-day rule for days
        that would need an export.
    """
    now = clock()
    args = _validate(start, end, format, start_time, end_time, now)
    cfg = _resolve(settings, app_id, None, None, cache_dir)
    _check_cache_dir(cfg.cache_dir, create=False)
    wc = WindowCache(cfg.cache_dir, cfg.app_id, args.format, args.window)
    days, ranges = plan_days(args.days, wc.complete_days(), refresh=refresh)
    _check_window(ranges, args, now)
    return Plan(days, ranges, cfg.app_id, args.format, args.window, cfg.cache_dir)


# ---------------------------------------------------------------- fetch


class _Fetch:
    """One fetch's state (kept out of the public function for readability)."""

    def __init__(
        self,
        cfg: Settings,
        wc: WindowCache,
        args: _Args,
        *,
        request_extra: dict[str, Any],
        session: requests.Session | None,
        progress: bool,
        on_progress: Callable[[ProgressEvent], None] | None,
        deadline: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.cfg = cfg
        self.wc = wc
        self.args = args
        self.request_extra = request_extra
        self.session = session
        self.progress = progress
        self.on_progress = on_progress
        self.deadline = deadline
        self.clock = clock
        self.sleep = sleep
        self.ledger = QuotaLedger(wc.root / wc.dir.relative_to(wc.root).parts[0], clock=clock)
        self.spent = 0
        self._client: Client | None = None

    def emit(self, stage: str, message: str, **kw: Any) -> None:
        logger.debug("%s: %s", stage, message)
        if self.on_progress is not None:
            self.on_progress(ProgressEvent(stage, message, **kw))

    @property
    def client(self) -> Client:
        if self._client is None:
            if not self.cfg.export_key:
                raise ConfigError(
                    "missing Leanplum export key (needed to export days that are not cached): "
                    "pass export_key=..., or set the environment variable LEANPLUM_EXPORT_KEY, "
                    "or put LEANPLUM_EXPORT_KEY=... in a .env file"
                )
            from leanplum_notebook.api.client import Client

            self._client = Client(self.cfg, session=self.session, sleep=self.sleep)
        return self._client

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())

    # -- resume

    def resume_pending(self) -> set[date]:
        """Resume unfinished jobs of the wanted days; return the days they delivered."""
        delivered: set[date] = set()
        wanted = set(self.args.days)
        complete = set(self.wc.complete_days())
        for entry in self.wc.entries():
            if entry.state == "UNKNOWN":
                if (wanted & set(entry.day_dates())) - complete:
                    logger.warning(
                        "an earlier exportData for %s got no answer (job id unknown); it may "
                        "have spent one export",
                        entry.span,
                    )
                continue
            if not entry.resumable or not wanted & set(entry.day_dates()):
                continue
            if self.given_up(entry):
                continue
            self.emit("resume", f"resuming job {entry.job_id}", job_id=entry.job_id)
            logger.info("resuming export job %s (submitted earlier, not downloaded)", entry.job_id)
            try:
                self.finish(entry)
            except FilesExpired as exc:
                self.expired(entry, str(exc))
            delivered.update(entry.day_dates())
        return delivered

    def given_up(self, entry: CacheEntry) -> bool:
        """True (and the entry marked EXPIRED) for a job too old to be worth resuming.

        A job still not FINISHED a day after it was submitted is dead (the service keeps
        files 24 h; resuming it would time out on every fetch forever): its days are planned
        again, which costs an export. One status call first, so a job that did finish late
        is still downloaded.
        """
        age = self.clock() - entry.submitted_at
        if age <= GIVE_UP_SECONDS:
            return False
        try:
            state = self.client.get_export_results(entry.job_id).state
        except JobNotFound:
            state = "unknown to the server"
        if state in ("FINISHED", "FAILED"):
            return False  # finish() downloads it, or records the failure
        hours = age / 3600
        entry.state = "EXPIRED"
        entry.message = f"still {state} {hours:.0f} h after it was submitted: given up"
        self.wc.write_entry(entry)
        logger.warning(
            "export job %s (days %s) is still %s %.0f h after it was submitted; it is given "
            "up and its days are exported again (this costs an export)",
            entry.job_id,
            entry.span,
            state,
            hours,
        )
        return True

    def expired(self, entry: CacheEntry, why: str) -> None:
        entry.state, entry.message = "EXPIRED", why
        self.wc.write_entry(entry)
        now = self.clock()
        _, ranges = plan_days(self.args.days, self.wc.complete_days())
        old = [r for r in ranges if (pacific_day(now) - r[0]).days > WINDOW_DAYS]
        cost = f"fetching these days again costs {len(ranges)} export(s)"
        if old:
            cost += f" (some are now older than {WINDOW_DAYS} days and cannot be exported again)"
        raise FilesExpired(
            f"export job {entry.job_id} (days {entry.span}) was submitted "
            f"but its files expired before they were downloaded ({why}); {cost}. The job is "
            "marked expired, so the next fetch re-exports them."
        )

    # -- one job from submission to complete

    def finish(self, entry: CacheEntry) -> None:
        from leanplum_notebook.api.download import download_files
        from leanplum_notebook.api.polling import wait

        def on_poll(status: JobStatus) -> None:
            self.emit(
                "poll",
                f"job {entry.job_id} {status.state}",
                job_id=entry.job_id,
                state=status.state,
            )

        try:
            status = wait(
                entry.job_id,
                self.client.get_export_results,
                deadline=self.remaining(),
                clock=self.clock,
                sleep=self.sleep,
                progress=self.progress,
                on_poll=on_poll,
            )
        except ExportTimeout as exc:
            raise ExportTimeout(
                exc.job_id,
                f"{exc}. A job still not finished {GIVE_UP_SECONDS // 3600} h after it was "
                "submitted is given up, and the fetch after that exports its days again "
                "(1 more export)",
            ) from None
        except JobFailed as exc:
            entry.state, entry.message, entry.finished_at = "FAILED", exc.message, self.clock()
            self.wc.write_entry(entry)
            raise
        except JobNotFound as exc:
            raise FilesExpired(f"the server no longer knows the job ({exc.message})") from None
        entry.state = "FINISHED"
        entry.finished_at = entry.finished_at or self.clock()  # the files' 24 h run from it
        entry.num_sessions = status.num_sessions
        entry.num_bytes = status.num_bytes
        entry.files = [{"url": u, "name": None, "size": None} for u in status.files]
        entry.s3_copy_status = status.s3_copy_status
        if status.s3_copy_status and status.s3_copy_status.get("failure"):
            logger.warning(
                "the S3 copy of job %s partly failed: %s",
                entry.job_id,
                status.s3_copy_status["failure"],
            )
        self.wc.write_entry(entry)
        self.check_listing(entry, status)

        def on_bytes(done: int, total: int | None) -> None:
            self.emit("download", f"{done} bytes", job_id=entry.job_id, done=done, total=total)

        try:
            entry.files = download_files(
                status.files,
                self.wc.files_dir(entry.job_id),
                session=self.client.session,
                expected_bytes=status.num_bytes,
                progress=self.progress,
                sleep=self.sleep,
                on_bytes=on_bytes,
                verify=lambda files: self.check_sessions(entry, files),
            )
        except IncompleteExport as exc:
            self.incomplete(entry, str(exc))
        entry.downloaded_at = self.clock()
        entry.complete = True  # the marker, written last (after every file is in place)
        self.wc.write_entry(entry)
        self.wc.set_days(entry.day_dates(), entry.job_id, entry.submitted_at)

    # -- the proof that a job's files are its whole export

    def check_listing(self, entry: CacheEntry, status: JobStatus) -> None:
        """A FINISHED job listing no files while announcing data is an error, not an empty
        day: it is set aside, and its days are exported again."""
        if status.files or not (status.num_sessions or status.num_bytes):
            return
        entry.state = "REJECTED"
        entry.message = (
            f"FINISHED with no files, but announced numSessions={status.num_sessions} and "
            f"numBytes={status.num_bytes}"
        )
        self.wc.write_entry(entry)
        raise InvalidAnswer(
            200,
            f"export job {entry.job_id} (days {entry.span}) is {entry.message}. Nothing was "
            f"kept; the next fetch of these days exports them again (1 export)",
            "getExportResults",
        )

    def check_sessions(self, entry: CacheEntry, files: list[tuple[str, Path]]) -> None:
        """The files hold the sessions the job announced, or the set is refused (and the
        files are removed, since their bytes were all there: only a new download can
        differ)."""
        from leanplum_notebook.load.count import count_sessions

        if entry.num_sessions is None:
            return
        found = count_sessions(files, self.args.format)
        if found != entry.num_sessions:
            for _, path in files:
                path.unlink(missing_ok=True)
            raise IncompleteExport(
                f"the job announced numSessions={entry.num_sessions:,} but its "
                f"{len(files)} file(s) hold {found:,} session(s)"
            )

    def incomplete(self, entry: CacheEntry, why: str) -> None:
        """Record a download whose files do not add up, and raise saying what comes next:
        one more download while the files exist; after a second failure, a new export."""
        entry.failed_checks += 1
        entry.message = why
        if entry.failed_checks >= MAX_FAILED_CHECKS:
            entry.state = "REJECTED"
            then = (
                f"after {entry.failed_checks} downloads that do not add up the job is set "
                "aside: the next fetch of these days exports them again (1 export)"
            )
        else:
            until = datetime.fromtimestamp(
                (entry.finished_at or self.clock()) + FILES_KEPT_SECONDS, tz=timezone.utc
            )
            then = (
                "the next fetch of these days downloads the job's files again (no export) "
                f"while the service keeps them (until {until:%Y-%m-%d %H:%M} UTC); if they "
                "still do not add up, or are gone, it exports the days again (1 export)"
            )
        self.wc.write_entry(entry)
        raise IncompleteExport(
            f"export job {entry.job_id} (days {entry.span}): {why}. Nothing was kept as "
            f"complete; {then}"
        )

    # -- one new export

    def export(self, first: date, last: date, days: list[date]) -> None:
        request = ExportRequest(
            start_date=first,
            end_date=last,
            format=self.args.format,
            start_time=self.args.start_time,
            end_time=self.args.end_time,
            **self.request_extra,
        )
        client = self.client
        reservation = self.ledger.reserve()
        submitted_at = self.clock()
        try:
            job_id = client.export_data(request)
        except ExportOutcomeUnknown:
            self.ledger.unknown(reservation)
            self.spent += 1
            unknown = CacheEntry(
                job_id=f"unknown-{int(submitted_at)}-{os.getpid()}",
                request=request.public_dict(),
                days=[format_day(d) for d in days],
                submitted_at=submitted_at,
                state="UNKNOWN",
                message="exportData sent, no answer: job id unknown",
            )
            self.wc.write_entry(unknown)
            raise
        except QuotaExceeded as exc:
            self.ledger.mark_full(reservation)
            status = self.ledger.status(self.cfg.app_id)
            raise QuotaExceeded(
                exc.status,
                f"{exc.message}; the server says today's exports are spent. The quota resets at "
                f"{status.resets_at:%Y-%m-%d %H:%M %Z}",
                resets_at=status.resets_at,
            ) from None
        except NoMatchingData:
            self.ledger.release(reservation)
            empty = CacheEntry(
                job_id=f"nodata-{int(submitted_at)}-{os.getpid()}",
                request=request.public_dict(),
                days=[format_day(d) for d in days],
                submitted_at=submitted_at,
                state="FINISHED",
                num_sessions=0,
                num_bytes=0,
                finished_at=submitted_at,
                downloaded_at=submitted_at,
                complete=True,
                message="No matching data found.",
            )
            self.wc.write_entry(empty)
            self.wc.set_days(days, empty.job_id, submitted_at)
            return
        except (ApiError, ValidationError):
            self.ledger.release(reservation)  # refused, or never sent: nothing was spent
            raise
        self.ledger.confirm(reservation, job_id)
        self.spent += 1
        stale = self.wc.entry_dir(job_id)
        if stale.exists():
            # the server just created this job: anything under its id is left from another
            # server that reused the id (a restarted simulator); it must not be mistaken for
            # already-downloaded files
            logger.warning("replacing a stale cache entry with the same job id %s", job_id)
            shutil.rmtree(stale)
        entry = CacheEntry(
            job_id=job_id,
            request=request.public_dict(),
            days=[format_day(d) for d in days],
            submitted_at=submitted_at,
        )
        self.wc.write_entry(entry)  # recorded before waiting: a crash from here resumes it
        self.emit("submitted", f"export job {job_id} submitted", job_id=job_id)
        try:
            self.finish(entry)
        except FilesExpired as exc:
            # mark it now, so the next fetch re-exports at once instead of meeting the
            # expired files again; the message says what redoing costs
            self.expired(entry, str(exc))

    # -- the result

    def result(self, the_plan: Plan) -> Export:
        records = self.wc.read_days()
        by_job: dict[str, list[date]] = {}
        status: dict[date, str] = {}
        for day in self.args.days:
            rec = records.get(day)
            if rec is None:
                raise CacheError(f"day {day:%Y%m%d} is missing from {self.wc.days_path}")
            by_job.setdefault(rec.job_id, []).append(day)
            status[day] = day_status(day, rec.exported_at)
        parts = []
        for job_id, days in by_job.items():
            entry = self.wc.read_entry(job_id)
            if entry is None or not entry.complete:
                raise CacheError(f"cache entry {job_id} is missing or incomplete")
            files_dir = self.wc.files_dir(job_id)
            parts.append(
                ExportPart(
                    entry_dir=self.wc.entry_dir(job_id),
                    format=self.args.format,
                    files=tuple(files_dir / f["name"] for f in entry.files),
                    days=tuple(sorted(days)),
                    num_sessions=entry.num_sessions,
                    job_id=job_id,
                )
            )
        parts.sort(key=lambda p: p.days[0])
        return Export(
            days=tuple(self.args.days),
            status=status,
            parts=parts,
            format=self.args.format,
            app_id=self.cfg.app_id,
            exports_spent=self.spent,
            plan=the_plan,
        )


def fetch(
    start: date | str,
    end: date | str | None = None,
    *,
    format: str = "json",
    start_time: int | None = None,
    end_time: int | None = None,
    refresh: bool = False,
    app_id: str | None = None,
    export_key: str | None = None,
    api_url: str | None = None,
    method: str | None = None,
    settings: Settings | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    s3_bucket: str | None = None,
    s3_access_id: str | None = None,
    s3_access_key: str | None = None,
    s3_prefix: str | None = None,
    compress: bool = False,
    callback_url: str | None = None,
    progress: bool = True,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    timeout: float = 1800.0,
    session: requests.Session | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Export:
    """Export a range of Pacific days, reusing the local cache; one call.

    Parameters
    ----------
    start, end
        First and last Pacific day (``YYYYmmdd`` text or ``date``); ``end`` defaults to
        ``start``.
    format
        ``"json"`` or ``"csv"``.
    start_time, end_time
        Availability window (Unix seconds); a separate cache folder per window.
    refresh
        Re-export cached days that are still provisional (younger than 9 days when they
        were exported), to pick up late sessions.
    app_id, export_key, api_url, settings, cache_dir
        Credentials and places (default: environment ``LEANPLUM_*``, then ``.env``).
    method
        ``"post"`` (default; the key travels in a JSON body) or ``"get"`` (everything in
        the URL, for a gateway that drops bodies); default ``LEANPLUM_API_METHOD``.
    s3_bucket, s3_access_id, s3_access_key, s3_prefix, compress
        Ask the service to copy the files to S3 as well.
    callback_url
        URL the service POSTs to when a job ends.
    progress
        Show ``tqdm.auto`` bars.
    on_progress
        Called with a :class:`ProgressEvent` at each step.
    timeout
        Overall deadline in seconds for waiting on the cache lock and on the jobs
        (each download request has its own connect/read timeouts).
    session
        ``requests.Session`` to use.
    clock, sleep
        Time source (Unix seconds; decides "today" in Pacific) and sleeper.

    Returns
    -------
    Export
        ``days``, ``status`` (final/provisional per day), ``parts``, ``files``,
        ``exports_spent``, and ``load()`` / ``sessions`` / ``events``... for the tables.

    Raises
    ------
    ValidationError
        Bad arguments (before any request).
    ConfigError
        Missing app id, or missing export key when something must be exported.
    QuotaExceeded
        Not enough exports left today (refused locally, before any call) or the server
        says the quota is spent.
    JobFailed, ExportTimeout, FilesExpired, DownloadError, ExportOutcomeUnknown, ApiError
        See :mod:`leanplum_notebook.errors`.
    """
    now = clock()
    request_extra: dict[str, Any] = {
        "callback_url": callback_url,
        "s3_bucket": s3_bucket,
        "s3_access_id": s3_access_id,
        "s3_access_key": s3_access_key,
        "s3_prefix": s3_prefix,
        "compress": compress,
    }
    args = _validate(start, end, format, start_time, end_time, now, **request_extra)
    timeout = _check_timeout(timeout)
    cfg = _resolve(settings, app_id, export_key, api_url, cache_dir, method)
    _check_cache_dir(cfg.cache_dir)
    wc = WindowCache(cfg.cache_dir, cfg.app_id, args.format, args.window)
    run = _Fetch(
        cfg,
        wc,
        args,
        request_extra=request_extra,
        session=session,
        progress=progress,
        on_progress=on_progress,
        deadline=now + timeout,
        clock=clock,
        sleep=sleep,
    )
    with wc.lock(timeout):
        delivered = run.resume_pending()
        # days a resumed job just delivered are as fresh as a refresh would make them
        day_plans, ranges = plan_days(
            args.days, wc.complete_days(), refresh=refresh, keep=delivered
        )
        _check_window(ranges, args, clock())
        the_plan = Plan(day_plans, ranges, cfg.app_id, args.format, args.window, cfg.cache_dir)
        logger.info("plan: %s", the_plan)
        run.emit("plan", str(the_plan))
        if ranges:
            run.ledger.check(len(ranges))
        for first, last in ranges:
            days = _days_to_record(day_plans, first, last)
            run.export(first, last, days)
        result = run.result(the_plan)
    run.emit("done", repr(result))
    return result


def _days_to_record(day_plans: list[DayPlan], first: date, last: date) -> list[date]:
    """Days of an export range that will point at the new job: all but cached final ones."""
    return [p.day for p in day_plans if first <= p.day <= last and p.status != "final"]
