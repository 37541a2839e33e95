"""The per-day cache of exports, and the planner that decides what must be exported.

Layout (the loader depends on it)::

    <cache_root>/<app_id>/<format>/<window>/      window = "all" or "<startTime>-<endTime>"
        days.json                  {"YYYYmmdd": {"job_id": ..., "exported_at": <unix s>}}
        entries/<job_id>/entry.json
        entries/<job_id>/files/<file name>
        entries/<job_id>/parquet/  (the loader's)
    <cache_root>/<app_id>/quota.json

A day's status is derived when read: ``final`` when it was exported more than
:data:`~leanplum_notebook.dates.PROVISIONAL_DAYS` days after it ended, else
``provisional``. Every file is written to a temporary name and moved into place; an entry
is ``complete`` only once all its files are downloaded and checked, and ``days.json`` only
points at complete entries.

The planner (:func:`plan_days`, :func:`merge_ranges`) is pure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from leanplum_notebook.dates import day_status, format_day, parse_day
from leanplum_notebook.errors import CacheError
from leanplum_notebook.redaction import get_logger, redact_value
from leanplum_notebook.store.files import atomic_write_json, file_lock, read_json, safe_name

__all__ = [
    "BRIDGE_GAP_DAYS",
    "CacheEntry",
    "CacheRow",
    "DayPlan",
    "DayRecord",
    "Plan",
    "WindowCache",
    "clear_cache",
    "list_cache",
    "merge_ranges",
    "plan_days",
    "window_name",
]

logger = get_logger(__name__)

#: Cached days between two missing runs that are re-exported to save an export: one export
#: covering a gap of up to this many cached days costs bandwidth, two exports cost quota.
BRIDGE_GAP_DAYS = 7

DayStatus = Literal["final", "provisional", "missing", "refresh"]


def window_name(start_time: int | None, end_time: int | None) -> str:
    """The cache folder of a ``startTime``/``endTime`` window (``all`` when unbounded)."""
    if start_time is None and end_time is None:
        return "all"
    return f"{'' if start_time is None else start_time}-{'' if end_time is None else end_time}"


# ---------------------------------------------------------------- planner (pure)


@dataclass(frozen=True)
class DayRecord:
    """What ``days.json`` says about one day."""

    job_id: str
    exported_at: float


@dataclass(frozen=True)
class DayPlan:
    """One requested day and what will be done with it.

    ``status``: ``final`` / ``provisional`` (cached, reused), ``missing`` (to export),
    ``refresh`` (cached provisional, re-exported because ``refresh=True``).
    """

    day: date
    status: DayStatus
    job_id: str | None = None


@dataclass(frozen=True)
class Plan:
    """What a fetch would do, computed without any network call.

    Attributes
    ----------
    days : list of DayPlan
    exports : list of (date, date)
        Inclusive day ranges to export, fewest contiguous ranges.
    exports_needed : int
    """

    days: list[DayPlan]
    exports: list[tuple[date, date]]
    app_id: str = ""
    format: str = "json"
    window: str = "all"
    cache_dir: Path | None = None

    @property
    def exports_needed(self) -> int:
        """Number of exportData calls the fetch would spend."""
        return len(self.exports)

    def __str__(self) -> str:
        counts: dict[str, int] = {}
        for d in self.days:
            counts[d.status] = counts.get(d.status, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        ranges = ", ".join(f"{a:%Y%m%d}-{b:%Y%m%d}" for a, b in self.exports) or "none"
        return f"{len(self.days)} day(s): {parts}; exports needed: {self.exports_needed} ({ranges})"


def merge_ranges(
    days: Sequence[date], *, max_gap: int = BRIDGE_GAP_DAYS
) -> list[tuple[date, date]]:
    """Merge days into inclusive ranges, bridging gaps of at most ``max_gap`` days."""
    out: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if out and (day - out[-1][1]).days - 1 <= max_gap:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def plan_days(
    requested: Sequence[date],
    cached: Mapping[date, DayRecord],
    *,
    refresh: bool = False,
    max_gap: int = BRIDGE_GAP_DAYS,
    keep: Collection[date] = (),
) -> tuple[list[DayPlan], list[tuple[date, date]]]:
    """Decide, per requested day, whether to reuse the cache or export.

    Parameters
    ----------
    requested
        The days asked for.
    cached
        Days with a complete cache entry.
    refresh
        Re-export cached days that are provisional.
    keep
        Days never re-exported by ``refresh`` (they were just delivered, e.g. by a job
        this fetch resumed).

    Returns
    -------
    (list of DayPlan, list of (date, date))
        The per-day plan and the ranges to export.
    """
    plans: list[DayPlan] = []
    todo: list[date] = []
    for day in requested:
        record = cached.get(day)
        if record is None:
            plans.append(DayPlan(day, "missing"))
            todo.append(day)
            continue
        status = day_status(day, record.exported_at)
        if status == "provisional" and refresh and day not in keep:
            plans.append(DayPlan(day, "refresh", record.job_id))
            todo.append(day)
        else:
            plans.append(
                DayPlan(day, "final" if status == "final" else "provisional", record.job_id)
            )
    return plans, merge_ranges(todo, max_gap=max_gap)


# ---------------------------------------------------------------- entries


@dataclass
class CacheEntry:
    """``entry.json`` of one export job.

    ``days`` are the days the job is authoritative for: those it was asked to deliver,
    less any a later export took over. ``state`` is the job's last known state, or
    ``UNKNOWN`` (exportData sent, no answer: job id unknown), ``EXPIRED`` (files deleted
    before they were downloaded, or a job given up as stuck), ``REJECTED`` (its files
    never added up to what it announced: its days are exported again).
    ``failed_checks`` counts downloads whose files did not add up.
    """

    job_id: str
    request: dict[str, str]
    days: list[str]
    submitted_at: float
    state: str = "SUBMITTED"
    files: list[dict[str, Any]] = field(default_factory=list)
    num_sessions: int | None = None
    num_bytes: int | None = None
    finished_at: float | None = None
    downloaded_at: float | None = None
    complete: bool = False
    message: str = ""
    s3_copy_status: dict[str, Any] | None = None
    failed_checks: int = 0

    def to_json(self) -> dict[str, Any]:
        """The ``entry.json`` document."""
        return {
            "job_id": self.job_id,
            "request": self.request,
            "state": self.state,
            "files": self.files,
            "numSessions": self.num_sessions,
            "numBytes": self.num_bytes,
            "submitted_at": self.submitted_at,
            "finished_at": self.finished_at,
            "downloaded_at": self.downloaded_at,
            "days": self.days,
            "complete": self.complete,
            "message": self.message,
            "s3CopyStatus": self.s3_copy_status,
            "failed_checks": self.failed_checks,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CacheEntry:
        """Parse an ``entry.json`` document."""
        try:
            return cls(
                job_id=str(data["job_id"]),
                request=dict(data.get("request") or {}),
                days=[str(d) for d in data.get("days") or []],
                submitted_at=float(data.get("submitted_at") or 0.0),
                state=str(data.get("state") or "SUBMITTED"),
                files=list(data.get("files") or []),
                num_sessions=data.get("numSessions"),
                num_bytes=data.get("numBytes"),
                finished_at=data.get("finished_at"),
                downloaded_at=data.get("downloaded_at"),
                complete=bool(data.get("complete")),
                message=str(data.get("message") or ""),
                s3_copy_status=data.get("s3CopyStatus"),
                failed_checks=int(data.get("failed_checks") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CacheError(f"malformed entry.json: {exc}") from None

    @property
    def resumable(self) -> bool:
        """Submitted with a known job id, not yet complete, not given up on."""
        return not self.complete and self.state not in ("UNKNOWN", "EXPIRED", "FAILED", "REJECTED")

    @property
    def span(self) -> str:
        """The entry's days for messages: ``first..last``."""
        return f"{self.days[0]}..{self.days[-1]}" if self.days else "?..?"

    def day_dates(self) -> list[date]:
        """``days`` as dates."""
        return [parse_day(d, "days") for d in self.days]


