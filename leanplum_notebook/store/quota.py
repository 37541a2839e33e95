"""The quota ledger: accepted exports per app per Pacific day, shared by processes.

A JSON file ``<cache_root>/<app_id>/quota.json`` guarded by a ``filelock`` lock, so
several processes and kernels count together. An export is *reserved* before the call
(so two processes never both take the 24th) and *released* only when the server
definitely refused it; an export whose outcome is unknown stays counted.

The ledger only knows exports made through this toolkit with this cache folder; when the
server answers 429 "limit exceeded" the day is marked full (reconciliation).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from leanplum_notebook.dates import format_day, next_pacific_midnight, pacific_day
from leanplum_notebook.errors import CacheError, QuotaExceeded
from leanplum_notebook.redaction import get_logger
from leanplum_notebook.store.files import atomic_write_json, file_lock, read_json

__all__ = ["DAILY_LIMIT", "QuotaLedger", "QuotaStatus", "quota"]

logger = get_logger(__name__)

#: Accepted exportData calls per app per Pacific day (spec 7.11).
DAILY_LIMIT = 24


@dataclass(frozen=True)
class QuotaStatus:
    """Exports left today for one app, as this machine's ledger knows it.

    Attributes
    ----------
    app_id : str
    day : date
        Today in US Pacific time.
    used : int
        Exports spent (or possibly spent) today.
    limit : int
    remaining : int
    resets_at : datetime
        Next Pacific midnight (aware).
    """

    app_id: str
    day: date
    used: int
    limit: int
    remaining: int
    resets_at: datetime

    def __str__(self) -> str:
        return (
            f"{self.app_id}: {self.used} of {self.limit} exports used on {self.day:%Y-%m-%d} "
            f"(Pacific), {self.remaining} left; resets at "
            f"{self.resets_at:%Y-%m-%d %H:%M %Z}"
        )


@dataclass(frozen=True)
class Reservation:
    """A slot taken in the ledger before an exportData call."""

    day: str
    token: str


class QuotaLedger:
    """The ledger file of one app.

    Parameters
    ----------
    app_dir
        ``<cache_root>/<app_id>``.
    clock
        Unix-seconds clock deciding "today" (Pacific).
    limit
        Exports per day.
    """

    def __init__(
        self,
        app_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        limit: int = DAILY_LIMIT,
        lock_timeout: float = 60.0,
    ) -> None:
        self.path = app_dir / "quota.json"
        self.clock = clock
        self.limit = limit
        self.lock_timeout = lock_timeout

    def _load(self) -> dict[str, Any]:
        data = read_json(self.path, default={"days": {}})
        if not isinstance(data, dict) or not isinstance(data.get("days"), dict):
            raise CacheError(f"quota ledger {self.path} is not a ledger; delete it to reset")
        return data

    def _day(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        entry: dict[str, Any] = data["days"].setdefault(key, {"used": 0, "full": False})
        entry.setdefault("used", 0)
        entry.setdefault("full", False)
        entry.setdefault("slots", {})
        return entry

    def status(self, app_id: str) -> QuotaStatus:
        """What is left today."""
        now = self.clock()
        key = format_day(pacific_day(now))
        data = read_json(self.path, default={"days": {}}) if self.path.exists() else {"days": {}}
        day = data.get("days", {}).get(key, {})
        used = self.limit if day.get("full") else min(self.limit, int(day.get("used", 0)))
        return QuotaStatus(
            app_id=app_id,
            day=pacific_day(now),
            used=used,
            limit=self.limit,
            remaining=self.limit - used,
            resets_at=next_pacific_midnight(now),
        )

    def _refusal(self, used: int, needed: int, now: float) -> QuotaExceeded:
        resets = next_pacific_midnight(now)
        left = max(0, self.limit - used)
        return QuotaExceeded(
            None,
            f"refused locally: {needed} export(s) needed but {left} of {self.limit} left today "
            f"(Pacific); the quota resets at {resets:%Y-%m-%d %H:%M %Z} "
            f"({resets.astimezone().isoformat(timespec='minutes')} local)",
            resets_at=resets,
        )

    def check(self, needed: int) -> None:
        """Raise :class:`QuotaExceeded` now if ``needed`` exports do not fit today."""
        if needed <= 0:
            return
        now = self.clock()
        key = format_day(pacific_day(now))
        with file_lock(self.path, self.lock_timeout):
            day = self._day(self._load(), key)
        used = self.limit if day["full"] else int(day["used"])
        if used + needed > self.limit:
            raise self._refusal(used, needed, now)

    def reserve(self) -> Reservation:
        """Take one export slot for today, or raise :class:`QuotaExceeded` (before the call)."""
        now = self.clock()
        key = format_day(pacific_day(now))
        token = f"{os.getpid()}-{time.monotonic_ns()}"
        with file_lock(self.path, self.lock_timeout):
            data = self._load()
            day = self._day(data, key)
            if day["full"] or day["used"] >= self.limit:
                raise self._refusal(self.limit if day["full"] else day["used"], 1, now)
            day["used"] += 1
            day["slots"][token] = {"state": "reserved", "at": now}
            # keep a week of history; older days no longer matter
            data["days"] = {k: v for k, v in data["days"].items() if k >= _week_before(key)}
            atomic_write_json(self.path, data)
        return Reservation(day=key, token=token)

    def confirm(self, reservation: Reservation, job_id: str) -> None:
        """The server accepted the export: keep the slot, note the job id."""
        self._update(reservation, {"state": "accepted", "job_id": job_id})

    def unknown(self, reservation: Reservation) -> None:
        """No answer came back: keep the slot (the export may have been spent)."""
        self._update(reservation, {"state": "unknown"})

    def release(self, reservation: Reservation) -> None:
        """The server definitely refused the call (invalid calls do not count)."""
        with file_lock(self.path, self.lock_timeout):
            data = self._load()
            day = self._day(data, reservation.day)
            if day["slots"].pop(reservation.token, None) is not None:
                day["used"] = max(0, day["used"] - 1)
            atomic_write_json(self.path, data)

    def mark_full(self, reservation: Reservation | None = None) -> None:
        """The server says today's quota is spent: record the day as full."""
        now = self.clock()
        key = reservation.day if reservation else format_day(pacific_day(now))
        with file_lock(self.path, self.lock_timeout):
            data = self._load()
            day = self._day(data, key)
            if reservation is not None and day["slots"].pop(reservation.token, None) is not None:
                day["used"] = max(0, day["used"] - 1)
            day["full"] = True
            atomic_write_json(self.path, data)
        logger.warning("the server says today's export quota is spent; ledger marked full")

    def _update(self, reservation: Reservation, fields: dict[str, Any]) -> None:
        with file_lock(self.path, self.lock_timeout):
            data = self._load()
            day = self._day(data, reservation.day)
            day["slots"].setdefault(reservation.token, {}).update(fields)
            atomic_write_json(self.path, data)


