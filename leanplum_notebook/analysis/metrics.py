"""Product metrics on the typed export tables (pure functions, DataFrames in and out).

Every function takes the tables of :mod:`leanplum_notebook.schema` (``sessions``, ``events``,
``experiments``), as pandas or Dask DataFrames, and returns a new pandas DataFrame; nothing
here does I/O. Each metric is one :class:`~leanplum_notebook.analysis.reductions.Reduction`
(reduce a frame of whole sessions to a small partial, combine partials, finalize): pandas
runs it on the whole tables, the Dask engine on every partition, with equal results.

Conventions shared by all functions (Leanplum's own semantics where it has them):

Calendar (``tz``)
    ``"pacific"``: the America/Los_Angeles calendar day, the day the export API and Leanplum's
    dashboard use. ``"utc"``: the UTC day. ``"local"``: the user's own wall clock, ``start +
    timezoneOffset`` of the session (a missing offset counts as UTC). Day and period columns
    hold *naive* timestamps (midnight of the day, or the first day of the week/month, on the
    chosen calendar). Weeks start on Monday.
Sessions and activity
    Records with ``isSession = False`` (offline or server-side activity, spec 5.1) are not
    sessions: they are kept out of session counts *and* do not make a user active. A missing
    ``isSession`` counts as a session. A session belongs to the day of its ``start``.
Durations
    Sessions longer than 8 hours are kept out of duration statistics, as on Leanplum's dashboard.
Events
    Events are matched to users through ``sessionId``; events whose session is not in the
    ``sessions`` table passed in are ignored by the functions that need users. Events of
    ``isSession = False`` records do count (a server-side ``Purchase`` is still revenue).
Empty input
    Gives an empty DataFrame with the documented columns, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd

from leanplum_notebook.analysis.reductions import (
    Partial,
    Reduction,
    added,
    bounds,
    distinct,
    earliest,
    earliest_rows,
    first_rows,
    run,
    stacked,
    total,
    value_bounds,
)
from leanplum_notebook.dates import PACIFIC
from leanplum_notebook.redaction import get_logger

logger = get_logger(__name__)

__all__ = [
    "MAX_SESSION_SECONDS",
    "active_users",
    "breakdown",
    "engagement",
    "event_counts",
    "experiment_results",
    "funnel",
    "local_times",
    "message_stats",
    "new_users",
    "retention",
    "retention_curve",
    "revenue",
    "session_lengths",
    "sessions_per_user",
    "top_events",
]

TimeZone = Literal["pacific", "utc", "local"]
#: Sessions longer than this (seconds) are left out of duration statistics.
MAX_SESSION_SECONDS = 8 * 3600

_FREQS = {"D": "D", "day": "D", "W": "W", "week": "W", "M": "M", "month": "M"}
_SENT_RE = re.compile(r"^\.m(\d+)$")
_OPEN_RE = re.compile(r"^\.m(\d+) Open$")
#: Session columns the calendar of a session needs (``timezoneOffset`` only for "local").
_SESSION_DAY_COLUMNS = ("userId", "start", "isSession", "timezoneOffset")


# --------------------------------------------------------------------------- helpers


def _check_tz(tz: str) -> None:
    if tz not in ("pacific", "utc", "local"):
        raise ValueError(f"tz must be 'pacific', 'utc' or 'local', not {tz!r}")


def _check_freq(freq: str) -> str:
    try:
        return _FREQS[freq]
    except KeyError:
        raise ValueError(
            f"freq must be one of 'D', 'W', 'M' (or 'day', 'week', 'month'), not {freq!r}"
        ) from None


def _require(df: Any, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; got {list(df.columns)}")


def local_times(
    times: pd.Series, tz: TimeZone = "pacific", offsets: pd.Series | None = None
) -> pd.Series:
    """Convert UTC instants to naive wall-clock times on the chosen calendar.

    Parameters
    ----------
    times : Series of datetime64[ms, UTC]
        Instants (``start``, ``userStart``).
    tz : {"pacific", "utc", "local"}
        Calendar; ``"local"`` needs ``offsets``.
    offsets : Series of Int64, optional
        Seconds east of UTC (``timezoneOffset``), aligned with ``times``; missing counts as 0.

    Returns
    -------
    Series of datetime64 (naive)
        Wall-clock times.
    """
    _check_tz(tz)
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = pd.to_datetime(times, utc=True)
    if tz == "pacific":
        return times.dt.tz_convert(PACIFIC).dt.tz_localize(None)
    naive = times.dt.tz_localize(None)
    if tz == "utc":
        return naive
    if offsets is None:
        raise ValueError("tz='local' needs the sessions' timezoneOffset column")
    seconds = pd.to_numeric(offsets, errors="coerce").astype("float64").fillna(0.0)
    return naive + pd.to_timedelta(seconds.to_numpy(), unit="s")


def _period_start(naive: pd.Series, freq: str) -> pd.Series:
    """First day (naive midnight) of the day/week/month each naive time falls in."""
    day = naive.dt.floor("D")
    if freq == "D":
        return day
    if freq == "W":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def _period_range(first: pd.Timestamp, last: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    step = {"D": "D", "W": "W-MON", "M": "MS"}[freq]
    return pd.date_range(first, last, freq=step)


def _real_sessions(sessions: pd.DataFrame) -> pd.DataFrame:
    """Rows that are sessions (``isSession`` true or missing)."""
    if "isSession" not in sessions.columns:
        return sessions
    mask = sessions["isSession"].astype("boolean").fillna(True).astype(bool)
    return sessions.loc[mask.to_numpy()]


def _session_times(sessions: pd.DataFrame, tz: TimeZone, column: str = "start") -> pd.Series:
    offsets = sessions["timezoneOffset"] if tz == "local" else None
    if tz == "local":
        _require(sessions, ("timezoneOffset",), "sessions")
    return local_times(sessions[column], tz, offsets)


def _pairs(user_ids: pd.Series, periods: pd.Series) -> pd.DataFrame:
    """Distinct (userId, period) pairs, missing values left out: columns userId, period."""
    out = pd.DataFrame(
        {
            "userId": user_ids.astype("string").array,
            "period": periods.astype("datetime64[ns]").array,
        }
    )
    out = out.dropna()
    return out[first_rows(out, ["userId", "period"])].reset_index(drop=True)


def _user_periods(real: pd.DataFrame, tz: TimeZone, freq: str = "D") -> pd.DataFrame:
    """Distinct (userId, period) pairs of ``real`` sessions (:func:`_real_sessions`)."""
    return _pairs(real["userId"], _period_start(_session_times(real, tz), freq))


def _check_user_periods(sessions: Any, tz: TimeZone) -> None:
    _require(sessions, ("userId", "start"), "sessions")
    if tz == "local":
        _require(sessions, ("timezoneOffset",), "sessions")


def _session_rows(sessions: pd.DataFrame, *, part: int) -> pd.DataFrame:
    """The columns a by-user session metric reads (``part`` is unused: no tie to break)."""
    rows = sessions[[c for c in _SESSION_DAY_COLUMNS if c in sessions.columns]]
    return rows.assign(userId=rows["userId"].astype("string")).reset_index(drop=True)


def _reduce_user_periods(
    rows: pd.DataFrame, *, tz: TimeZone, code: str, count: Callable[[pd.DataFrame], pd.DataFrame]
) -> Partial:
    return {"counts": count(_user_periods(_real_sessions(rows), tz, code))}


def _user_period_reduction(
    count: Callable[[pd.DataFrame], pd.DataFrame], finalize: Any, tz: TimeZone, code: str, name: str
) -> Reduction:
    """A metric of the distinct (userId, period) pairs, counted by whole users.

    ``count`` turns the pairs of some whole users into counts per period (a frame indexed
    by period); the counts of all users add up. On Dask the rows are shuffled on userId
    first: combining the pairs themselves held every pair of the export in one task (1.4
    million on a 5 GB export), at 97 % of a 512 MiB worker.
    """
    return Reduction(
        prepare=_session_rows,
        reduce=partial(_reduce_user_periods, tz=tz, code=code, count=count),
        combine={"counts": total},
        finalize=finalize,
        columns=(_SESSION_DAY_COLUMNS,),
        name=name,
    )


def _events_with_users(
    events: pd.DataFrame, sessions: pd.DataFrame, *, session_start: bool = False
) -> pd.DataFrame:
    """Events joined to their session's userId (and timezoneOffset when present).

    With ``session_start`` the session's ``start`` comes along as ``sessionStart``.
    """
    cols = ["sessionId", "userId"] + (
        ["timezoneOffset"] if "timezoneOffset" in sessions.columns else []
    )
    if session_start:
        keys = sessions[[*cols, "start"]].drop_duplicates("sessionId")
        keys = keys.rename(columns={"start": "sessionStart"})
        cols = [*cols, "sessionStart"]
    else:
        keys = sessions[cols].drop_duplicates("sessionId")
    # a positional lookup on the int64 key: much cheaper than a merge carrying strings
    where = pd.Index(keys["sessionId"]).get_indexer(events["sessionId"])
    found = where >= 0
    ev = events.loc[found].drop(columns=[c for c in cols[1:] if c in events.columns])
    ev = ev.reset_index(drop=True)
    for col in cols[1:]:
        ev[col] = keys[col].take(where[found]).reset_index(drop=True)
    return ev


def _named(events: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The events called one of ``names`` (filtered before any join: purchases are few)."""
    column = events["eventName"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        keep = column.isin(names)  # compares the few categories, not every row's text
    else:
        keep = column.astype("string").isin(names).fillna(False)
    return events.loc[keep.to_numpy(dtype=bool)]


def _event_times(events: pd.DataFrame, tz: TimeZone) -> pd.Series:
    if tz == "local":
        if "timezoneOffset" not in events.columns:
            raise ValueError(
                "tz='local' for events needs their session's timezoneOffset: pass sessions=..."
            )
        return local_times(events["start"], tz, events["timezoneOffset"])
    return local_times(events["start"], tz)


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _days_frame(index: pd.DatetimeIndex, name: str = "day") -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(index, dtype="datetime64[ns]")})


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64, NaN where den is not positive."""
    den = np.asarray(den, dtype="float64")
    return np.divide(
        np.asarray(num, dtype="float64"), den, out=np.full(len(den), np.nan), where=den > 0
    )


def _per_period(pairs: pd.DataFrame, grid: pd.DatetimeIndex, column: str = "period") -> np.ndarray:
    """Rows of ``pairs`` per grid period (distinct users, when pairs are distinct)."""
    return pairs.groupby(column).size().reindex(grid, fill_value=0).to_numpy(dtype="int64")


# --------------------------------------------------------------------------- activity


def active_users(
    sessions: pd.DataFrame, *, freq: str = "D", tz: TimeZone = "pacific"
) -> pd.DataFrame:
    """Distinct active users per calendar day, week or month.

    A user is active in a period if one of their sessions (``isSession`` not false) starts in
    it. Periods without activity between the first and last active period show 0.

    Parameters
    ----------
    sessions : DataFrame
        The sessions table (needs ``userId``, ``start``, ``isSession``; ``timezoneOffset``
        for ``tz="local"``).
    freq : {"D", "W", "M"}
        Calendar day, week (Monday to Sunday) or month.
    tz : {"pacific", "utc", "local"}
        Calendar used to bucket session starts.

    Returns
    -------
    DataFrame
        ``period`` (datetime64, naive: first day of the period), ``active_users`` (int64).
    """
    code = _check_freq(freq)
    _check_tz(tz)
    _check_user_periods(sessions, tz)
    finalize = partial(_finalize_active_users, code=code)
    reduction = _user_period_reduction(_count_active, finalize, tz, code, "active_users")
    return run(reduction, sessions)


def _count_active(pairs: pd.DataFrame) -> pd.DataFrame:
    return pairs.groupby("period").size().to_frame("active_users")


def _finalize_active_users(p: Partial, *, code: str) -> pd.DataFrame:
    counts = p["counts"]
    if counts.empty:
        return _empty({"period": "datetime64[ns]", "active_users": "int64"})
    grid = _period_range(counts.index.min(), counts.index.max(), code)
    active = counts["active_users"].reindex(grid, fill_value=0)
    return pd.DataFrame(
        {
            "period": pd.Series(grid, dtype="datetime64[ns]"),
            "active_users": active.to_numpy(dtype="int64"),
        }
    )


def _rolling_distinct(user_days: pd.DataFrame, grid: pd.DatetimeIndex, window: int) -> np.ndarray:
    """Distinct users active in the trailing ``window`` days ending on each grid day.

    Each active day ``a`` of a user counts them on days ``a .. a+window-1``, cut short at the
    user's next active day (which starts its own run), so runs never overlap and a difference
    array summed once gives the answer in O(n log n).
    """
    n = len(grid)
    ud = user_days.sort_values(["userId", "period"], ignore_index=True)
    idx = ((ud["period"] - grid[0]) // pd.Timedelta(days=1)).to_numpy(dtype="int64")
    same_user_next = ud["userId"].shift(-1).eq(ud["userId"]).fillna(False).to_numpy(dtype=bool)
    nxt = np.where(same_user_next, np.roll(idx, -1), np.iinfo(np.int64).max)
    end = np.minimum(np.minimum(idx + window, nxt), n)
    diff = np.zeros(n + 1, dtype="int64")
    np.add.at(diff, idx, 1)
    np.add.at(diff, end, -1)
    return np.cumsum(diff)[:n]


def engagement(sessions: pd.DataFrame, *, tz: TimeZone = "pacific") -> pd.DataFrame:
    """Daily, weekly and monthly active users and stickiness, per day.

    ``wau`` and ``mau`` are rolling: distinct users active in the 7 (30) days ending on the
    day, inclusive. On the first 6 (29) days of the data the window reaches back before the
    data and only counts what is there, so ``mau`` is low and ``stickiness`` high at the start:
    ``data_days`` says how many days of data each window holds, so a chart can show WAU only
    where ``data_days >= 7`` and MAU (and ``stickiness``) only where ``data_days >= 30``.
    With less than 30 days of data, ``dau_wau`` (over complete 7-day windows) is the
    stickiness that can be read honestly.

    Parameters
    ----------
    sessions : DataFrame
        The sessions table.
    tz : {"pacific", "utc", "local"}
        Calendar used to bucket session starts.

    Returns
    -------
    DataFrame
        ``day`` (datetime64, naive), ``dau``, ``wau``, ``mau`` (int64), ``stickiness``
        (float64: dau / mau), ``dau_wau`` (float64: dau / wau), ``data_days`` (int64: days of
        data up to and including the day, 1 on the first day; a window of N days is complete
        where ``data_days >= N``).
    """
    _check_tz(tz)
    _check_user_periods(sessions, tz)
    reduction = _user_period_reduction(
        _count_engagement, _finalize_engagement, tz, "D", "engagement"
    )
    return run(reduction, sessions)


def _count_engagement(pairs: pd.DataFrame) -> pd.DataFrame:
    """DAU, WAU and MAU of some whole users, on their days and the 29 after the last (their
    windows reach that far; finalize keeps the days of the data)."""
    if pairs.empty:
        return pd.DataFrame({k: pd.Series(dtype="int64") for k in ("dau", "wau", "mau")})
    last = pairs["period"].max() + pd.Timedelta(days=29)
    grid = _period_range(pairs["period"].min(), last, "D")
    return pd.DataFrame(
        {
            "dau": _per_period(pairs, grid),
            "wau": _rolling_distinct(pairs, grid, 7),
            "mau": _rolling_distinct(pairs, grid, 30),
        },
        index=grid,
    )


def _finalize_engagement(p: Partial) -> pd.DataFrame:
    counts = p["counts"]
    active = counts.index[counts["dau"].to_numpy() > 0] if len(counts) else counts.index
    if active.empty:
        return _empty(
            {
                "day": "datetime64[ns]",
                **dict.fromkeys(("dau", "wau", "mau"), "int64"),
                "stickiness": "float64",
                "dau_wau": "float64",
                "data_days": "int64",
            }
        )
    grid = _period_range(active.min(), active.max(), "D")
    days = counts.reindex(grid, fill_value=0)
    dau, wau, mau = (days[k].to_numpy(dtype="int64") for k in ("dau", "wau", "mau"))
    out = _days_frame(grid)
    out["dau"] = dau
    out["wau"] = wau
    out["mau"] = mau
    out["stickiness"] = _ratio(dau, mau)
    out["dau_wau"] = _ratio(dau, wau)
    out["data_days"] = np.arange(1, len(grid) + 1, dtype="int64")
    return out


_FIRST_RUN_COLUMNS = ("userId", "userStart", "start", "isSession", "timezoneOffset")


def _first_run_combine(tz: TimeZone) -> dict[str, Any]:
    """Combiners of the first-run pieces: each user's earliest userStart, and for
    ``tz="local"`` the offset of their earliest session that has one."""
    pieces: dict[str, Any] = {"first_runs": earliest(["userId"], "userStart")}
    if tz == "local":
        pieces["first_offsets"] = earliest(["userId"], "start")
    return pieces


def _first_run_pieces(real: pd.DataFrame, tz: TimeZone) -> Partial:
    """The first-run pieces of real sessions (see :func:`_first_run_combine`)."""
    s = real.dropna(subset=["userStart", "userId"])
    runs = pd.DataFrame(
        {"userId": s["userId"].astype("string").array, "userStart": s["userStart"].array}
    )
    out: Partial = {"first_runs": earliest_rows(runs, ["userId"], "userStart")}
    if tz == "local":
        o = s.dropna(subset=["timezoneOffset"])
        offsets = pd.DataFrame(
            {
                "userId": o["userId"].astype("string").array,
                "start": o["start"].array,
                "timezoneOffset": o["timezoneOffset"].astype("Int64").array,
            }
        )
        out["first_offsets"] = earliest_rows(offsets, ["userId"], "start")
    return out


def _first_run_periods(p: Partial, tz: TimeZone, freq: str) -> pd.Series:
    """Period of each user's first run (earliest userStart), indexed by userId."""
    runs = p["first_runs"]
    if runs.empty:
        return pd.Series(dtype="datetime64[ns]")
    offsets = None
    if tz == "local":
        found = p["first_offsets"].set_index("userId")["timezoneOffset"]
        offsets = pd.Series(found.reindex(runs["userId"]).to_numpy(), index=runs.index)
    times = local_times(runs["userStart"], tz, offsets)
    periods = _period_start(times, freq).astype("datetime64[ns]")
    return pd.Series(periods.to_numpy(), index=pd.Index(runs["userId"].to_numpy(), name="userId"))