class WindowCache:
    """The cache folder of one (app, format, window).

    Parameters
    ----------
    root
        Cache root.
    app_id, format, window
        Which folder (see :func:`window_name`).
    """

    def __init__(self, root: Path, app_id: str, format: str, window: str) -> None:
        self.root = Path(root)
        self.app_id = app_id
        self.format = format
        self.window = window
        self.dir = self.root / safe_name(app_id, what="app_id") / format / window
        self.days_path = self.dir / "days.json"
        self.entries_dir = self.dir / "entries"

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Exclusive use of this folder (one fetch at a time, across processes)."""
        with file_lock(self.dir / "fetch", timeout):
            yield

    def read_days(self) -> dict[date, DayRecord]:
        """``days.json`` as ``{date: DayRecord}``."""
        raw = read_json(self.days_path, default={})
        if not isinstance(raw, dict):
            raise CacheError(f"{self.days_path} is not a mapping; delete it to rebuild")
        out: dict[date, DayRecord] = {}
        for key, value in raw.items():
            try:
                out[parse_day(key, "days.json")] = DayRecord(
                    str(value["job_id"]), float(value["exported_at"])
                )
            except (KeyError, TypeError, ValueError):
                logger.warning("ignoring malformed day %r in %s", key, self.days_path)
        return out

    def set_days(self, days: Sequence[date], job_id: str, exported_at: float) -> None:
        """Point ``days`` at a (complete) entry. Call with the lock held.

        Entries that held some of these days before no longer list them, so each day
        belongs to one entry (a refresh, or a provisional day inside a bridged range, moves
        it to the newer export).
        """
        current = self.read_days()
        superseded: dict[str, set[str]] = {}
        for day in days:
            old = current.get(day)
            if old is not None and old.job_id != job_id:
                superseded.setdefault(old.job_id, set()).add(format_day(day))
            current[day] = DayRecord(job_id, exported_at)
        atomic_write_json(
            self.days_path,
            {
                format_day(d): {"job_id": r.job_id, "exported_at": r.exported_at}
                for d, r in sorted(current.items())
            },
        )
        for old_job, moved in superseded.items():
            entry = self.read_entry(old_job)
            if entry is not None:
                entry.days = [d for d in entry.days if d not in moved]
                self.write_entry(entry)

    def entry_dir(self, job_id: str) -> Path:
        """``entries/<job_id>``."""
        return self.entries_dir / safe_name(job_id, what="job_id")

    def files_dir(self, job_id: str) -> Path:
        """``entries/<job_id>/files``."""
        return self.entry_dir(job_id) / "files"

    def read_entry(self, job_id: str) -> CacheEntry | None:
        """The entry of a job, or None."""
        data = read_json(self.entry_dir(job_id) / "entry.json")
        return None if data is None else CacheEntry.from_json(data)

    def write_entry(self, entry: CacheEntry) -> None:
        """Write ``entry.json`` atomically (redacted: it holds text the server wrote)."""
        document = redact_value(entry.to_json())
        atomic_write_json(self.entry_dir(entry.job_id) / "entry.json", document)

    def entries(self) -> list[CacheEntry]:
        """Every entry in this folder, oldest first."""
        out = []
        if self.entries_dir.is_dir():
            for child in self.entries_dir.iterdir():
                data = read_json(child / "entry.json")
                if data is not None:
                    out.append(CacheEntry.from_json(data))
        return sorted(out, key=lambda e: e.submitted_at)

    def complete_days(self) -> dict[date, DayRecord]:
        """Days whose entry exists and is complete with all its files present, each at the
        size it was downloaded at (a file cut short on disk later makes its days missing)."""
        ok: dict[date, DayRecord] = {}
        checked: dict[str, bool] = {}
        for day, record in self.read_days().items():
            if record.job_id not in checked:
                entry = self.read_entry(record.job_id)
                checked[record.job_id] = (
                    entry is not None and entry.complete and self._files_whole(entry)
                )
            if checked[record.job_id]:
                ok[day] = record
        return ok

    def _files_whole(self, entry: CacheEntry) -> bool:
        folder = self.files_dir(entry.job_id)
        for f in entry.files:
            try:
                size = (folder / str(f["name"])).stat().st_size
            except (OSError, KeyError, TypeError):
                return False
            if f.get("size") is not None and size != f["size"]:
                return False
        return True


# ---------------------------------------------------------------- listing and clearing


@dataclass(frozen=True)
class CacheRow:
    """One cached day (see :func:`list_cache`)."""

    app_id: str
    format: str
    window: str
    day: date
    status: str
    job_id: str
    bytes: int
    path: Path


def _windows(root: Path, app_id: str | None) -> Iterator[WindowCache]:
    if not root.is_dir():
        return
    for app_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if app_id is not None and app_dir.name != safe_name(app_id, what="app_id"):
            continue
        for fmt_dir in sorted(p for p in app_dir.iterdir() if p.is_dir()):
            for win_dir in sorted(p for p in fmt_dir.iterdir() if p.is_dir()):
                yield WindowCache(root, app_dir.name, fmt_dir.name, win_dir.name)


def _dir_size(path: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            with suppress(OSError):
                total += (Path(dirpath) / name).stat().st_size
    return total


def list_cache(root: Path, *, app_id: str | None = None) -> list[CacheRow]:
    """Every cached day under a cache root.

    Returns
    -------
    list of CacheRow
        One row per (app, format, window, day), with the day's status and the size on
        disk of the entry that holds it.
    """
    rows = []
    for wc in _windows(Path(root), app_id):
        sizes: dict[str, int] = {}
        for day, rec in sorted(wc.read_days().items()):
            if rec.job_id not in sizes:
                sizes[rec.job_id] = _dir_size(wc.entry_dir(rec.job_id))
            rows.append(
                CacheRow(
                    app_id=wc.app_id,
                    format=wc.format,
                    window=wc.window,
                    day=day,
                    status=day_status(day, rec.exported_at),
                    job_id=rec.job_id,
                    bytes=sizes[rec.job_id],
                    path=wc.entry_dir(rec.job_id),
                )
            )
    return rows


def clear_cache(
    root: Path,
    *,
    app_id: str | None = None,
    before: date | None = None,
    lock_timeout: float = 60.0,
) -> int:
    """Remove cached days (all, or those before a day) and the entries left unused.

    The quota ledger is kept. Entries still waiting to be resumed are kept unless every
    day is cleared.

    Returns
    -------
    int
        Number of days removed.
    """
    removed = 0
    for wc in list(_windows(Path(root), app_id)):
        with wc.lock(lock_timeout):
            days = wc.read_days()
            keep = {d: r for d, r in days.items() if before is not None and d >= before}
            removed += len(days) - len(keep)
            atomic_write_json(
                wc.days_path,
                {
                    format_day(d): {"job_id": r.job_id, "exported_at": r.exported_at}
                    for d, r in sorted(keep.items())
                },
            )
            used = {r.job_id for r in keep.values()}
            for entry in wc.entries():
                if entry.job_id in used:
                    continue
                dates = entry.day_dates()
                if before is not None and entry.resumable and dates and min(dates) >= before:
                    continue  # still waiting to be resumed, and not being cleared
                shutil.rmtree(wc.entry_dir(entry.job_id), ignore_errors=True)
    if removed:
        logger.info("removed %d cached day(s) from %s", removed, root)
    return removed
