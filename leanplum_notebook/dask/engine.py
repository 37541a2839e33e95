"""The same analysis on Dask, for exports larger than one machine's memory.

>>> from leanplum_notebook import dask_engine as lde
>>> tables = lde.load_dask(export)                 # an Export, parts, a folder, files, s3://
>>> lde.active_users(tables.sessions).head()       # pandas result, same as metrics.active_users
>>> lde.funnel(tables.events, tables.sessions, ["Open Store", "View Item", "Purchase"])

Loading. :func:`load_dask` returns :class:`DaskTables`: one Dask DataFrame per table, typed
exactly as the pandas tables (:func:`leanplum_notebook.schema.pandas_dtypes`). It reads the
loader's Parquet cache (``<entry>/parquet``), writing it first where missing by calling the
pandas loader per part (which streams: it does not hold the data); with a
``distributed.Client`` those parts are parsed on the workers in parallel. Raw files can also
be read directly (``use_parquet=False``, and for ``s3://`` URLs of the export's S3 copy),
with the loader's own streaming parsers.

Partitioning. Each partition of every table comes from the same *unit* (a run of Parquet
row groups of about ``sessions_per_partition`` sessions, a whole part, or one raw JSON file),
so partition ``i`` of ``events`` holds exactly the events of the sessions in partition ``i``
of ``sessions``: joins on ``sessionId`` run partition by partition with no shuffle. Frames
that lost that alignment (filtered, repartitioned, from elsewhere) are shuffled on
``sessionId`` instead. User-level work (funnels) is shuffled on ``userId``, so each user's
events meet in one partition; daily counts are reduced to distinct ``(userId, day)`` pairs,
a small table, per partition and then globally.

Metrics. The functions here have the names and arguments of :mod:`leanplum_notebook.metrics`
and return the same pandas DataFrames. Each reduces the Dask tables in parallel to a
pandas-sized intermediate that carries everything the metric depends on (distinct user-days,
each user's first run, purchases, experiment entries...), then calls the pandas function of
``metrics`` on it, so both paths share one definition of every metric. Calendars are applied
while reducing; the intermediate holds wall-clock times marked as UTC and is passed with
``tz="utc"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from leanplum_notebook.analysis import metrics
from leanplum_notebook.dask.read import (
    Options,
    Unit,
    empty_frame,
    filesystem,
    find_sources,
    is_url,
    parquet_units,
    raw_units,
    read_meta_files,
    read_unit,
    sort_categories,
    unit_session_ids,
)
from leanplum_notebook.engines import is_dask
from leanplum_notebook.load.tables import TableSet

__all__ = [
    "DaskTables",
    "active_users",
    "breakdown",
    "engagement",
    "event_counts",
    "events_with_sessions",
    "experiment_results",
    "funnel",
    "is_dask",
    "load_dask",
    "message_stats",
    "new_users",
    "retention",
    "revenue",
    "session_lengths",
    "sessions_per_user",
    "top_events",
]

if TYPE_CHECKING:
    from leanplum_notebook.load.loader import Tables

logger = logging.getLogger(__name__)

TimeZone = Literal["pacific", "utc", "local"]

#: Expression name of every table frame made by load_dask -> token of its unit list. Two
#: frames with the same token have partitions that hold the same sessions.
_ALIGNED: dict[str, str] = {}


# ---------------------------------------------------------------------------------------
# Tables


class DaskTables(TableSet[dd.DataFrame]):
    """The six tables of :func:`load_dask` as Dask DataFrames.

    Attributes
    ----------
    sessions, states, events, event_parameters, user_attributes, experiments : dask DataFrame
        Columns and dtypes of :func:`leanplum_notebook.schema.pandas_dtypes` (or the
        requested subset). Partition ``i`` of every table holds the rows of the same
        sessions. A table not requested raises ``LookupError``.
    units : list
        What each partition is read from (for inspection).
    """

    _loader = "load_dask()"

    def __init__(self, frames: Mapping[str, dd.DataFrame], units: Sequence[Unit]) -> None:
        super().__init__(dict(frames))
        self.units = list(units)

    @property
    def npartitions(self) -> int:
        """Partitions of each table (the same for all)."""
        return len(self.units)

    def joined(self, **kwargs: Any) -> dd.DataFrame:
        """Events with their session's columns: :func:`events_with_sessions`."""
        return events_with_sessions(self.events, self.sessions, **kwargs)

    def compute(self, **kwargs: Any) -> Tables:
        """Compute every table into pandas (only for data that fits in memory).

        Returns
        -------
        Tables
            The pandas loader's :class:`~leanplum_notebook.load.Tables`: each table with
            sorted categories and a fresh RangeIndex; its ``report`` only lists the files
            (the counts of a pandas load are not collected on Dask).
        """
        from leanplum_notebook.load.loader import LoadReport, Tables

        names = list(self._frames)
        results = dask.compute(*(self._frames[n] for n in names), **kwargs)
        frames = {
            name: sort_categories(frame.reset_index(drop=True))
            for name, frame in zip(names, results, strict=True)
        }
        report = LoadReport(
            files=[Path(p) for u in self.units if u.kind != "parquet" for p in u.paths],
            parquet_used=all(u.kind == "parquet" for u in self.units),
        )
        return Tables(frames, report)

    def persist(self, **kwargs: Any) -> DaskTables:
        """Keep every table in the cluster's memory; returns new, still aligned tables."""
        names = list(self._frames)
        persisted = dask.persist(*(self._frames[n] for n in names), **kwargs)
        token = dask.base.tokenize(*(f._name for f in persisted))
        for frame in persisted:
            _ALIGNED[frame._name] = token
        return DaskTables(dict(zip(names, persisted, strict=True)), self.units)

    def __repr__(self) -> str:
        names = ", ".join(self._frames)
        return f"DaskTables({names}; {self.npartitions} partitions each)"


# ---------------------------------------------------------------------------------------
# Loading