def new_users(sessions: pd.DataFrame, *, tz: TimeZone = "pacific") -> pd.DataFrame:
    """New users per day, by first run (``userStart``, JSON ``firstRun``).

    A user is new on the day of their earliest ``userStart``. Only users with a session in
    the data are seen, and only days between the first and last day with sessions are
    reported (users whose first run predates the data are not new within it).

    Parameters
    ----------
    sessions : DataFrame
        The sessions table (``userId``, ``userStart``, ``start``, ``isSession``).
    tz : {"pacific", "utc", "local"}
        Calendar; ``"local"`` uses the offset of the user's earliest session.

    Returns
    -------
    DataFrame
        ``day`` (datetime64, naive), ``new_users`` (int64).
    """
    _check_tz(tz)
    _require(sessions, ("userId", "userStart", "start"), "sessions")
    _check_user_periods(sessions, tz)
    reduction = Reduction(
        reduce=partial(_reduce_new_users, tz=tz),
        combine={"days": bounds, **_first_run_combine(tz)},
        finalize=partial(_finalize_new_users, tz=tz),
        columns=(_FIRST_RUN_COLUMNS,),
        name="new_users",
    )
    return run(reduction, sessions)


def _reduce_new_users(sessions: pd.DataFrame, *, tz: TimeZone) -> Partial:
    real = _real_sessions(sessions)
    known = real.loc[real["userId"].notna().to_numpy()]
    days = _period_start(_session_times(known, tz), "D")
    return {"days": value_bounds(days), **_first_run_pieces(real, tz)}


