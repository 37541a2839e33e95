"""The Dask engine: the six tables as Dask DataFrames, and every metric run on them.

>>> tables = load_dask(export)                 # an Export, parts, a folder, files, s3://
>>> metrics.active_users(tables.sessions)      # the same function and result as on pandas

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
``sessionId`` instead.

Metrics. There is no Dask code per metric: each metric of :mod:`leanplum_notebook.metrics`
is a :class:`~leanplum_notebook.analysis.reductions.Reduction`, and
:func:`run_reduction` maps its ``reduce`` over aligned partitions (or over rows shuffled on
``userId`` for metrics that need whole users), combines the partials in a tree and
finalizes, in one computation.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import dask.dataframe as dd
import pandas as pd

from leanplum_notebook.analysis.reductions import Reduction, combine
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
from leanplum_notebook.load import select
from leanplum_notebook.load.tables import TableSet
from leanplum_notebook.redaction import get_logger, remember_options

__all__ = [
    "FAN_IN",
    "DaskTables",
    "aligned",
    "co_partitioned",
    "events_with_sessions",
    "is_dask",
    "load_dask",
    "project",
    "run_reduction",
]

if TYPE_CHECKING:
    from leanplum_notebook.load.loader import Tables

logger = get_logger(__name__)


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
    from leanplum_notebook.load.loader import build_cache

    build_cache(item, batch_sessions=batch_sessions, on_bad_line=on_bad_line)
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
    from leanplum_notebook.load.loader import resolve_source
    from leanplum_notebook.models import ExportPart

    parts = resolve_source(source)
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
        wanted = select.intersect(days, part.days)
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

    table_names = select.check_tables(tables)
    column_names = select.check_columns(columns, table_names)
    wanted_days = select.check_days(days)
    for name, value in (
        ("sessions_per_partition", sessions_per_partition),
        ("batch_sessions", batch_sessions),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(name, f"expected a positive int, not {value!r}")
    if on_bad_line not in ("error", "skip"):
        raise ValidationError("on_bad_line", f"expected 'error' or 'skip', not {on_bad_line!r}")
    so = dict(storage_options or {})
    remember_options(so)
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
# Aligned partitions, joins, and the Dask runner of a Reduction

#: Partials merged per combine task (the fan-in of the reduction tree).
FAN_IN = 8


def aligned(*frames: dd.DataFrame) -> bool:
    """Whether partition ``i`` of every frame holds the rows of the same sessions.

    True for tables of one :func:`load_dask` (and their column projections); a filtered or
    repartitioned frame cannot be proven aligned.
    """
    tokens = {_ALIGNED.get(f._name) for f in frames}
    return len(tokens) == 1 and None not in tokens


def project(frame: dd.DataFrame, columns: Sequence[str]) -> dd.DataFrame:
    """``frame[columns]`` (those present), still known to be aligned if ``frame`` was."""
    out = frame[[c for c in columns if c in frame.columns]]
    token = _ALIGNED.get(frame._name)
    if token is not None:
        _ALIGNED[out._name] = token
    return out


def co_partitioned(*frames: dd.DataFrame, key: str = "sessionId") -> list[dd.DataFrame]:
    """The frames with partition ``i`` of each holding the same ``key`` values.

    Frames of one :func:`load_dask` already line up and come back unchanged; others are
    shuffled on ``key`` into the same number of partitions.
    """
    if len(frames) < 2:
        return list(frames)
    if aligned(*frames) and len({f.npartitions for f in frames}) == 1:
        return list(frames)
    n = max(f.npartitions for f in frames)
    return [f.shuffle(key, npartitions=n) for f in frames]


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

    func = joins.events_with_sessions
    meta = func(events._meta, sessions._meta, **kwargs)
    left, right = co_partitioned(events, sessions)
    return dd.map_partitions(
        func, left, right, meta=meta, align_dataframes=False, enforce_metadata=False, **kwargs
    )


def run_reduction(reduction: Reduction, *frames: dd.DataFrame) -> Any:
    """Run a metric's :class:`~leanplum_notebook.analysis.reductions.Reduction` on Dask.

    ``reduce`` runs on partition ``i`` of every input (aligned partitions hold the same
    sessions; other frames are shuffled on ``sessionId`` first), or, for a reduction with
    ``prepare``, on the prepared rows shuffled on ``userId`` so each user's rows meet in one
    partition. Partials are combined in a tree of fan-in :data:`FAN_IN`, in partition order,
    and finalized, all in one computation.

    Parameters
    ----------
    reduction : Reduction
        The metric.
    *frames : dask DataFrame
        Its input tables, in the order ``reduce`` takes them.

    Returns
    -------
    object
        What ``reduction.finalize`` returns (a pandas DataFrame or Series).
    """
    wanted = reduction.columns or tuple(tuple(f.columns) for f in frames)
    inputs = co_partitioned(*(project(f, cols) for f, cols in zip(frames, wanted, strict=True)))
    parts: list[tuple[Any, ...]] = list(zip(*(f.to_delayed() for f in inputs), strict=True))
    if reduction.prepare is not None:
        parts = _by_user(reduction.prepare, inputs, parts)
    token = uuid.uuid4().hex[:12]
    step = f"leanplum-{reduction.name}"
    if not parts:  # no partition at all: reduce the empty frames
        empty = [f._meta for f in inputs]
        if reduction.prepare is not None:
            empty = [reduction.prepare(*empty, part=0)]
        return reduction.finalize(reduction.reduce(*empty))
    reduce = dask.delayed(reduction.reduce, pure=True)
    partials = [
        reduce(*part, dask_key_name=f"{step}-reduce-{token}-{i}") for i, part in enumerate(parts)
    ]
    merge = dask.delayed(functools.partial(combine, reduction), pure=True)
    level = 0
    while len(partials) > 1:
        partials = [
            merge(partials[i : i + FAN_IN], dask_key_name=f"{step}-combine-{token}-{level}-{i}")
            for i in range(0, len(partials), FAN_IN)
        ]
        level += 1
    finalize = dask.delayed(reduction.finalize, pure=True)
    return finalize(partials[0], dask_key_name=f"{step}-finalize-{token}").compute()


def _by_user(
    prepare: Callable[..., pd.DataFrame],
    inputs: list[dd.DataFrame],
    parts: list[tuple[Any, ...]],
) -> list[tuple[Any, ...]]:
    """Prepared rows of every partition, shuffled on ``userId`` (whole users per part)."""
    lazy = dask.delayed(prepare, pure=True)
    rows = [lazy(*part, part=i) for i, part in enumerate(parts)]
    meta = prepare(*(f._meta for f in inputs), part=0)
    table = dd.from_delayed(rows, meta=meta, verify_meta=False)
    n = max(1, len(rows) // FAN_IN)
    table = table.shuffle("userId", npartitions=n) if n > 1 else table.repartition(npartitions=1)
    return [(part,) for part in table.to_delayed()]