def _write_parquet(item: Any, batch_sessions: int, on_bad_line: str = "error") -> str:
    """Parse one part into its Parquet cache with the pandas loader (runs on a worker)."""
    from leanplum_notebook.load.loader import load

    # Asking for one tiny column makes the loader write all six tables to Parquet and read
    # back almost nothing: the parse streams, so memory stays bounded by the batch.
    load(
        item,
        tables=["experiments"],
        columns={"experiments": ["experimentId"]},
        batch_sessions=batch_sessions,
        on_bad_line=on_bad_line,
        progress=False,
    )
    return "ok"


def _has_client() -> bool:
    try:
        from distributed import default_client

        default_client()
    except (ImportError, ValueError):
        return False
    return True


def _ensure_parquet(
    items: list[Any], parts: list[Any], batch_sessions: int, on_bad_line: str
) -> None:
    from leanplum_notebook.load.parquet import read_meta

    missing = [
        item
        for item, part in zip(items, parts, strict=True)
        if part.cache_dir is None or read_meta(part.cache_dir, part.files) is None
    ]
    if not missing:
        return
    logger.info("writing the Parquet cache of %d part(s)", len(missing))
    if _has_client() and len(missing) > 1:
        tasks = [
            dask.delayed(_write_parquet)(item, batch_sessions, on_bad_line) for item in missing
        ]
        dask.compute(*tasks)
    else:
        for item in missing:
            _write_parquet(item, batch_sessions, on_bad_line)


def _local_units(
    source: Any,
    *,
    days: frozenset[date] | None,
    use_parquet: bool,
    batch_sessions: int,
    sessions_per_partition: int,
    on_bad_line: str,
) -> tuple[list[Unit], list[tuple[int, int]]]:
    """Units of a local source, and each unit's rank for deduplication (lower wins)."""
    from leanplum_notebook.load.loader import _intersect, _resolve_source
    from leanplum_notebook.models import ExportPart

    parts = _resolve_source(source)
    if use_parquet:
        if hasattr(source, "parts") and not isinstance(source, (list, tuple)):
            source = list(source.parts)
        if isinstance(source, ExportPart):
            source = [source]
        by_parts = isinstance(source, list) and all(isinstance(p, ExportPart) for p in source)
        items: list[Any] = list(source) if by_parts else [list(p.files) for p in parts]
        _ensure_parquet(items, parts, batch_sessions, on_bad_line)
    # the pandas loader keeps a duplicate session from the newest part, and inside a part
    # its first occurrence
    newest_first = sorted(range(len(parts)), key=lambda i: parts[i].recency, reverse=True)
    rank = {index: position for position, index in enumerate(newest_first)}
    units: list[Unit] = []
    ranks: list[tuple[int, int]] = []
    for index, part in enumerate(parts):
        wanted = _intersect(days, part.days)
        part_days = tuple(sorted(wanted)) if wanted is not None else None
        if use_parquet and part.cache_dir is not None:
            fs, folder = filesystem(str(part.cache_dir), {})
            found = parquet_units(
                fs,
                folder,
                days=part_days,
                csv=part.format == "csv",
                sessions_per_partition=sessions_per_partition,
            )
        else:
            found = raw_units([str(f) for f in part.files], days=part_days)
        units.extend(found)
        ranks.extend((rank[index], position) for position in range(len(found)))
    return units, ranks