def _finalize_new_users(p: Partial, *, tz: TimeZone) -> pd.DataFrame:
    if p["days"] is None:
        return _empty({"day": "datetime64[ns]", "new_users": "int64"})
    first, last = p["days"]
    grid = _period_range(first, last, "D")
    counts = _first_run_periods(p, tz, "D").value_counts().reindex(grid, fill_value=0)
    out = _days_frame(grid)
    out["new_users"] = counts.to_numpy(dtype="int64")
    return out


def sessions_per_user(sessions: pd.DataFrame, *, tz: TimeZone = "pacific") -> pd.DataFrame:
    """Sessions, active users and sessions per active user, per day.

    Parameters
    ----------
    sessions : DataFrame
        The sessions table; ``isSession = False`` records are left out.
    tz : {"pacific", "utc", "local"}
        Calendar used to bucket session starts.

    Returns
    -------
    DataFrame
        ``day`` (datetime64, naive), ``sessions`` (int64), ``users`` (int64),
        ``sessions_per_user`` (float64; NaN on days without users).
    """
    _check_tz(tz)
    _check_user_periods(sessions, tz)
    reduction = Reduction(
        reduce=partial(_reduce_sessions_per_user, tz=tz),
        combine={"sessions": total, "pairs": distinct},
        finalize=_finalize_sessions_per_user,
        columns=(_SESSION_DAY_COLUMNS,),
        name="sessions_per_user",
    )
    return run(reduction, sessions)


def _reduce_sessions_per_user(sessions: pd.DataFrame, *, tz: TimeZone) -> Partial:
    real = _real_sessions(sessions)
    days = _period_start(_session_times(real, tz), "D").astype("datetime64[ns]")
    per_day = pd.Series(days.to_numpy()).value_counts(sort=False).sort_index()
    return {"sessions": per_day.astype("int64"), "pairs": _pairs(real["userId"], days)}


def _finalize_sessions_per_user(p: Partial) -> pd.DataFrame:
    n_sessions = p["sessions"]
    if n_sessions.empty:
        return _empty(
            {
                "day": "datetime64[ns]",
                "sessions": "int64",
                "users": "int64",
                "sessions_per_user": "float64",
            }
        )
    grid = _period_range(n_sessions.index.min(), n_sessions.index.max(), "D")
    out = _days_frame(grid)
    out["sessions"] = n_sessions.reindex(grid, fill_value=0).to_numpy(dtype="int64")
    out["users"] = _per_period(p["pairs"], grid)
    out["sessions_per_user"] = _ratio(out["sessions"].to_numpy(), out["users"].to_numpy())
    return out


def session_lengths(
    sessions: pd.DataFrame, *, max_duration: float = MAX_SESSION_SECONDS
) -> pd.Series:
    """Session durations for duration statistics.

    Keeps real sessions (``isSession`` not false) with a known duration between 0 and
    ``max_duration`` seconds inclusive; longer sessions are left out, as on Leanplum's
    dashboard.

    Parameters
    ----------
    sessions : DataFrame
        The sessions table (``sessionId``, ``duration``, ``isSession``).
    max_duration : float
        Longest duration kept, seconds (default 8 hours).

    Returns
    -------
    Series of float64
        Named ``duration`` (seconds), indexed by ``sessionId`` (one value per kept session,
        as long as the sessions table: on Dask, sample or aggregate it for big data).
    """
    _require(sessions, ("duration",), "sessions")
    reduction = Reduction(
        reduce=partial(_reduce_session_lengths, max_duration=max_duration),
        combine={"lengths": stacked},
        finalize=_finalize_session_lengths,
        columns=(("sessionId", "duration", "isSession"),),
        name="session_lengths",
    )
    return run(reduction, sessions)


def _reduce_session_lengths(sessions: pd.DataFrame, *, max_duration: float) -> Partial:
    real = _real_sessions(sessions)
    dur = pd.to_numeric(real["duration"], errors="coerce").astype("float64")
    keep = dur.notna() & (dur >= 0) & (dur <= max_duration)
    out = pd.Series(dur[keep].to_numpy(), name="duration", dtype="float64")
    if "sessionId" in real.columns:
        out.index = pd.Index(real.loc[keep.to_numpy(), "sessionId"].to_numpy(), name="sessionId")
    return {"lengths": out}


def _finalize_session_lengths(p: Partial) -> pd.Series:
    out = p["lengths"]
    if out.index.name != "sessionId":
        out = out.reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- retention