def _week_before(key: str) -> str:
    from datetime import timedelta

    from leanplum_notebook.dates import parse_day

    return format_day(parse_day(key, "day") - timedelta(days=7))


def quota(
    app_id: str | None = None,
    *,
    settings: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> QuotaStatus:
    """Exports left today (Pacific) for an app, from the local ledger.

    Parameters
    ----------
    app_id
        The app (default: ``settings``, then ``LEANPLUM_APP_ID``, then ``.env``).
    settings
        A :class:`~leanplum_notebook.settings.Settings` to take the app and cache from.
    cache_dir
        Cache root (default: settings, ``LEANPLUM_CACHE_DIR``, then the platform folder).
    clock
        Unix-seconds clock.

    Returns
    -------
    QuotaStatus
        ``used`` counts exports made through this toolkit with this cache folder.
    """
    from leanplum_notebook.settings import Settings

    if settings is None:
        settings = Settings.resolve(app_id=app_id, cache_dir=cache_dir, require_key=False)
    app = app_id or settings.app_id
    root = Path(cache_dir) if cache_dir is not None else settings.cache_dir
    return QuotaLedger(root / safe_app_dir(app), clock=clock).status(app)


def safe_app_dir(app_id: str) -> str:
    """The folder name of an app in the cache (app ids are base64url; refuse anything else)."""
    from leanplum_notebook.store.files import safe_name

    return safe_name(app_id, what="app_id")