def _dedupe(units: list[Unit], ranks: list[tuple[int, int]], options: Options) -> list[Unit]:
    """Drop sessions that more than one unit supplies from all but the best-ranked one.

    One pass over the sessionIds (cheap from Parquet, a parse for raw files); only the
    duplicated ids come back to the client.
    """
    ids = dd.from_map(
        unit_session_ids,
        list(enumerate(units)),
        options=options,
        meta=pd.DataFrame(
            {"sessionId": pd.Series(dtype="int64"), "unit": pd.Series(dtype="int64")}
        ),
        label="leanplum-session-ids",
        enforce_metadata=False,
    )
    counts = ids["sessionId"].value_counts(split_out=max(1, len(units) // 16))
    duplicated = counts[counts > 1].compute()
    if duplicated.empty:
        return units
    rows = ids[ids["sessionId"].isin(list(duplicated.index))].compute()
    rows["rank"] = [ranks[i] for i in rows["unit"]]
    rows = rows.sort_values(["sessionId", "rank"], kind="stable")
    losers = rows[rows.duplicated("sessionId", keep="first")]
    drop = losers.groupby("unit")["sessionId"].apply(lambda s: tuple(sorted(int(x) for x in s)))
    logger.info("removing %d duplicate session(s) found in several parts", len(losers))
    return [
        replace(unit, drop=drop[index]) if index in drop.index else unit
        for index, unit in enumerate(units)
    ]


def _url_units(
    sources: Sequence[str],
    storage_options: dict[str, Any],
    *,
    days: frozenset[date] | None,
    sessions_per_partition: int,
) -> tuple[list[Unit], list[tuple[int, int]]]:
    """Units of URL sources (in order: the first supplier of a duplicate wins)."""
    wanted = tuple(sorted(days)) if days is not None else None
    units: list[Unit] = []
    for location in sources:
        folders, files = find_sources(location, storage_options)
        if folders:
            for folder in folders:
                fs, inner = filesystem(folder, storage_options)
                csv = any("-output-" not in name for name in read_meta_files(fs, inner))
                for unit in parquet_units(
                    fs,
                    inner,
                    days=wanted,
                    csv=csv,
                    sessions_per_partition=sessions_per_partition,
                ):
                    units.append(Unit(unit.kind, (folder,), unit.row_groups, unit.days))
        else:
            units.extend(raw_units(files, days=wanted))
    if not units:
        from leanplum_notebook.errors import ValidationError

        raise ValidationError("source", f"no Leanplum export files or Parquet cache in {sources}")
    return units, [(0, i) for i in range(len(units))]


def load_dask(
    source: Any,
    *,
    tables: Sequence[str] | str | None = None,
    columns: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    days: Any = None,
    storage_options: Mapping[str, Any] | None = None,
    use_parquet: bool = True,
    sessions_per_partition: int = 25_000,
    batch_sessions: int = 10_000,
    on_bad_line: str = "error",
    dedupe: bool | None = None,
) -> DaskTables:
    """Load a Leanplum export as six Dask DataFrames.

    Parameters
    ----------
    source : Export, sequence of ExportPart, ExportPart, path, URL or sequence of them
        As for :func:`leanplum_notebook.load.load`, plus fsspec URLs (``s3://bucket/prefix``)
        of raw export files (the export's S3 copy, ``.gz`` accepted, manifests ignored) or
        of copied Parquet cache folders (``<entry>/parquet``).
    tables : str or sequence of str, optional
        Subset of ``schema.TABLES`` (default all six).
    columns : sequence of str or dict of str to sequence of str, optional
        Columns to return, as for ``load``; only these are read from Parquet.
    days : date, str or iterable of them, optional
        Pacific days to keep, by session start; each cache part's own ``days`` apply too.
    storage_options : dict, optional
        For URLs: passed to fsspec, e.g. ``{"key": ..., "secret": ...,
        "client_kwargs": {"endpoint_url": ...}}`` for S3-compatible storage. Workers read
        the files themselves, so they need the same access.
    use_parquet : bool
        Local sources: read (and first write, where missing) the loader's Parquet cache.
        False parses the raw files in every computation (one partition per JSON file or per
        CSV export).
    sessions_per_partition : int
        Target sessions per partition when a Parquet cache can be split by row groups.
    batch_sessions : int
        Sessions per parsed batch when writing the cache (the loader's memory bound).
    on_bad_line : {"error", "skip"}
        As for ``load``: raise ``LoadError`` naming the file and line, or skip bad lines.
    dedupe : bool, optional
        Remove sessions supplied by more than one part (keeping the newest part's, as the
        pandas loader does) at the cost of one pass over the sessionIds. Default: only when
        some part has no day list (folders, files, URLs) and there is more than one
        partition; cache parts of one ``fetch`` cover disjoint days and need none.

    Returns
    -------
    DaskTables
        ``sessions``, ``states``, ``events``, ``event_parameters``, ``user_attributes``,
        ``experiments`` (the requested ones): Dask DataFrames with the columns and dtypes of
        the pandas tables (see :func:`leanplum_notebook.load.load`).

    Raises
    ------
    ValidationError
        A bad argument, before anything is read.
    """
    from leanplum_notebook.errors import ValidationError
    from leanplum_notebook.load.loader import _check_columns, _check_days, _check_tables

    table_names = _check_tables(tables)
    column_names = _check_columns(columns, table_names)
    wanted_days = _check_days(days)
    for name, value in (
        ("sessions_per_partition", sessions_per_partition),
        ("batch_sessions", batch_sessions),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(name, f"expected a positive int, not {value!r}")
    if on_bad_line not in ("error", "skip"):
        raise ValidationError("on_bad_line", f"expected 'error' or 'skip', not {on_bad_line!r}")
    so = dict(storage_options or {})
    urls = _as_urls(source)
    if urls is not None:
        units, ranks = _url_units(
            urls, so, days=wanted_days, sessions_per_partition=sessions_per_partition
        )
    else:
        if so:
            raise ValidationError("storage_options", "only apply to URL sources (s3://...)")
        units, ranks = _local_units(
            source,
            days=wanted_days,
            use_parquet=use_parquet,
            batch_sessions=batch_sessions,
            sessions_per_partition=sessions_per_partition,
            on_bad_line=on_bad_line,
        )
    options = Options(tuple(sorted(so.items())), batch_sessions, on_bad_line)
    if dedupe is None:
        dedupe = len(units) > 1 and any(unit.days is None for unit in units)
    if dedupe:
        units = _dedupe(units, ranks, options)
    token = dask.base.tokenize(units, options)
    frames: dict[str, dd.DataFrame] = {}
    for name in table_names:
        cols = tuple(column_names[name])
        frame = dd.from_map(
            read_unit,
            units,
            table=name,
            options=options,
            columns=list(cols),
            meta=_unknown_categories(empty_frame(name, cols)),
            label=f"leanplum-{name}",
            enforce_metadata=False,
        )
        _ALIGNED[frame._name] = token
        frames[name] = frame
    logger.info("loaded %d table(s) in %d partition(s) each", len(frames), len(units))
    return DaskTables(frames, units)


def _as_urls(source: Any) -> list[str] | None:
    if isinstance(source, str) and is_url(source):
        return [source]
    if (
        isinstance(source, (list, tuple))
        and source
        and all(isinstance(s, str) and is_url(s) for s in source)
    ):
        return list(source)
    return None


def _unknown_categories(meta: pd.DataFrame) -> pd.DataFrame:
    # Each partition has its own categories: tell Dask they are not known up front.
    from dask.dataframe.utils import clear_known_categories

    return clear_known_categories(meta)


# ---------------------------------------------------------------------------------------
# Joins and reductions


def _aligned(*frames: dd.DataFrame) -> bool:
    tokens = {_ALIGNED.get(f._name) for f in frames}
    return len(tokens) == 1 and None not in tokens


def _project(frame: dd.DataFrame, columns: Sequence[str]) -> dd.DataFrame:
    """``frame[columns]``, still known to be aligned with its siblings if ``frame`` was."""
    out = frame[list(columns)]
    token = _ALIGNED.get(frame._name)
    if token is not None:
        _ALIGNED[out._name] = token
    return out


def _pairwise(
    func: Callable[..., pd.DataFrame],
    left: dd.DataFrame,
    right: dd.DataFrame,
    *,
    left_on: str = "sessionId",
    right_on: str = "sessionId",
    **kwargs: Any,
) -> dd.DataFrame:
    """Apply ``func(left_part, right_part, **kwargs)`` to partitions holding the same keys.

    Frames from one :func:`load_dask` already line up; others are shuffled on the key
    into the same number of partitions first.
    """
    meta = func(left._meta, right._meta, **kwargs)
    if not _aligned(left, right) or left.npartitions != right.npartitions:
        n = max(left.npartitions, right.npartitions)
        left = left.shuffle(left_on, npartitions=n)
        right = right.shuffle(right_on, npartitions=n)
    return dd.map_partitions(
        func, left, right, meta=meta, align_dataframes=False, enforce_metadata=False, **kwargs
    )


def events_with_sessions(
    events: dd.DataFrame, sessions: dd.DataFrame, **kwargs: Any
) -> dd.DataFrame:
    """Events with their session's columns, as :func:`leanplum_notebook.joins.events_with_sessions`.

    Runs the pandas join partition by partition (no shuffle for tables of one
    :func:`load_dask`; a shuffle on ``sessionId`` otherwise).

    Parameters
    ----------
    events, sessions : dask DataFrame
        The events and sessions tables.
    **kwargs
        Passed to the pandas join (e.g. ``columns=``).

    Returns
    -------
    dask DataFrame
        The columns of the pandas join.
    """
    from leanplum_notebook.analysis import joins

    return _pairwise(joins.events_with_sessions, events, sessions, **kwargs)


def _user_day_part(part: pd.DataFrame, tz: TimeZone) -> pd.DataFrame:
    """Distinct (userId, day) of real sessions on the ``tz`` calendar (naive day)."""
    up = metrics._user_periods(part, tz, "D")
    return up.rename(columns={"period": "day"})


def _first_run_part(part: pd.DataFrame, tz: TimeZone) -> pd.DataFrame:
    """Per user: earliest userStart, and the offset of the earliest-start session with one.

    Associative (min and arg-min), so applying it again to concatenated results of
    partitions gives the answer over all of them; mirrors ``metrics._first_run_periods``:
    real sessions with a userStart, offset = first non-missing by session start.
    """
    real = metrics._real_sessions(part)
    s = real.dropna(subset=["userStart", "userId"])
    first = s.groupby("userId", sort=False, observed=True)["userStart"].min()
    out = pd.DataFrame({"userId": first.index.astype("string"), "userStart": first.array})
    if tz == "local":
        with_offset = s.dropna(subset=["timezoneOffset", "start"])
        with_offset = with_offset.sort_values("start", kind="stable")
        earliest = with_offset.drop_duplicates("userId", keep="first")
        offsets = pd.DataFrame(
            {
                "userId": earliest["userId"].astype("string").to_numpy(),
                "first_start": earliest["start"].array,
                "timezoneOffset": earliest["timezoneOffset"].astype("Int64").to_numpy(),
            }
        )
        out = out.merge(offsets, on="userId", how="left")
    return out


def _first_run_combine(part: pd.DataFrame, tz: TimeZone) -> pd.DataFrame:
    first = part.groupby("userId", sort=False, observed=True)["userStart"].min()
    out = pd.DataFrame({"userId": first.index.astype("string"), "userStart": first.array})
    if tz == "local":
        s = part.dropna(subset=["first_start"]).sort_values("first_start", kind="stable")
        earliest = s.drop_duplicates("userId", keep="first")[
            ["userId", "first_start", "timezoneOffset"]
        ]
        out = out.merge(earliest, on="userId", how="left")
    return out


def _user_days(sessions: dd.DataFrame, tz: TimeZone) -> dd.DataFrame:
    cols = [c for c in ("userId", "start", "isSession", "timezoneOffset") if c in sessions]
    meta = _user_day_part(sessions._meta[cols], tz)
    pairs = sessions[cols].map_partitions(_user_day_part, tz, meta=meta)
    return pairs.drop_duplicates(split_out=max(1, sessions.npartitions // 16))


def _first_runs(sessions: dd.DataFrame, tz: TimeZone) -> dd.DataFrame:
    cols = [
        c for c in ("userId", "userStart", "start", "isSession", "timezoneOffset") if c in sessions
    ]
    meta = _first_run_part(sessions._meta[cols], tz)
    partial = sessions[cols].map_partitions(_first_run_part, tz, meta=meta)
    n = max(1, sessions.npartitions // 16)
    if n > 1:
        partial = partial.shuffle("userId", npartitions=n)
    else:
        partial = partial.repartition(npartitions=1)
    return partial.map_partitions(_first_run_combine, tz, meta=_first_run_combine(meta, tz))


def _as_utc(naive: pd.Series | np.ndarray) -> pd.Series:
    """Naive wall-clock times -> the same digits marked UTC (datetime64[ms, UTC])."""
    values = pd.Series(naive).astype("datetime64[ns]")
    return values.dt.tz_localize("UTC").astype("datetime64[ms, UTC]")


def _synthetic_sessions(
    user_days: pd.DataFrame, first_runs: pd.DataFrame | None, tz: TimeZone
) -> pd.DataFrame:
    """A sessions table that gives every user-day metric the same answer with tz="utc".

    One row per distinct (user, day): ``start`` is the day on the ``tz`` calendar (its wall
    clock digits marked UTC); ``userStart`` the user's first-run wall time on that calendar.
    """
    frame = pd.DataFrame(
        {
            "userId": user_days["userId"].astype("string").to_numpy(),
            "start": _as_utc(user_days["day"].to_numpy()).array,
        }
    )
    if first_runs is not None:
        offsets = first_runs["timezoneOffset"] if tz == "local" else None
        wall = metrics.local_times(
            first_runs["userStart"].astype("datetime64[ms, UTC]"), tz, offsets
        )
        runs = pd.DataFrame(
            {
                "userId": first_runs["userId"].astype("string").to_numpy(),
                "userStart": _as_utc(wall.to_numpy()).array,
            }
        )
        frame = frame.merge(runs, on="userId", how="outer")
    frame = frame.sort_values(["userId", "start"], kind="stable", ignore_index=True)
    frame.insert(0, "sessionId", np.arange(len(frame), dtype="int64"))
    frame["isSession"] = pd.array([True] * len(frame), dtype="boolean")
    return frame


def _session_reduction(sessions: dd.DataFrame, tz: TimeZone, *, first_run: bool) -> pd.DataFrame:
    metrics._check_tz(tz)
    user_days = _user_days(sessions, tz)
    if first_run:
        days_pd, runs_pd = dask.compute(user_days, _first_runs(sessions, tz))
        return _synthetic_sessions(days_pd, runs_pd, tz)
    (days_pd,) = dask.compute(user_days)
    return _synthetic_sessions(days_pd, None, tz)


# ---------------------------------------------------------------------------------------
# Metrics (same names and arguments as leanplum_notebook.metrics)


def active_users(
    sessions: dd.DataFrame, *, freq: str = "D", tz: TimeZone = "pacific"
) -> pd.DataFrame:
    """Distinct active users per day, week or month: :func:`metrics.active_users` on Dask.

    Returns
    -------
    DataFrame
        ``period`` (datetime64, naive), ``active_users`` (int64).
    """
    metrics._check_freq(freq)
    syn = _session_reduction(sessions, tz, first_run=False)
    return metrics.active_users(syn, freq=freq, tz="utc")


def engagement(sessions: dd.DataFrame, *, tz: TimeZone = "pacific") -> pd.DataFrame:
    """DAU, WAU, MAU and stickiness per day: :func:`metrics.engagement` on Dask.

    Returns
    -------
    DataFrame
        ``day``, ``dau``, ``wau``, ``mau``, ``stickiness``.
    """
    syn = _session_reduction(sessions, tz, first_run=False)
    return metrics.engagement(syn, tz="utc")


def new_users(sessions: dd.DataFrame, *, tz: TimeZone = "pacific") -> pd.DataFrame:
    """New users per day by first run: :func:`metrics.new_users` on Dask.

    Returns
    -------
    DataFrame
        ``day``, ``new_users``.
    """
    syn = _session_reduction(sessions, tz, first_run=True)
    return metrics.new_users(syn, tz="utc")


def retention(
    sessions: dd.DataFrame,
    *,
    period: Literal["day", "week", "month"] = "day",
    kind: Literal["classic", "rolling"] = "classic",
    max_periods: int = 30,
    tz: TimeZone = "pacific",
    cohort_by: Literal["first_run", "first_session"] = "first_run",
) -> pd.DataFrame:
    """Cohort retention table: :func:`metrics.retention` on Dask.

    Returns
    -------
    DataFrame
        Index ``cohort``; columns ``cohort_size`` then ``0 .. max_periods``.
    """
    metrics._check_retention(period, kind, max_periods, tz, cohort_by)
    # The whole days of the data on ``tz`` come from the real instants and offsets: the
    # user-day reduction below keeps only the days.
    lazy: list[Any] = [_user_days(sessions, tz), sessions["start"].min(), sessions["start"].max()]
    if tz == "local":
        offsets = sessions["timezoneOffset"].astype("float64").fillna(0.0)
        lazy += [offsets.min(), offsets.max()]
    if cohort_by == "first_run":
        lazy.append(_first_runs(sessions, tz))
    computed = dask.compute(*lazy)
    days_pd, first, last = computed[:3]
    offset_range = (float(computed[3]), float(computed[4])) if tz == "local" else None
    syn = _synthetic_sessions(days_pd, computed[-1] if cohort_by == "first_run" else None, tz)
    days = None
    if not (pd.isna(first) or pd.isna(last)):
        days = metrics._whole_days(first, last, tz, offset_range)
    return metrics._retention(syn, period, kind, max_periods, "utc", cohort_by, days)


def _named_events(events: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    column = events["eventName"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        keep = column.isin(list(names))  # compares the few categories, not every row's text
    else:
        keep = column.astype("string").isin(list(names)).fillna(False)
    return events.loc[keep.to_numpy(dtype=bool)]


def _purchases_part(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    event: str,
    tz: TimeZone,
    by: Literal["session", "event"] = "event",
) -> pd.DataFrame:
    """Purchase events of a partition: userId, wall time on ``tz`` (of the event or of its
    session's start, as ``metrics.revenue(by=...)``), value."""
    ev = metrics._events_with_users(
        _named_events(events, [event]), sessions, session_start=by == "session"
    )
    if not len(ev):
        times = pd.Series(dtype="datetime64[ns]")
    elif by == "session":
        offsets = ev["timezoneOffset"] if tz == "local" else None
        times = metrics.local_times(ev["sessionStart"], tz, offsets)
    else:
        times = metrics._event_times(ev, tz)
    return pd.DataFrame(
        {
            "userId": ev["userId"].astype("string").to_numpy(),
            "t": pd.Series(times.to_numpy(), dtype="datetime64[ns]").to_numpy(),
            "value": ev["value"].astype("float64").to_numpy(),
        }
    )


def _purchases(
    events: dd.DataFrame,
    sessions: dd.DataFrame,
    event: str,
    tz: TimeZone,
    by: Literal["session", "event"] = "event",
) -> dd.DataFrame:
    ev_cols = [c for c in ("sessionId", "eventName", "start", "value") if c in events]
    s_cols = [c for c in ("sessionId", "userId", "start", "timezoneOffset") if c in sessions]
    return _pairwise(
        _purchases_part,
        _project(events, ev_cols),
        _project(sessions, s_cols),
        event=event,
        tz=tz,
        by=by,
    )


def revenue(
    events: dd.DataFrame,
    sessions: dd.DataFrame,
    *,
    event: str = "Purchase",
    tz: TimeZone = "pacific",
    by: Literal["session", "event"] = "session",
) -> pd.DataFrame:
    """Revenue, paying users, ARPDAU and ARPPU per day: :func:`metrics.revenue` on Dask.

    ``by`` dates a purchase by its session's start (default) or its own time, as in pandas.

    Returns
    -------
    DataFrame
        ``day``, ``revenue``, ``paying_users``, ``active_users``, ``arpdau``, ``arppu``.
    """
    metrics._check_tz(tz)
    if by not in ("session", "event"):
        raise ValueError(f"by must be 'session' or 'event', not {by!r}")
    buys_dd = _purchases(events, sessions, event, tz, by)
    days_pd, buys = dask.compute(_user_days(sessions, tz), buys_dd)
    syn = _synthetic_sessions(days_pd, None, tz)
    # Purchases hang off sessions that are not sessions (isSession=False): they map the
    # purchase to its user without making anyone active, exactly as in the pandas metric.
    ids = np.arange(len(syn), len(syn) + len(buys), dtype="int64")
    buyers = pd.DataFrame(
        {
            "sessionId": ids,
            "userId": buys["userId"].astype("string").to_numpy(),
            "start": _as_utc(buys["t"].to_numpy()).array,
            "isSession": pd.array([False] * len(buys), dtype="boolean"),
        }
    )
    syn_sessions = pd.concat([syn[list(buyers.columns)], buyers], ignore_index=True)
    syn_events = pd.DataFrame(
        {
            "sessionId": ids,
            "eventName": pd.Series([event] * len(buys), dtype="string"),
            "start": buyers["start"].array,
            "value": buys["value"].to_numpy(dtype="float64"),
        }
    )
    # the purchases carry the wall time of their day already: date them by that time
    return metrics.revenue(syn_events, syn_sessions, event=event, tz="utc", by="event")


def _entries_part(experiments: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """First entry (earliest session start) of each (experiment, user, variant)."""
    members = experiments[["experimentId", "sessionId", "variantId"]].merge(
        sessions[["sessionId", "userId", "start"]].drop_duplicates("sessionId"), on="sessionId"
    )
    members = members.dropna(subset=["userId", "start"]).sort_values("start", kind="stable")
    members = members.drop_duplicates(["experimentId", "userId", "variantId"], keep="first")
    return pd.DataFrame(
        {
            "experimentId": members["experimentId"].to_numpy(dtype="int64"),
            "userId": members["userId"].astype("string").to_numpy(),
            "variantId": members["variantId"].to_numpy(dtype="int64"),
            "start": members["start"].array,
        }
    )


def experiment_results(
    experiments: dd.DataFrame,
    sessions: dd.DataFrame,
    events: dd.DataFrame,
    *,
    conversion_event: str = "Purchase",
    confidence: float = 0.95,
    control: int | dict[int, int] | None = None,
) -> pd.DataFrame:
    """A/B results by variant with intervals: :func:`metrics.experiment_results` on Dask.

    Returns
    -------
    DataFrame
        The columns of :func:`metrics.experiment_results` (``experimentId``, ``variantId``,
        ``is_control``, ``users``, ``converters``, ``conversion`` ... ``rpu_lift_high``).
    """
    metrics._z(confidence)
    s_cols = ["sessionId", "userId", "start"]
    entries_dd = _pairwise(
        _entries_part,
        _project(experiments, ["experimentId", "sessionId", "variantId"]),
        _project(sessions, s_cols),
    )
    buys_dd = _purchases(events, _project(sessions, s_cols), conversion_event, "utc")
    entries, buys = dask.compute(entries_dd, buys_dd)
    # Partitions reduce independently: keep each (experiment, user, variant) once, earliest.
    entries = entries.sort_values("start", kind="stable")
    entries = entries.drop_duplicates(["experimentId", "userId", "variantId"], keep="first")
    n = len(entries)
    ids = np.arange(n, dtype="int64")
    buy_ids = np.arange(n, n + len(buys), dtype="int64")
    syn_experiments = pd.DataFrame(
        {
            "experimentId": entries["experimentId"].to_numpy(dtype="int64"),
            "sessionId": ids,
            "variantId": entries["variantId"].to_numpy(dtype="int64"),
        }
    )
    syn_sessions = pd.DataFrame(
        {
            "sessionId": np.concatenate([ids, buy_ids]),
            "userId": pd.array(
                [*entries["userId"].astype(str), *buys["userId"].astype(str)], dtype="string"
            ),
            "start": pd.concat(
                [entries["start"].astype("datetime64[ms, UTC]"), _as_utc(buys["t"].to_numpy())],
                ignore_index=True,
            ).array,
        }
    )
    syn_events = pd.DataFrame(
        {
            "sessionId": buy_ids,
            "eventName": pd.Series([conversion_event] * len(buys), dtype="string"),
            "start": _as_utc(buys["t"].to_numpy()).array,
            "value": buys["value"].to_numpy(dtype="float64"),
        }
    )
    return metrics.experiment_results(
        syn_experiments,
        syn_sessions,
        syn_events,
        conversion_event=conversion_event,
        confidence=confidence,
        control=control,
    )


def _funnel_events_part(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    steps: tuple[str, ...],
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Step events with their user and their place in the table (partition, row)."""
    number = partition_info["number"] if partition_info else 0
    named = _named_events(events, steps)
    named = named.assign(_row=np.arange(len(named), dtype="int64"))
    ev = metrics._events_with_users(named, sessions)
    return pd.DataFrame(
        {
            "userId": ev["userId"].astype("string").to_numpy(),
            "eventName": ev["eventName"].astype("string").to_numpy(),
            "start": ev["start"].array,
            "_part": np.full(len(ev), number, dtype="int64"),
            "_row": ev["_row"].to_numpy(dtype="int64"),
        }
    )


def _funnel_users_part(
    part: pd.DataFrame, steps: tuple[str, ...], within: pd.Timedelta
) -> pd.DataFrame:
    """Users reaching each step, for a partition holding all events of its users."""
    # table order of the original events breaks ties between equal times, as in pandas
    part = part.sort_values(["_part", "_row"], kind="stable", ignore_index=True)
    users = part["userId"].astype("string")
    codes, uniques = pd.factorize(users)
    syn_sessions = pd.DataFrame(
        {"sessionId": np.arange(len(uniques), dtype="int64"), "userId": uniques.astype("string")}
    )
    syn_events = pd.DataFrame(
        {
            "sessionId": codes.astype("int64"),
            "eventName": part["eventName"].to_numpy(),
            "start": part["start"].array,
        }
    )
    result = metrics.funnel(syn_events, syn_sessions, list(steps), within=within)
    return pd.DataFrame(
        {"step_index": np.arange(len(steps), dtype="int64"), "users": result["users"].to_numpy()}
    )


def _funnel_frame(steps: Sequence[str], users: np.ndarray) -> pd.DataFrame:
    """The funnel table from users per step, with the formulas of :func:`metrics.funnel`."""
    users = users.astype("int64")
    first = users[0]
    conversion = users / first if first else np.full(len(users), np.nan)
    prev = np.concatenate([[first], users[:-1]]).astype("float64")
    drop = np.divide(prev - users, prev, out=np.full(len(users), np.nan), where=prev > 0)
    drop[0] = 0.0 if first else np.nan
    return pd.DataFrame(
        {
            "step": pd.Series(list(steps), dtype="string"),
            "users": users,
            "conversion": conversion.astype("float64"),
            "drop_off": drop,
        }
    )


def funnel(
    events: dd.DataFrame,
    sessions: dd.DataFrame,
    steps: list[str],
    *,
    within: pd.Timedelta | str = "1D",
) -> pd.DataFrame:
    """Ordered conversion funnel per user: :func:`metrics.funnel` on Dask.

    The step events are joined to their users partition by partition, shuffled on
    ``userId`` so each user's events meet in one partition, and the pandas funnel runs on
    each; users are disjoint between partitions, so their counts add up.

    Returns
    -------
    DataFrame
        ``step``, ``users``, ``conversion``, ``drop_off``.
    """
    steps = list(steps)
    if not steps:
        raise ValueError("funnel needs at least one step")
    within = pd.Timedelta(within)
    if within < pd.Timedelta(0):
        raise ValueError(f"within must not be negative, got {within}")
    named = _pairwise(
        _funnel_events_part,
        _project(events, ["sessionId", "eventName", "start"]),
        _project(sessions, ["sessionId", "userId"]),
        steps=tuple(steps),
    )
    n = max(1, named.npartitions // 8)
    by_user = named.shuffle("userId", npartitions=n) if n > 1 else named.repartition(npartitions=1)
    meta = _funnel_users_part(named._meta, tuple(steps), within)
    counts = by_user.map_partitions(
        _funnel_users_part, tuple(steps), within, meta=meta, enforce_metadata=False
    )
    per_part = counts.compute()
    users = per_part.groupby("step_index")["users"].sum().reindex(range(len(steps)), fill_value=0)
    return _funnel_frame(steps, users.to_numpy(dtype="int64"))


def _top_events_part(
    events: pd.DataFrame, sessions: pd.DataFrame | None, exclude_messages: bool
) -> pd.DataFrame:
    ev = events
    if sessions is not None and "userId" not in ev.columns:
        ev = metrics._events_with_users(ev, sessions)
    if exclude_messages:
        ev = ev.loc[~metrics._is_message(ev["eventName"])]
    frame = pd.DataFrame(
        {
            "eventName": ev["eventName"].astype("string").to_numpy(),
            "sessionId": ev["sessionId"].to_numpy(dtype="int64"),
            "userId": (
                ev["userId"].astype("string").to_numpy()
                if "userId" in ev.columns
                else pd.array([pd.NA] * len(ev), dtype="string")
            ),
        }
    )
    return frame.dropna(subset=["eventName"])


def top_events(
    events: dd.DataFrame,
    *,
    n: int = 10,
    exclude_messages: bool = True,
    sessions: dd.DataFrame | None = None,
) -> pd.DataFrame:
    """The most frequent events with distinct sessions and users: :func:`metrics.top_events`.

    Returns
    -------
    DataFrame
        ``eventName`` (str), ``count`` (int64), ``sessions`` (int64), ``users`` (Int64).
    """
    with_users = "userId" in events.columns or sessions is not None
    ev_cols = [c for c in ("sessionId", "eventName", "start", "userId") if c in events.columns]
    if sessions is not None and "userId" not in events.columns:
        rows = _pairwise(
            _top_events_part,
            _project(events, ev_cols),
            _project(sessions, ["sessionId", "userId"]),
            exclude_messages=exclude_messages,
        )
    else:
        meta = _top_events_part(events._meta[ev_cols], None, exclude_messages)
        rows = events[ev_cols].map_partitions(_top_events_part, None, exclude_messages, meta=meta)
    split = max(1, rows.npartitions // 16)
    counts = rows.groupby("eventName").size(split_out=1)
    per_session = rows[["eventName", "sessionId"]].drop_duplicates(split_out=split)
    n_sessions = per_session.groupby("eventName").size(split_out=1)
    parts: list[Any] = [counts, n_sessions]
    if with_users:
        per_user = rows[["eventName", "userId"]].dropna().drop_duplicates(split_out=split)
        parts.append(per_user.groupby("eventName").size(split_out=1))
    computed = dask.compute(*parts)
    out = pd.DataFrame({"count": computed[0], "sessions": computed[1]})
    out.index = out.index.astype("string")
    if with_users:
        users = computed[2]
        users.index = users.index.astype("string")
        out["users"] = users.reindex(out.index, fill_value=0).astype("Int64")
    else:
        out["users"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out.index.name = "eventName"
    out = out.reset_index().sort_values(["count", "eventName"], ascending=[False, True])
    out = out.head(n).reset_index(drop=True)
    out["eventName"] = out["eventName"].astype("string")
    out["count"] = out["count"].astype("int64")
    out["sessions"] = out["sessions"].fillna(0).astype("int64")
    return out[["eventName", "count", "sessions", "users"]]


# ---------------------------------------------------------------------------------------
# Counts and breakdowns


def session_lengths(
    sessions: dd.DataFrame, *, max_duration: float = metrics.MAX_SESSION_SECONDS
) -> pd.Series:
    """Session durations for duration statistics: :func:`metrics.session_lengths` on Dask.

    Returns
    -------
    Series of float64
        Named ``duration`` (seconds), indexed by ``sessionId`` (one value per kept session,
        so this is as long as the sessions table: sample or aggregate it for big data).
    """
    cols = [c for c in ("sessionId", "duration", "isSession") if c in sessions.columns]
    part = _project(sessions, cols)
    meta = metrics.session_lengths(part._meta, max_duration=max_duration)
    lengths = part.map_partitions(metrics.session_lengths, max_duration=max_duration, meta=meta)
    result = lengths.compute()
    out = pd.Series(result.to_numpy(dtype="float64"), name="duration", dtype="float64")
    if "sessionId" in cols:
        out.index = pd.Index(result.index.to_numpy(), name="sessionId")
    return out


def _day_user_part(part: pd.DataFrame, tz: TimeZone) -> pd.DataFrame:
    """Real sessions of a partition as (day on ``tz``, userId) rows."""
    real = metrics._real_sessions(part)
    days = metrics._period_start(metrics._session_times(real, tz), "D")
    return pd.DataFrame(
        {
            "day": pd.Series(days.to_numpy(), dtype="datetime64[ns]").to_numpy(),
            "userId": real["userId"].astype("string").to_numpy(),
        }
    )


def sessions_per_user(sessions: dd.DataFrame, *, tz: TimeZone = "pacific") -> pd.DataFrame:
    """Sessions, active users and their ratio per day: :func:`metrics.sessions_per_user`.

    Returns
    -------
    DataFrame
        ``day``, ``sessions``, ``users``, ``sessions_per_user``.
    """
    metrics._check_tz(tz)
    cols = [c for c in ("userId", "start", "isSession", "timezoneOffset") if c in sessions]
    part = _project(sessions, cols)
    rows = part.map_partitions(_day_user_part, tz, meta=_day_user_part(part._meta, tz))
    per_day = rows.groupby("day").size(split_out=1)
    pairs = rows.dropna().drop_duplicates(split_out=max(1, rows.npartitions // 16))
    users_per_day = pairs.groupby("day").size(split_out=1)
    n_sessions, n_users = dask.compute(per_day, users_per_day)
    if n_sessions.empty:
        return metrics.sessions_per_user(sessions._meta, tz=tz)
    grid = metrics._period_range(n_sessions.index.min(), n_sessions.index.max(), "D")
    out = metrics._days_frame(grid)
    out["sessions"] = n_sessions.reindex(grid, fill_value=0).to_numpy(dtype="int64")
    out["users"] = n_users.reindex(grid, fill_value=0).to_numpy(dtype="int64")
    users = out["users"].to_numpy(dtype="float64")
    out["sessions_per_user"] = np.divide(
        out["sessions"].to_numpy(dtype="float64"),
        users,
        out=np.full(len(out), np.nan),
        where=users > 0,
    )
    return out


def _period_name_part(
    events: pd.DataFrame, code: str, tz: TimeZone, names: tuple[str, ...] | None
) -> pd.DataFrame:
    ev_names = events["eventName"].astype("string")
    if names is not None:
        keep = ev_names.isin(list(names)).to_numpy(dtype=bool)
        events, ev_names = events.loc[keep], ev_names[keep]
    periods = metrics._period_start(metrics._event_times(events, tz), code)
    frame = pd.DataFrame(
        {
            "period": pd.Series(periods.to_numpy(), dtype="datetime64[ns]").to_numpy(),
            "eventName": ev_names.to_numpy(),
        }
    )
    return frame.dropna()


def _with_offsets(events: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    return metrics._events_with_users(events, sessions)


def event_counts(
    events: dd.DataFrame,
    *,
    freq: str = "D",
    tz: TimeZone = "pacific",
    names: list[str] | None = None,
    sessions: dd.DataFrame | None = None,
) -> pd.DataFrame:
    """Events per period and name, zeros included: :func:`metrics.event_counts` on Dask.

    Returns
    -------
    DataFrame
        ``period`` (datetime64, naive), ``eventName`` (str), ``count`` (int64).
    """
    code = metrics._check_freq(freq)
    metrics._check_tz(tz)
    ev_cols = [c for c in ("sessionId", "eventName", "start", "timezoneOffset") if c in events]
    ev = _project(events, ev_cols)
    if tz == "local" and "timezoneOffset" not in events.columns and sessions is not None:
        s_cols = [c for c in ("sessionId", "userId", "timezoneOffset") if c in sessions.columns]
        ev = _pairwise(_with_offsets, ev, _project(sessions, s_cols))
    wanted = tuple(names) if names is not None else None
    meta = _period_name_part(ev._meta, code, tz, wanted)
    rows = ev.map_partitions(_period_name_part, code, tz, wanted, meta=meta)
    counts = rows.groupby(["period", "eventName"]).size(split_out=1).compute()
    empty = pd.DataFrame(
        {
            "period": pd.Series(dtype="datetime64[ns]"),
            "eventName": pd.Series(dtype="string"),
            "count": pd.Series(dtype="int64"),
        }
    )
    if counts.empty:
        return empty
    periods = counts.index.get_level_values("period")
    grid = metrics._period_range(periods.min(), periods.max(), code)
    found = counts.index.get_level_values("eventName").astype(str)
    order = list(names) if names is not None else sorted(set(found))
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


def message_stats(events: dd.DataFrame) -> pd.DataFrame:
    """Message sends and opens from event names: :func:`metrics.message_stats` on Dask.

    Returns
    -------
    DataFrame
        ``messageId``, ``sent``, ``opened``, ``open_rate``.
    """
    counts = _project(events, ["eventName"])["eventName"].astype("string").value_counts()
    found = counts.compute()
    found = found[found.index.astype(str).str.startswith(".m")]
    # the pandas function counts rows: give it one row per message event (only those)
    names = np.repeat(found.index.astype(str).to_numpy(), found.to_numpy(dtype="int64"))
    return metrics.message_stats(pd.DataFrame({"eventName": pd.Categorical(names)}))


def _breakdown_part(part: pd.DataFrame, by: str) -> pd.DataFrame:
    real = metrics._real_sessions(part)
    return pd.DataFrame(
        {
            by: real[by].astype("string").fillna("(unknown)").to_numpy(),
            "userId": real["userId"].astype("string").to_numpy(),
        }
    )


def breakdown(
    sessions: dd.DataFrame,
    by: str,
    *,
    metric: Literal["users", "sessions"] = "users",
    top: int | None = None,
) -> pd.DataFrame:
    """Users or sessions by a session attribute: :func:`metrics.breakdown` on Dask.

    Returns
    -------
    DataFrame
        ``<by>``, ``users`` or ``sessions``, ``share``.
    """
    if metric not in ("users", "sessions"):
        raise ValueError(f"metric must be 'users' or 'sessions', not {metric!r}")
    metrics._require(sessions._meta, (by, "userId"), "sessions")
    cols = [c for c in dict.fromkeys((by, "userId", "isSession")) if c in sessions.columns]
    part = _project(sessions, cols)
    rows = part.map_partitions(_breakdown_part, by, meta=_breakdown_part(part._meta, by))
    if metric == "users":
        pairs = rows.dropna().drop_duplicates(split_out=max(1, rows.npartitions // 16))
        syn = pairs.compute()
    else:
        sizes = rows.groupby(by).size(split_out=1).compute()
        keys = np.repeat(sizes.index.astype(str).to_numpy(), sizes.to_numpy(dtype="int64"))
        syn = pd.DataFrame(
            {by: pd.Categorical(keys), "userId": pd.array([pd.NA] * len(keys), dtype="string")}
        )
    return metrics.breakdown(syn.reset_index(drop=True), by, metric=metric, top=top)