def _period_ordinal(starts: pd.Series, period: str) -> np.ndarray:
    """Integer index of day/week/month period starts (consecutive periods differ by 1)."""
    if period == "M":
        return (starts.dt.year * 12 + starts.dt.month - 1).to_numpy(dtype="int64")
    days = ((starts - pd.Timestamp("1970-01-05")) // pd.Timedelta(days=1)).to_numpy(dtype="int64")
    return days // 7 if period == "W" else days


def retention(
    sessions: pd.DataFrame,
    *,
    period: Literal["day", "week", "month"] = "day",
    kind: Literal["classic", "rolling"] = "classic",
    max_periods: int = 30,
    tz: TimeZone = "pacific",
    cohort_by: Literal["first_run", "first_session"] = "first_run",
) -> pd.DataFrame:
    """Cohort retention table: share of each cohort active N periods after joining.

    Cohorts: by default the period of each user's first run (earliest ``userStart``, as
    Leanplum defines a new user); users whose first run is before the first period with
    sessions are left out, since their early activity is not in the data. With
    ``cohort_by="first_session"`` the cohort is the period of the user's first session in
    the data instead (then the first cohort mixes in every returning user).

    ``"classic"``: fraction of the cohort with a session in period N exactly.
    ``"rolling"``: fraction with a session in period N *or later* (unbounded retention).
    Only periods the data covers completely are used: a week or month cut by the first or
    last day of the data would undercount activity, so cohorts start at the first complete
    period and cells after the last complete period are NaN (not seen yet). Periods are
    calendar days, weeks (Monday start) or months; ``isSession = False`` records do not make
    a user active. Rolling retention near the end of the data is low by construction (later
    returns are not in the data yet).

    The data is taken to cover whole Pacific days, from the first session's to the last
    session's, as an export does. On ``tz="utc"`` or ``"local"`` only the days wholly inside
    that span count (a UTC day starts 7-8 hours before the Pacific one; a local day is
    whole only if it is for every ``timezoneOffset`` in the data), so the first and last
    cohorts are not undercounted. :func:`retention_curve` then leaves out periods that rest
    on too few cohorts.

    Parameters
    ----------
    sessions : DataFrame
        The sessions table.
    period : {"day", "week", "month"}
        Cohort and retention period.
    kind : {"classic", "rolling"}
        Retention definition.
    max_periods : int
        Last N reported.
    tz : {"pacific", "utc", "local"}
        Calendar used to bucket times.
    cohort_by : {"first_run", "first_session"}
        What starts a user's cohort.

    Returns
    -------
    DataFrame
        Index ``cohort`` (datetime64, naive: first day of the cohort period); columns
        ``cohort_size`` (int64) then ``0 .. max_periods`` (int labels, float64 fractions).
    """
    code = _check_retention(period, kind, max_periods, tz, cohort_by)
    _check_user_periods(sessions, tz)
    if cohort_by == "first_run":
        _require(sessions, ("userStart",), "sessions")
    # By whole users (prepare, then a shuffle on userId on Dask): each part counts its own
    # users into cohort x period cells, and the cells add up. Combining the (userId, period)
    # pairs instead held every pair of the export in one task: 1.4 million on a 5 GB export,
    # which restarted 512 MiB workers.
    reduction = Reduction(
        prepare=_retention_rows,
        reduce=partial(
            _reduce_retention,
            tz=tz,
            code=code,
            first_run=cohort_by == "first_run",
            kind=kind,
            max_periods=max_periods,
        ),
        combine={"cells": total, "starts": bounds, "offsets": bounds},
        finalize=partial(_finalize_retention, code=code, max_periods=max_periods, tz=tz),
        columns=(_FIRST_RUN_COLUMNS,),
        name="retention",
    )
    return run(reduction, sessions)


def _check_retention(period: str, kind: str, max_periods: int, tz: TimeZone, cohort_by: str) -> str:
    code = _check_freq(period)
    _check_tz(tz)
    if kind not in ("classic", "rolling"):
        raise ValueError(f"kind must be 'classic' or 'rolling', not {kind!r}")
    if cohort_by not in ("first_run", "first_session"):
        raise ValueError(f"cohort_by must be 'first_run' or 'first_session', not {cohort_by!r}")
    if max_periods < 0:
        raise ValueError(f"max_periods must be >= 0, not {max_periods!r}")
    return code


def _retention_rows(sessions: pd.DataFrame, *, part: int) -> pd.DataFrame:
    """The columns retention reads, every record (the data's span counts non-sessions too),
    with its place in the table (``order``: a shuffle mixes the rows, ties break by it)."""
    rows = sessions[[c for c in _FIRST_RUN_COLUMNS if c in sessions.columns]].reset_index(drop=True)
    rows["userId"] = rows["userId"].astype("string")
    rows["order"] = (np.int64(part) << np.int64(40)) + np.arange(len(rows), dtype="int64")
    return rows


def _reduce_retention(
    rows: pd.DataFrame,
    *,
    tz: TimeZone,
    code: str,
    first_run: bool,
    kind: str,
    max_periods: int,
) -> Partial:
    """Cohort x period cells of the whole users in ``rows`` (:func:`_retention_rows`)."""
    if len(rows) and not rows["order"].is_monotonic_increasing:
        rows = rows.sort_values("order", kind="stable")
    real = _real_sessions(rows)
    out: Partial = {
        # the span of the data: every record's start, sessions or not
        "starts": value_bounds(pd.to_datetime(rows["start"], utc=True)),
        "offsets": None,
    }
    if tz == "local":
        seconds = pd.to_numeric(rows["timezoneOffset"], errors="coerce").astype("float64")
        out["offsets"] = value_bounds(seconds.fillna(0.0))
    firsts = _first_run_periods(_first_run_pieces(real, tz), tz, code) if first_run else None
    out["cells"] = _retention_cells(_user_periods(real, tz, code), firsts, code, kind, max_periods)
    return out


def _whole_days(
    first: pd.Timestamp,
    last: pd.Timestamp,
    tz: TimeZone,
    offsets: tuple[float, float] | None = None,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last calendar days on ``tz`` wholly inside the Pacific days of the data.

    Parameters
    ----------
    first, last : Timestamp
        Earliest and latest session start (tz-aware); the data covers their Pacific days
        and the days between, from midnight to midnight Pacific time.
    tz : {"pacific", "utc", "local"}
        Calendar of the days returned.
    offsets : tuple of float, optional
        For ``"local"``: smallest and largest ``timezoneOffset`` (seconds east of UTC). A
        local day counts only if it is whole for every offset.

    Returns
    -------
    tuple of Timestamp
        Naive midnights of the first and last whole day; the first is after the last when
        no day is whole.
    """
    one_day = pd.Timedelta(days=1)
    first_pacific = pd.Timestamp(first).tz_convert(PACIFIC).tz_localize(None).floor("D")
    last_pacific = pd.Timestamp(last).tz_convert(PACIFIC).tz_localize(None).floor("D")
    if tz == "pacific":
        return first_pacific, last_pacific
    # The span as UTC wall-clock times (Pacific midnights: 7 or 8 hours after UTC's).
    begin = first_pacific.tz_localize(PACIFIC).tz_convert("UTC").tz_localize(None)
    end = (last_pacific + one_day).tz_localize(PACIFIC).tz_convert("UTC").tz_localize(None)
    if tz == "local":
        low, high = offsets if offsets is not None else (0.0, 0.0)
        # local = UTC + offset: the latest-starting and earliest-ending local days bound it
        begin += pd.Timedelta(seconds=high)
        end += pd.Timedelta(seconds=low)
    return begin.ceil("D"), end.floor("D") - one_day


def _retention_cells(
    pairs: pd.DataFrame,
    firsts: pd.Series | None,
    code: str,
    kind: str,
    max_periods: int,
) -> pd.DataFrame:
    """Users of each cohort and how many were active N periods after it, for whole users.

    ``pairs``: their distinct (userId, period) pairs; ``firsts``: each user's first-run
    period (None: the cohort is the user's first period in ``pairs``). Returns one row per
    cohort period (index), columns ``cohort_size`` then ``0 .. max_periods`` (float64
    counts); every cohort, inside the data's complete periods or not (finalize decides).
    """
    columns = ["cohort_size", *range(max_periods + 1)]
    if pairs.empty:
        return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([]), dtype="float64")
    # Users as integer codes; the rest is numpy (grouping on the id strings peaked at 7x
    # the pairs' size).
    period = pairs["period"].to_numpy(dtype="datetime64[ns]")
    if firsts is not None:
        ids = pd.concat([pairs["userId"], pd.Series(firsts.index, dtype=pairs["userId"].dtype)])
        codes, users = pd.factorize(ids, use_na_sentinel=True)
        user = codes[: len(pairs)]
        cohort_user = codes[len(pairs) :]
        cohort_start = firsts.to_numpy(dtype="datetime64[ns]")
    else:
        user, users = pd.factorize(pairs["userId"], use_na_sentinel=True)
        firsts_ns = pd.Series(period.view("int64")).groupby(user).min()
        cohort_user = firsts_ns.index.to_numpy(dtype="int64")
        cohort_start = firsts_ns.to_numpy().view("datetime64[ns]")
    known = cohort_user >= 0
    cohort_user, cohort_start = cohort_user[known], cohort_start[known]
    sizes = pd.Series(cohort_start).value_counts().sort_index()
    cohorts = pd.DatetimeIndex(sizes.index)
    user_row = np.full(len(users), -1, dtype="int64")
    user_row[cohort_user] = cohorts.get_indexer(pd.DatetimeIndex(cohort_start))
    user_p = np.zeros(len(users), dtype="int64")
    user_p[cohort_user] = _period_ordinal(pd.Series(cohort_start), code)
    counts = _retained(
        user.astype("int64"),
        _period_ordinal(pd.Series(period), code),
        user_row,
        user_p,
        len(sizes),
        kind,
        max_periods,
    )
    table = pd.DataFrame(counts, index=cohorts.astype("datetime64[ns]"), columns=columns[1:])
    table.insert(0, "cohort_size", sizes.to_numpy(dtype="float64"))
    return table


def _finalize_retention(p: Partial, *, code: str, max_periods: int, tz: TimeZone) -> pd.DataFrame:
    """The retention table from the added cells (arguments already checked): cohorts of
    the complete periods only, cells the data does not reach yet NaN."""
    nothing = _retention_frame(pd.DatetimeIndex([]), np.zeros(0), np.zeros((0, max_periods + 1)))
    cells = p["cells"]
    if cells.empty or p["starts"] is None:
        return nothing
    offsets = (float(p["offsets"][0]), float(p["offsets"][1])) if p["offsets"] else None
    first, last = p["starts"]
    first_p, last_p = _complete_periods(*_whole_days(first, last, tz, offsets), code)
    cells = cells.sort_index()
    cohort_ord = _period_ordinal(pd.Series(cells.index), code)
    inside = (cohort_ord >= first_p) & (cohort_ord <= last_p)
    if first_p > last_p or not inside.any():
        return nothing
    cells, cohort_ord = cells.loc[inside], cohort_ord[inside]
    size_arr = cells["cohort_size"].to_numpy(dtype="float64")
    fractions = cells.drop(columns="cohort_size").to_numpy(dtype="float64") / size_arr[:, None]
    unseen = cohort_ord[:, None] + np.arange(max_periods + 1)[None, :] > last_p
    fractions[unseen] = np.nan
    return _retention_frame(pd.DatetimeIndex(cells.index), size_arr, fractions)


def _retained(
    user: np.ndarray,
    period: np.ndarray,
    user_row: np.ndarray,
    user_period: np.ndarray,
    cohorts: int,
    kind: str,
    max_periods: int,
) -> np.ndarray:
    """Users of each cohort (row) active N periods after it (column), or N or later.

    ``user``/``period``: each distinct (user, period) pair, as a user code and a period
    ordinal; ``user_row``: each user's cohort row (-1: in no cohort); ``user_period``: the
    ordinal of each user's cohort period.
    """
    counts = np.zeros((cohorts, max_periods + 1), dtype="float64")
    rows = user_row[user]
    n = period - user_period[user]
    keep = (user >= 0) & (rows >= 0) & (n >= 0)
    rows, n, active = rows[keep], n[keep], user[keep]
    if kind == "classic":
        within = n <= max_periods
        np.add.at(counts, (rows[within], n[within]), 1.0)
        return counts
    last_n = np.full(len(user_row), -1, dtype="int64")
    np.maximum.at(last_n, active, n)
    seen = np.flatnonzero(last_n >= 0)
    np.add.at(counts, (user_row[seen], np.minimum(last_n[seen], max_periods)), 1.0)
    # users whose last period is >= N: reverse cumulative sum along N
    return counts[:, ::-1].cumsum(axis=1)[:, ::-1]


def _complete_periods(
    first_day: pd.Timestamp, last_day: pd.Timestamp, code: str
) -> tuple[int, int]:
    """Ordinals of the first and last periods made only of the whole days given.

    A week or month cut by the start or end of the data would show too few active users
    (the missing days), so retention only uses periods the data covers completely.
    """
    one_day = pd.Timedelta(days=1)
    edges = pd.Series([first_day, last_day + one_day])
    starts = _period_start(edges, code)
    ordinals = _period_ordinal(starts, code)
    first_p = int(ordinals[0]) + (0 if starts.iloc[0] == first_day else 1)
    # the period holding last_day + 1 is either the next one or last_day's own, cut short:
    # either way the one before it is the last complete period
    last_p = int(ordinals[1]) - 1
    return first_p, last_p


def _retention_frame(
    cohorts: pd.DatetimeIndex, sizes: np.ndarray, fractions: np.ndarray
) -> pd.DataFrame:
    table = pd.DataFrame(
        fractions.astype("float64"),
        index=pd.DatetimeIndex(cohorts, name="cohort").astype("datetime64[ns]"),
        columns=list(range(fractions.shape[1])),
    )
    table.insert(0, "cohort_size", sizes.astype("int64"))
    return table


def retention_curve(
    retention_table: pd.DataFrame, *, min_cohorts: int = 3, min_share: float = 0.1
) -> pd.DataFrame:
    """Average retention by period over all cohorts, weighted by cohort size.

    Each period averages only the cohorts that can already be seen at that period (non-NaN
    cells: :func:`retention` leaves a cell NaN when its period is not fully inside the data),
    so later periods rest on fewer, older cohorts. A period resting on too few of them would
    show one small cohort's noise as the trend (a spike, then 0), so it is left out unless

    - it averages at least ``min(min_cohorts, cohorts at period 0)`` cohorts, and
    - those cohorts hold at least ``min_share`` of the users behind period 0.

    With the defaults, on 28 days of daily cohorts of similar size the curve stops at
    about day 24 (the last periods rest on 3-4 cohorts); pass ``min_cohorts=1,
    min_share=0`` for every period any cohort reaches.

    Parameters
    ----------
    retention_table : DataFrame
        Output of :func:`retention`.
    min_cohorts : int
        Fewest cohorts a period must average (capped at the number of cohorts seen at
        period 0, so a table of one or two cohorts still gives a curve).
    min_share : float
        Smallest part (0 to 1) of the period-0 users a period must rest on.

    Returns
    -------
    DataFrame
        ``period`` (int64, N), ``retention`` (float64 fraction), ``users`` (int64: users in
        the cohorts behind the point), ``cohorts`` (int64: how many cohorts). Periods no
        cohort reaches, or resting on too few cohorts or users, are left out.
    """
    _require(retention_table, ("cohort_size",), "retention_table")
    if min_cohorts < 1:
        raise ValueError(f"min_cohorts must be >= 1, not {min_cohorts!r}")
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be between 0 and 1, not {min_share!r}")
    sizes = retention_table["cohort_size"].to_numpy(dtype="float64")
    rows = []
    for col in retention_table.columns:
        if col == "cohort_size":
            continue
        vals = retention_table[col].to_numpy(dtype="float64")
        seen = ~np.isnan(vals)
        base = sizes[seen].sum()
        if base > 0:
            rate = float((vals[seen] * sizes[seen]).sum() / base)
            rows.append((int(col), rate, int(base), int(seen.sum())))
    if rows:
        # the floor is relative to the first period reported (period 0 unless the caller
        # dropped columns): every cohort is seen there
        first_users, first_cohorts = rows[0][2], rows[0][3]
        need_cohorts = min(min_cohorts, first_cohorts)
        rows = [r for r in rows if r[3] >= need_cohorts and r[2] >= min_share * first_users]
    return pd.DataFrame(
        {
            "period": pd.Series([r[0] for r in rows], dtype="int64"),
            "retention": pd.Series([r[1] for r in rows], dtype="float64"),
            "users": pd.Series([r[2] for r in rows], dtype="int64"),
            "cohorts": pd.Series([r[3] for r in rows], dtype="int64"),
        }
    )


# --------------------------------------------------------------------------- events


def _is_message(names: pd.Series) -> np.ndarray:
    """Rows whose event name starts with "." (Leanplum's own events, spec 4, D8)."""
    if isinstance(names.dtype, pd.CategoricalDtype):
        # test the few categories, then look the rows up by code (-1, missing, is False)
        cats = names.cat.categories.astype(str).str.startswith(".")
        flags = np.append(np.asarray(cats, dtype=bool), False)
        return flags[names.cat.codes.to_numpy()]
    return names.astype("string").str.startswith(".").fillna(False).to_numpy(dtype=bool)


def _with_sessions(
    events: Any, sessions: Any | None, needed: bool, columns: tuple[str, ...]
) -> tuple[tuple[Any, ...], tuple[tuple[str, ...], ...]]:
    """The frames a reduction over events takes: events, plus sessions when ``needed``."""
    if needed and sessions is not None:
        _require(events, ("sessionId",), "events")
        _require(sessions, ("sessionId", "userId"), "sessions")
        return (events, sessions), (columns, ("sessionId", "userId", "timezoneOffset"))
    return (events,), (columns,)


def event_counts(
    events: pd.DataFrame,
    *,
    freq: str = "D",
    tz: TimeZone = "pacific",
    names: list[str] | None = None,
    sessions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Number of events per period and event name (long form, zeros included).

    Parameters
    ----------
    events : DataFrame
        The events table (``eventName``, ``start``; ``sessionId`` with ``sessions``).
    freq : {"D", "W", "M"}
        Calendar day, week (Monday start) or month.
    tz : {"pacific", "utc", "local"}
        Calendar; ``"local"`` needs ``sessions`` (for ``timezoneOffset``) unless ``events``
        already carries a ``timezoneOffset`` column.
    names : list of str, optional
        Event names to count (in this order); default every name present.
    sessions : DataFrame, optional
        The sessions table, only for ``tz="local"``.

    Returns
    -------
    DataFrame
        ``period`` (datetime64, naive), ``eventName`` (str), ``count`` (int64); one row per
        period between the first and last event and per name.
    """
    code = _check_freq(freq)
    _check_tz(tz)
    _require(events, ("eventName", "start"), "events")
    join = tz == "local" and "timezoneOffset" not in events.columns
    if join and sessions is None:
        raise ValueError(
            "tz='local' for events needs their session's timezoneOffset: pass sessions=..."
        )
    frames, columns = _with_sessions(
        events, sessions, join, ("sessionId", "eventName", "start", "timezoneOffset")
    )
    wanted = list(names) if names is not None else None
    reduction = Reduction(
        reduce=partial(_reduce_event_counts, tz=tz, code=code, names=wanted),
        combine={"counts": total},
        finalize=partial(_finalize_event_counts, code=code, names=wanted),
        columns=columns,
        name="event_counts",
    )
    return run(reduction, *frames)


def _reduce_event_counts(
    events: pd.DataFrame,
    sessions: pd.DataFrame | None = None,
    *,
    tz: TimeZone,
    code: str,
    names: list[str] | None,
) -> Partial:
    ev = events if names is None else _named(events, names)
    if sessions is not None:
        ev = _events_with_users(ev, sessions)
    periods = _period_start(_event_times(ev, tz), code).astype("datetime64[ns]")
    frame = pd.DataFrame(
        {"period": periods.array, "eventName": ev["eventName"].astype("string").array}
    )
    counts = frame.dropna().groupby(["period", "eventName"]).size()
    return {"counts": counts.astype("int64")}


def _finalize_event_counts(p: Partial, *, code: str, names: list[str] | None) -> pd.DataFrame:
    counts = p["counts"]
    if counts.empty:
        return _empty({"period": "datetime64[ns]", "eventName": "string", "count": "int64"})
    periods = counts.index.get_level_values("period")
    grid = _period_range(periods.min(), periods.max(), code)
    found = counts.index.get_level_values("eventName").astype(str)
    order = names if names is not None else sorted(set(found))
    counts.index = pd.MultiIndex.from_arrays([periods, found], names=["period", "eventName"])
    full = pd.MultiIndex.from_product([grid, order], names=["period", "eventName"])
    counts = counts.reindex(full, fill_value=0)
    return pd.DataFrame(
        {
            "period": pd.Series(full.get_level_values(0), dtype="datetime64[ns]"),
            "eventName": pd.Series(full.get_level_values(1), dtype="string"),
            "count": counts.to_numpy(dtype="int64"),
        }
    )


def top_events(
    events: pd.DataFrame,
    *,
    n: int = 10,
    exclude_messages: bool = True,
    sessions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The most frequent events, with the sessions and users that sent them.

    Parameters
    ----------
    events : DataFrame
        The events table.
    n : int
        How many names to return (most frequent first; ties by name).
    exclude_messages : bool
        Leave out Leanplum's own events, whose names start with ``.`` (message sends and
        actions such as ``.m123`` and ``.m123 Open``).
    sessions : DataFrame, optional
        The sessions table, to count distinct users; without it (and without a ``userId``
        column in ``events``) ``users`` is missing.

    Returns
    -------
    DataFrame
        ``eventName`` (str), ``count`` (int64), ``sessions`` (int64: distinct sessions),
        ``users`` (Int64: distinct users).
    """
    _require(events, ("eventName", "sessionId"), "events")
    join = "userId" not in events.columns and sessions is not None
    frames, columns = _with_sessions(events, sessions, join, ("sessionId", "eventName", "userId"))
    with_users = join or "userId" in events.columns
    pieces: dict[str, Any] = {"count": total, "sessions": distinct, "users": distinct}
    if not with_users:
        pieces.pop("users")
    reduction = Reduction(
        reduce=partial(_reduce_top_events, exclude_messages=exclude_messages),
        combine=pieces,
        finalize=partial(_finalize_top_events, n=n),
        columns=columns,
        name="top_events",
    )
    return run(reduction, *frames)


def _distinct_pairs(
    name_codes: np.ndarray, name_labels: np.ndarray, values: pd.Series, column: str
) -> pd.DataFrame:
    """Distinct (eventName, value) pairs, deduplicated on integer codes (fast), as text."""
    value_codes, value_labels = pd.factorize(values, use_na_sentinel=True)
    codes = pd.DataFrame({"n": name_codes, "v": value_codes})
    codes = codes[(codes["n"] >= 0) & (codes["v"] >= 0)].drop_duplicates()
    return pd.DataFrame(
        {
            "eventName": pd.array(name_labels[codes["n"].to_numpy()], dtype="string"),
            column: np.asarray(value_labels)[codes["v"].to_numpy()],
        }
    )


def _reduce_top_events(
    events: pd.DataFrame, sessions: pd.DataFrame | None = None, *, exclude_messages: bool
) -> Partial:
    ev = events if sessions is None else _events_with_users(events, sessions)
    if exclude_messages:
        ev = ev.loc[~_is_message(ev["eventName"])]
    # a categorical column factorizes on its codes: no string is hashed per row
    codes, uniques = pd.factorize(ev["eventName"], use_na_sentinel=True)
    labels = np.asarray(uniques, dtype=object)
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    out: Partial = {
        "count": pd.Series(counts.astype("int64"), index=pd.Index(labels.astype(str))),
        "sessions": _distinct_pairs(codes, labels, ev["sessionId"], "sessionId"),
    }
    if "userId" in ev.columns:
        out["users"] = _distinct_pairs(codes, labels, ev["userId"].astype("string"), "userId")
    return out


def _finalize_top_events(p: Partial, *, n: int) -> pd.DataFrame:
    counts = p["count"]
    out = pd.DataFrame({"eventName": counts.index.astype(str), "count": counts.to_numpy()})
    sessions = p["sessions"].groupby("eventName").size()
    out["sessions"] = sessions.reindex(out["eventName"], fill_value=0).to_numpy(dtype="int64")
    if "users" in p:
        users = p["users"].groupby("eventName").size()
        out["users"] = pd.array(
            users.reindex(out["eventName"], fill_value=0).to_numpy(), dtype="Int64"
        )
    else:
        out["users"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out = out.sort_values(["count", "eventName"], ascending=[False, True])
    out = out.head(n).reset_index(drop=True)
    out["eventName"] = out["eventName"].astype("string")
    out["count"] = out["count"].astype("int64")
    return out[["eventName", "count", "sessions", "users"]]


def funnel(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    steps: list[str],
    *,
    within: pd.Timedelta | str = "1D",
) -> pd.DataFrame:
    """Ordered conversion funnel per user.

    A user reaches step k if they sent the events of steps 1..k in that order (each strictly
    after the previous one, ties broken by table order), with step k no later than
    ``within`` after step 1. Every occurrence of step 1 is tried as a start, so a late
    attempt that completes counts even if an earlier one stalled.

    Parameters
    ----------
    events : DataFrame
        The events table (``sessionId``, ``eventName``, ``start``).
    sessions : DataFrame
        The sessions table, to map sessions to users.
    steps : list of str
        Event names, in funnel order (a name may repeat).
    within : Timedelta
        Longest time from step 1 to the last step reached.

    Returns
    -------
    DataFrame
        ``step`` (str, the event name), ``users`` (int64: users reaching the step),
        ``conversion`` (float64: users / users at step 1), ``drop_off`` (float64: share of
        the previous step's users lost at this step; 0 for step 1).
    """
    steps = list(steps)
    if not steps:
        raise ValueError("funnel needs at least one step")
    within = pd.Timedelta(within)
    if within < pd.Timedelta(0):
        raise ValueError(f"within must not be negative, got {within}")
    _require(events, ("sessionId", "eventName", "start"), "events")
    _require(sessions, ("sessionId", "userId"), "sessions")
    reduction = Reduction(
        prepare=partial(_funnel_rows, steps=steps),
        reduce=partial(_reduce_funnel, steps=steps, within_ms=within // pd.Timedelta("1ms")),
        combine={"reached": added},
        finalize=partial(_finalize_funnel, steps=steps),
        columns=(("sessionId", "eventName", "start"), ("sessionId", "userId")),
        name="funnel",
    )
    return run(reduction, events, sessions)


def _funnel_rows(
    events: pd.DataFrame, sessions: pd.DataFrame, *, steps: list[str], part: int
) -> pd.DataFrame:
    """The steps' events with their user, time (ms) and place in the table (``order``)."""
    ev = _events_with_users(_named(events, steps)[["sessionId", "eventName", "start"]], sessions)
    naive = pd.to_datetime(ev["start"], utc=True).dt.tz_localize(None)
    rows = pd.DataFrame(
        {
            "userId": ev["userId"].astype("string").array,
            "name": ev["eventName"].astype("string").array,
            "t": naive.to_numpy(dtype="datetime64[ms]").astype("int64"),
            # partition number, then row: table order across partitions (ties break by it)
            "order": (np.int64(part) << np.int64(40)) + np.arange(len(ev), dtype="int64"),
        }
    )
    known = rows["userId"].notna().to_numpy() & naive.notna().to_numpy()
    return rows[known].reset_index(drop=True)


def _reduce_funnel(rows: pd.DataFrame, *, steps: list[str], within_ms: int) -> Partial:
    """Users reaching each step, from rows holding every step event of their users."""
    # integer user codes and millisecond times (exact even as float64 after merge_asof):
    # sorting and merge_asof on strings and tz-aware timestamps cost several times more
    ev = pd.DataFrame(
        {
            "userId": pd.factorize(rows["userId"])[0],
            "name": rows["name"].array,
            "t": rows["t"].to_numpy(dtype="int64"),
            "order": rows["order"].to_numpy(dtype="int64"),
        }
    )
    # one order by (user, time, table order): "after" means a larger position
    ev = ev.sort_values(["userId", "t", "order"], ignore_index=True)
    ev["pos"] = np.arange(len(ev), dtype="int64")
    chains = ev.loc[ev["name"] == steps[0], ["userId", "pos", "t"]].rename(columns={"t": "t0"})
    reached = [chains["userId"].nunique()]
    for name in steps[1:]:
        chains = _next_step(chains, ev.loc[ev["name"] == name, ["userId", "pos", "t"]], within_ms)
        reached.append(chains["userId"].nunique())
    return {"reached": np.array(reached, dtype="int64")}


def _next_step(chains: pd.DataFrame, cand: pd.DataFrame, within_ms: int) -> pd.DataFrame:
    """Chains (userId, pos, t0) extended to the next candidate event within the window."""
    if chains.empty or cand.empty:
        return chains.iloc[0:0]
    # later starts reaching the same position dominate earlier ones (tighter window)
    chains = chains.sort_values("t0").drop_duplicates("pos", keep="last").sort_values("pos")
    nxt = pd.merge_asof(
        chains,
        cand.rename(columns={"pos": "pos_next", "t": "t_next"}).sort_values("pos_next"),
        left_on="pos",
        right_on="pos_next",
        by="userId",
        direction="forward",
        allow_exact_matches=False,
    ).dropna(subset=["pos_next"])
    nxt = nxt[nxt["t_next"] - nxt["t0"] <= within_ms]
    return pd.DataFrame(
        {
            "userId": nxt["userId"].array,
            "pos": nxt["pos_next"].to_numpy(dtype="int64"),
            "t0": nxt["t0"].array,
        }
    )


def _finalize_funnel(p: Partial, *, steps: list[str]) -> pd.DataFrame:
    users = p["reached"]
    first = users[0]
    conversion = users / first if first else np.full(len(users), np.nan)
    prev = np.concatenate([[first], users[:-1]]).astype("float64")
    drop = _ratio(prev - users, prev)
    drop[0] = 0.0 if first else np.nan
    return pd.DataFrame(
        {
            "step": pd.Series(steps, dtype="string"),
            "users": users,
            "conversion": conversion.astype("float64"),
            "drop_off": drop,
        }
    )


# --------------------------------------------------------------------------- money


def revenue(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    *,
    event: str = "Purchase",
    tz: TimeZone = "pacific",
    by: Literal["session", "event"] = "session",
) -> pd.DataFrame:
    """Revenue per day from the ``value`` of purchase events, with ARPDAU and ARPPU.

    By default a purchase counts on the day its *session* started, like the session itself:
    the export selects whole sessions by start day, so every day then holds all of its
    sessions' revenue and ARPDAU divides like by like. ``by="event"`` uses the purchase's
    own time instead (a purchase after midnight in a late session moves to the next day,
    and the day after the last exported day gets a sliver of revenue).

    Parameters
    ----------
    events : DataFrame
        The events table (``sessionId``, ``eventName``, ``start``, ``value``).
    sessions : DataFrame
        The sessions table (users, active users, ``timezoneOffset`` for ``tz="local"``).
    event : str
        Name of the purchase event; its ``value`` is the revenue (missing counts as 0).
    tz : {"pacific", "utc", "local"}
        Calendar of the days.
    by : {"session", "event"}
        Day of a purchase: its session's start, or its own time.

    Returns
    -------
    DataFrame
        ``day`` (datetime64, naive), ``revenue`` (float64), ``paying_users`` (int64: distinct
        users with a purchase that day), ``active_users`` (int64: DAU), ``arpdau`` (float64:
        revenue / active_users), ``arppu`` (float64: revenue / paying_users; NaN without
        payers).
    """
    _check_tz(tz)
    if by not in ("session", "event"):
        raise ValueError(f"by must be 'session' or 'event', not {by!r}")
    _require(events, ("sessionId", "eventName", "start", "value"), "events")
    _require(sessions, ("sessionId",), "sessions")
    _check_user_periods(sessions, tz)
    reduction = Reduction(
        reduce=partial(_reduce_revenue, event=event, tz=tz, by=by),
        combine={"revenue": total, "payers": distinct, "pairs": distinct},
        finalize=_finalize_revenue,
        columns=(
            ("sessionId", "eventName", "start", "value"),
            ("sessionId", *_SESSION_DAY_COLUMNS),
        ),
        name="revenue",
    )
    return run(reduction, events, sessions)


def _reduce_revenue(
    events: pd.DataFrame, sessions: pd.DataFrame, *, event: str, tz: TimeZone, by: str
) -> Partial:
    ev = _events_with_users(_named(events, [event]), sessions, session_start=by == "session")
    if by == "session":
        offsets = ev["timezoneOffset"] if tz == "local" else None
        when = local_times(ev["sessionStart"], tz, offsets)
    else:
        when = _event_times(ev, tz)
    buys = pd.DataFrame(
        {
            "day": _period_start(when, "D").astype("datetime64[ns]").array,
            "userId": ev["userId"].astype("string").array,
            "value": pd.to_numeric(ev["value"], errors="coerce").fillna(0.0).to_numpy(),
        }
    )
    return {
        "revenue": buys.groupby("day")["value"].sum().astype("float64"),
        "payers": buys[["day", "userId"]].dropna().drop_duplicates(ignore_index=True),
        "pairs": _user_periods(_real_sessions(sessions), tz, "D"),
    }


def _finalize_revenue(p: Partial) -> pd.DataFrame:
    rev, up = p["revenue"], p["pairs"]
    days = pd.concat([up["period"], pd.Series(rev.index, dtype="datetime64[ns]")]).dropna()
    if days.empty:
        return _empty(
            {
                "day": "datetime64[ns]",
                "revenue": "float64",
                "paying_users": "int64",
                "active_users": "int64",
                "arpdau": "float64",
                "arppu": "float64",
            }
        )
    grid = _period_range(days.min(), days.max(), "D")
    out = _days_frame(grid)
    out["revenue"] = rev.reindex(grid, fill_value=0.0).to_numpy(dtype="float64")
    out["paying_users"] = _per_period(p["payers"], grid, "day")
    out["active_users"] = _per_period(up, grid)
    out["arpdau"] = _ratio(out["revenue"].to_numpy(), out["active_users"].to_numpy())
    out["arppu"] = _ratio(out["revenue"].to_numpy(), out["paying_users"].to_numpy())
    return out


_EXPERIMENT_COLUMNS = {
    "experimentId": "int64",
    "variantId": "int64",
    "is_control": "bool",
    "users": "int64",
    "converters": "int64",
    "conversion": "float64",
    "conversion_low": "float64",
    "conversion_high": "float64",
    "revenue_per_user": "float64",
    "rpu_low": "float64",
    "rpu_high": "float64",
    "lift": "float64",
    "lift_low": "float64",
    "lift_high": "float64",
    "rpu_lift": "float64",
    "rpu_lift_low": "float64",
    "rpu_lift_high": "float64",
}
_ENTRY_KEYS = ["experimentId", "userId", "variantId"]


def _wilson(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    n = n.astype("float64")
    p = np.divide(k, n, out=np.full(len(n), np.nan), where=n > 0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


def _ratio_interval(
    a: float, var_a: float, b: float, var_b: float, z: float
) -> tuple[float, float, float]:
    """a/b - 1 with a delta-method interval on log(a/b); NaN where undefined."""
    if not (a > 0 and b > 0):
        lift = a / b - 1 if b > 0 else np.nan
        return lift, np.nan, np.nan
    se = np.sqrt(var_a / (a * a) + var_b / (b * b))
    log_r = np.log(a / b)
    return a / b - 1, float(np.exp(log_r - z * se) - 1), float(np.exp(log_r + z * se) - 1)


def experiment_results(
    experiments: pd.DataFrame,
    sessions: pd.DataFrame,
    events: pd.DataFrame,
    *,
    conversion_event: str = "Purchase",
    confidence: float = 0.95,
    control: int | dict[int, int] | None = None,
) -> pd.DataFrame:
    """A/B test comparison by variant: users, conversion and revenue per user, with intervals.

    A user enters an experiment at the start of their first session listing it (a user
    listed under several variants of one experiment keeps the first one, and a warning is
    logged). A user converts if they send ``conversion_event`` at or after entering; their
    revenue is the sum of its ``value`` from then on (0 for non-converters).

    Intervals at ``confidence``: Wilson score for ``conversion``; normal (CLT) for
    ``revenue_per_user``; ``lift`` is the relative difference in conversion against the
    control variant (``conversion / control conversion - 1``) and ``rpu_lift`` the same for
    revenue per user, both with delta-method intervals on the log ratio. An interval that
    excludes 0 marks a difference at that confidence. Control rows have lift 0 and no
    interval.

    Parameters
    ----------
    experiments : DataFrame
        The experiments table (``experimentId``, ``sessionId``, ``variantId``).
    sessions : DataFrame
        The sessions table (``sessionId``, ``userId``, ``start``).
    events : DataFrame
        The events table.
    conversion_event : str
        Event name that counts as a conversion.
    confidence : float
        Confidence level of the intervals, between 0 and 1.
    control : int or dict, optional
        Control variantId (for every experiment, or per experimentId); default the lowest
        variantId of each experiment.

    Returns
    -------
    DataFrame
        ``experimentId``, ``variantId`` (int64), ``is_control`` (bool), ``users``,
        ``converters`` (int64), ``conversion``, ``conversion_low``, ``conversion_high``,
        ``revenue_per_user``, ``rpu_low``, ``rpu_high``, ``lift``, ``lift_low``,
        ``lift_high``, ``rpu_lift``, ``rpu_lift_low``, ``rpu_lift_high`` (float64).
    """
    z = _z(confidence)
    _require(experiments, ("experimentId", "sessionId", "variantId"), "experiments")
    _require(sessions, ("sessionId", "userId", "start"), "sessions")
    _require(events, ("sessionId", "eventName", "start", "value"), "events")
    reduction = Reduction(
        reduce=partial(_reduce_experiments, event=conversion_event),
        combine={"entries": earliest(_ENTRY_KEYS, "start"), "buys": stacked},
        finalize=partial(_finalize_experiments, z=z, control=control),
        columns=(
            ("experimentId", "sessionId", "variantId"),
            ("sessionId", "userId", "start"),
            ("sessionId", "eventName", "start", "value"),
        ),
        name="experiment_results",
    )
    return run(reduction, experiments, sessions, events)


def _reduce_experiments(
    experiments: pd.DataFrame, sessions: pd.DataFrame, events: pd.DataFrame, *, event: str
) -> Partial:
    """Each (experiment, user, variant)'s first entry, and the conversion events."""
    members = experiments[["experimentId", "sessionId", "variantId"]].merge(
        sessions[["sessionId", "userId", "start"]].drop_duplicates("sessionId"), on="sessionId"
    )
    members = members.dropna(subset=["userId", "start"])
    entries = pd.DataFrame(
        {
            "experimentId": members["experimentId"].to_numpy(dtype="int64"),
            "userId": members["userId"].astype("string").array,
            "variantId": members["variantId"].to_numpy(dtype="int64"),
            "start": members["start"].array,
        }
    )
    ev = _events_with_users(_named(events, [event]), sessions)
    buys = pd.DataFrame(
        {
            "userId": ev["userId"].astype("string").array,
            "t": ev["start"].array,
            "value": pd.to_numeric(ev["value"], errors="coerce").fillna(0.0).to_numpy(),
        }
    )
    return {"entries": earliest_rows(entries, _ENTRY_KEYS, "start"), "buys": buys}


def _finalize_experiments(
    p: Partial, *, z: float, control: int | dict[int, int] | None
) -> pd.DataFrame:
    members = p["entries"]
    if members.empty:
        return _empty(_EXPERIMENT_COLUMNS)
    variants_per_user = members.groupby(["experimentId", "userId"])["variantId"].nunique()
    if (variants_per_user > 1).any():
        logger.warning(
            "%d user(s) appear under several variants of one experiment; keeping the first",
            int((variants_per_user > 1).sum()),
        )
    entry = members.drop_duplicates(["experimentId", "userId"], keep="first")
    entry = entry.rename(columns={"start": "entered"})
    joined = entry.merge(p["buys"], on="userId", how="left")
    after = (joined["t"] >= joined["entered"]).fillna(False).to_numpy(dtype=bool)
    joined["conv"] = after
    joined["rev"] = np.where(after, joined["value"].fillna(0.0).to_numpy(), 0.0)
    per_user = joined.groupby(["experimentId", "variantId", "userId"], as_index=False).agg(
        conv=("conv", "any"), rev=("rev", "sum")
    )
    g = per_user.groupby(["experimentId", "variantId"])
    out = pd.DataFrame(
        {
            "users": g.size(),
            "converters": g["conv"].sum(),
            "rev_mean": g["rev"].mean(),
            "rev_var": g["rev"].var(ddof=1).fillna(0.0),
        }
    ).reset_index()
    n = out["users"].to_numpy(dtype="float64")
    k = out["converters"].to_numpy(dtype="float64")
    out["conversion"] = k / n
    out["conversion_low"], out["conversion_high"] = _wilson(k, n, z)
    se_rpu = np.sqrt(out["rev_var"].to_numpy() / n)
    out["revenue_per_user"] = out["rev_mean"]
    out["rpu_low"] = out["rev_mean"] - z * se_rpu
    out["rpu_high"] = out["rev_mean"] + z * se_rpu
    out["is_control"], lifts = _lifts(out, z, control)
    for key, values in lifts.items():
        out[key] = values
    return out[list(_EXPERIMENT_COLUMNS)].astype(_EXPERIMENT_COLUMNS).reset_index(drop=True)


def _lifts(
    out: pd.DataFrame, z: float, control: int | dict[int, int] | None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Which row is each experiment's control, and every row's lifts against it."""
    # ids go past 2**53: keep them in int64 arrays (a row-wise iterrows would turn them to float)
    exp_ids = out["experimentId"].to_numpy(dtype="int64")
    var_ids = out["variantId"].to_numpy(dtype="int64")
    n = out["users"].to_numpy(dtype="float64")
    conv_p = out["conversion"].to_numpy(dtype="float64")
    mean = out["rev_mean"].to_numpy(dtype="float64")
    var = out["rev_var"].to_numpy(dtype="float64")
    keys = ("lift", "lift_low", "lift_high", "rpu_lift", "rpu_lift_low", "rpu_lift_high")
    result = {c: np.full(len(out), np.nan) for c in keys}
    is_control = np.zeros(len(out), dtype=bool)
    for exp_id in pd.unique(exp_ids):
        rows = np.flatnonzero(exp_ids == exp_id)
        if isinstance(control, dict):
            ctl = int(control.get(int(exp_id), var_ids[rows].min()))
        elif control is not None:
            ctl = int(control)
        else:
            ctl = int(var_ids[rows].min())
        matches = rows[var_ids[rows] == ctl]
        if len(matches) == 0:
            raise ValueError(f"control variant {ctl} is not in experiment {exp_id}")
        c = int(matches[0])
        for i in rows:
            if i == c:
                is_control[i] = True
                result["lift"][i] = result["rpu_lift"][i] = 0.0
                continue
            p1, p0 = conv_p[i], conv_p[c]
            conv = _ratio_interval(p1, p1 * (1 - p1) / n[i], p0, p0 * (1 - p0) / n[c], z)
            rpu = _ratio_interval(mean[i], var[i] / n[i], mean[c], var[c] / n[c], z)
            for key, value in zip(keys, (*conv, *rpu), strict=True):
                result[key][i] = value
    return is_control, result


def message_stats(events: pd.DataFrame) -> pd.DataFrame:
    """Sends and opens of in-app and push messages, from their event names.

    Leanplum records a message send as an event named ``.m<messageId>`` and an open as
    ``.m<messageId> Open`` (spec 5.1); other actions (``View``, ``Accept``...) are ignored.

    Parameters
    ----------
    events : DataFrame
        The events table (``eventName``).

    Returns
    -------
    DataFrame
        ``messageId`` (int64), ``sent`` (int64), ``opened`` (int64), ``open_rate``
        (float64: opened / sent; NaN when nothing was sent), most sent first.
    """
    _require(events, ("eventName",), "events")
    reduction = Reduction(
        reduce=_reduce_message_stats,
        combine={"names": total},
        finalize=_finalize_message_stats,
        columns=(("eventName",),),
        name="message_stats",
    )
    return run(reduction, events)


def _reduce_message_stats(events: pd.DataFrame) -> Partial:
    counts = events["eventName"].value_counts(sort=False)  # per category: no text per row
    counts = counts[counts.to_numpy() > 0]
    labels = pd.Index(counts.index.astype(str))
    keep = np.asarray(labels.str.startswith(".m"), dtype=bool)
    return {"names": pd.Series(counts.to_numpy(dtype="int64")[keep], index=labels[keep])}


def _finalize_message_stats(p: Partial) -> pd.DataFrame:
    counts = p["names"]
    names = counts.index.to_series().astype(str)
    sent_id = names.str.extract(_SENT_RE, expand=False)
    open_id = names.str.extract(_OPEN_RE, expand=False)
    sent = pd.Series(counts.to_numpy()[sent_id.notna().to_numpy()], index=sent_id.dropna())
    opened = pd.Series(counts.to_numpy()[open_id.notna().to_numpy()], index=open_id.dropna())
    ids = sorted(set(sent.index) | set(opened.index), key=int)
    out = pd.DataFrame(
        {
            "messageId": pd.Series([int(i) for i in ids], dtype="int64"),
            "sent": sent.groupby(level=0).sum().reindex(ids, fill_value=0).to_numpy(dtype="int64"),
            "opened": opened.groupby(level=0)
            .sum()
            .reindex(ids, fill_value=0)
            .to_numpy(dtype="int64"),
        }
    )
    out["open_rate"] = _ratio(out["opened"].to_numpy(), out["sent"].to_numpy())
    return out.sort_values(["sent", "messageId"], ascending=[False, True], ignore_index=True)


def breakdown(
    sessions: pd.DataFrame,
    by: str,
    *,
    metric: Literal["users", "sessions"] = "users",
    top: int | None = None,
) -> pd.DataFrame:
    """Users or sessions by a session attribute (platform, country, app version...).

    Parameters
    ----------
    sessions : DataFrame
        The sessions table; ``isSession = False`` records are left out.
    by : str
        Column to group by, e.g. ``"client"``, ``"country"``, ``"appVersion"``.
    metric : {"users", "sessions"}
        Distinct users (a user seen under two values counts in both) or sessions.
    top : int, optional
        Keep the ``top`` largest groups and add the rest up as ``"(other)"``.

    Returns
    -------
    DataFrame
        ``<by>`` (str; missing values as ``"(unknown)"``), ``users`` or ``sessions`` (int64),
        ``share`` (float64: the group's part of the column total), largest first.
    """
    if metric not in ("users", "sessions"):
        raise ValueError(f"metric must be 'users' or 'sessions', not {metric!r}")
    _require(sessions, (by, "userId"), "sessions")
    reduction = Reduction(
        reduce=partial(_reduce_breakdown, by=by, metric=metric),
        combine={"groups": distinct if metric == "users" else total},
        finalize=partial(_finalize_breakdown, by=by, metric=metric, top=top),
        columns=(tuple(dict.fromkeys((by, "userId", "isSession"))),),
        name="breakdown",
    )
    return run(reduction, sessions)


def _reduce_breakdown(sessions: pd.DataFrame, *, by: str, metric: str) -> Partial:
    real = _real_sessions(sessions)
    keys = real[by].astype("string").fillna("(unknown)")
    if metric == "sessions":
        counts = keys.value_counts(sort=False)
        return {"groups": pd.Series(counts.to_numpy(dtype="int64"), index=counts.index.astype(str))}
    frame = pd.DataFrame({by: keys.array, "userId": real["userId"].astype("string").array})
    return {"groups": frame.dropna(subset=["userId"]).drop_duplicates(ignore_index=True)}


def _finalize_breakdown(p: Partial, *, by: str, metric: str, top: int | None) -> pd.DataFrame:
    groups = p["groups"]
    counts = groups.groupby(by).size() if metric == "users" else groups
    out = pd.DataFrame({by: counts.index.astype(str), metric: counts.to_numpy(dtype="int64")})
    out = out.sort_values([metric, by], ascending=[False, True], ignore_index=True)
    if top is not None and len(out) > top:
        rest = int(out[metric].iloc[top:].sum())
        out = pd.concat(
            [out.iloc[:top], pd.DataFrame({by: ["(other)"], metric: [rest]})], ignore_index=True
        )
    total_count = out[metric].sum()
    out[by] = out[by].astype("string")
    out[metric] = out[metric].astype("int64")
    out["share"] = out[metric] / total_count if total_count else pd.Series(dtype="float64")
    out["share"] = out["share"].astype("float64")
    return out
