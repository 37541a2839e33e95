"""Pacific-day arithmetic for the export API (pure; no I/O).

The API's ``startDate``/``endDate`` are calendar days in US Pacific time; the quota resets
at Pacific midnight; days younger than :data:`PROVISIONAL_DAYS` can still gain late
sessions (spec section 4 and 7.1).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from leanplum_notebook.errors import ValidationError

__all__ = [
    "PACIFIC",
    "PACIFIC_NAME",
    "PROVISIONAL_DAYS",
    "WINDOW_DAYS",
    "day_range",
    "day_status",
    "format_day",
    "next_pacific_midnight",
    "pacific_day",
    "parse_day",
]

#: The IANA name of the export's calendar (for pyarrow and DuckDB, which take names).
PACIFIC_NAME = "America/Los_Angeles"
#: The export's calendar: the API's days, the quota's reset and the cache's days are Pacific.
PACIFIC = ZoneInfo(PACIFIC_NAME)
#: Sessions may arrive up to 8 days late: a day this young (or younger) is provisional.
PROVISIONAL_DAYS = 8
#: The API refuses data older than 60 days.
WINDOW_DAYS = 60

_DAY_RE = re.compile(r"^(\d{8}|\d{4}-\d{2}-\d{2})$")
_EXPECTED = "a date, 'YYYYmmdd' or 'YYYY-mm-dd' text"


def parse_day(value: object, argument: str) -> date:
    """Parse a Pacific calendar day: the one day parser of the package.

    Accepts a ``date``, ``YYYYmmdd`` or ``YYYY-mm-dd`` text, and a naive ``datetime`` (or
    ``pandas.Timestamp``) at midnight, as ``pandas.date_range`` gives. A datetime with a time
    of day or a time zone is refused: which Pacific day it means would be a guess.

    Raises
    ------
    ValidationError
        Naming ``argument`` when the value is none of these.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == datetime.min.time():
            return value.date()
        raise ValidationError(
            argument,
            f"expected {_EXPECTED}, got a datetime with a time or time zone ({value!r})",
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _DAY_RE.match(text):
            try:
                return datetime.strptime(text.replace("-", ""), "%Y%m%d").date()
            except ValueError:
                pass
        raise ValidationError(argument, f"expected {_EXPECTED}, got {value!r}")
    raise ValidationError(argument, f"expected {_EXPECTED}, got {type(value).__name__}")


def format_day(day: date) -> str:
    """``date`` -> ``YYYYmmdd``."""
    return day.strftime("%Y%m%d")


def pacific_day(unix_seconds: float) -> date:
    """The Pacific calendar day of an instant."""
    return datetime.fromtimestamp(unix_seconds, tz=PACIFIC).date()


def next_pacific_midnight(unix_seconds: float) -> datetime:
    """The first Pacific midnight after an instant, as an aware datetime (DST-correct)."""
    day = pacific_day(unix_seconds) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=PACIFIC)


def day_range(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_status(day: date, exported_at: float) -> str:
    """``"final"`` when the day was exported after it stopped gaining late sessions.

    A day exported while it was provisional stays provisional (its late sessions are
    missing) until it is exported again.
    """
    age = (pacific_day(exported_at) - day).days
    return "final" if age > PROVISIONAL_DAYS else "provisional"


def utc_datetime(unix_seconds: float) -> datetime:
    """An aware UTC datetime for log messages."""
    return datetime.fromtimestamp(unix_seconds, tz=timezone.utc)
