"""Partition planning and partition readers behind :func:`dask_engine.load_dask`.

A *unit* is what one partition of every table is read from: a range of row groups of one
export part's Parquet cache, a whole Parquet cache folder, one raw JSON file, or the CSV
files of one export job. Partition ``i`` of each of the six tables comes from the same
unit, so it holds the same sessions: joins on ``sessionId`` run partition by partition,
without a shuffle.

Why row groups line up: the loader writes one row group per parsed batch of sessions to
each ``<table>.parquet`` of a JSON part, in batch order, skipping a table that has no rows
in that batch. When every table of a part has as many row groups as ``sessions`` (or none
at all), no batch was skipped and row group ``k`` of each table holds the rows of the
sessions in row group ``k`` of ``sessions``. Otherwise (CSV parts, which the loader writes
table by table, or a batch without experiments), the whole part is one unit.

The readers run on Dask workers: plain functions of picklable arguments, files opened by
path or URL (local, shared folder, or any fsspec URL such as ``s3://`` with
``storage_options``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leanplum_notebook import dates, schema
from leanplum_notebook.load.common import PARAM_SESSION, STORED_KINDS
from leanplum_notebook.load.select import session_mask
from leanplum_notebook.redaction import get_logger

logger = get_logger(__name__)

META_NAME = "meta.json"

UnitKind = Literal["parquet", "json", "csv"]


@dataclass(frozen=True)
class Unit:
    """What one partition of every table is read from.

    Attributes
    ----------
    kind : {"parquet", "json", "csv"}
        A Parquet cache folder, one raw JSON-lines file, or the CSV files of one job.
    paths : tuple of str
        ``(folder,)`` for Parquet, ``(file,)`` for JSON, the job's files for CSV; local
        paths or fsspec URLs.
    row_groups : tuple of int or None
        Parquet only: the row groups of every table to read (aligned); None reads all.
    days : tuple of date or None
        Pacific days of session start to keep; None keeps every session.
    drop : tuple of int
        sessionIds to leave out (with their rows): duplicates another unit supplies.
    """

    kind: UnitKind
    paths: tuple[str, ...]
    row_groups: tuple[int, ...] | None = None
    days: tuple[date, ...] | None = None
    drop: tuple[int, ...] = ()


@dataclass(frozen=True)
class Options:
    """Reader options shared by every partition (hashable, so Dask can tokenize them)."""

    storage_options: tuple[tuple[str, Any], ...] = ()
    batch_sessions: int = 10_000
    on_bad_line: str = "error"

    def __repr__(self) -> str:
        # storage_options may hold an S3 secret: never show it
        keys = sorted(k for k, _ in self.storage_options)
        return f"Options(storage_options keys={keys}, batch_sessions={self.batch_sessions})"

    def so(self) -> dict[str, Any]:
        return dict(self.storage_options)


@dataclass
class Plan:
    """The units of a source, in order, and whether their partitions line up."""

    units: list[Unit] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# file systems


def is_url(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an fsspec URL (``s3://...``) rather than a local path."""
    return "://" in str(path)


def filesystem(path: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    """Return ``(fsspec filesystem, path inside it)`` for a URL; local paths use "file"."""
    import fsspec

    if is_url(path):
        fs, root = fsspec.core.url_to_fs(path, **storage_options)
        return fs, root
    return fsspec.filesystem("file"), str(Path(path).resolve())


def _join(fs: Any, root: str, name: str) -> str:
    # fsspec paths use "/" on every file system, local ones included
    return root.rstrip("/") + "/" + name


# ---------------------------------------------------------------------------------------
# planning


def row_group_rows(fs: Any, folder: str) -> tuple[dict[str, list[int]], list[Any]]:
    """Rows per row group of each ``<table>.parquet`` in a cache folder, and the
    ``(min, max)`` statistics of ``sessions.start`` per row group (None where unknown)."""
    out: dict[str, list[int]] = {}
    starts: list[Any] = []
    for table in schema.TABLES:
        with fs.open(_join(fs, folder, f"{table}.parquet"), "rb") as handle:
            meta = pq.ParquetFile(handle).metadata
            out[table] = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
            if table == "sessions":
                starts = _start_bounds(handle)
    return out, starts


def _start_bounds(handle: Any) -> list[Any]:
    """``(min, max)`` of ``start`` per row group of a sessions file (None when unknown).

    From the statistics when the file has them, else by reading that one column (cheap:
    8 bytes a session).
    """
    handle.seek(0)
    parquet = pq.ParquetFile(handle)
    meta = parquet.metadata
    index = parquet.schema_arrow.get_field_index("start")
    if index < 0:
        return [None] * meta.num_row_groups
    bounds: list[Any] = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(index).statistics
        if stats is not None and stats.has_min_max:
            bounds.append((stats.min, stats.max))
            continue
        column = parquet.read_row_group(i, columns=["start"]).column(0)
        if column.null_count == len(column):
            bounds.append(None)
            continue
        found = pc.min_max(column)
        bounds.append((found["min"].as_py(), found["max"].as_py()))
    return bounds


def _inside(days: tuple[date, ...], bounds: list[Any]) -> bool:
    """Whether every start in row groups with these ``(min, max)`` falls on one of ``days``.

    Then the unit needs no day filter (the usual case: a job holds exactly its days).
    """
    from datetime import datetime, time, timedelta

    if not days or any(b is None for b in bounds):
        return False
    first, last = min(days), max(days)
    if len(set(days)) != (last - first).days + 1:
        return False  # not one contiguous range: min/max cannot prove it
    zone = dates.PACIFIC
    begin = datetime.combine(first, time(), zone)
    end = datetime.combine(last + timedelta(days=1), time(), zone)
    try:
        return all(begin <= lo and hi < end for lo, hi in bounds)
    except TypeError:  # statistics without a time zone: do not guess
        return False


def parquet_units(
    fs: Any,
    folder: str,
    *,
    days: tuple[date, ...] | None,
    csv: bool,
    sessions_per_partition: int,
) -> list[Unit]:
    """Split one Parquet cache folder into aligned units of about ``sessions_per_partition``.

    A unit whose sessions all start on the wanted days (by the row groups' statistics)
    gets no day filter, so reading it does not need the sessions table twice.
    """
    groups, starts = row_group_rows(fs, folder)
    n = len(groups["sessions"])
    aligned = not csv and all(len(rows) in (0, n) for rows in groups.values())

    def unit(row_groups: tuple[int, ...] | None) -> Unit:
        chosen = starts if row_groups is None else [starts[i] for i in row_groups]
        keep = None if days is not None and _inside(days, chosen) else days
        return Unit("parquet", (folder,), row_groups, keep)

    if not aligned or n <= 1:
        return [unit(None)]
    units: list[Unit] = []
    current: list[int] = []
    count = 0
    for index, rows in enumerate(groups["sessions"]):
        current.append(index)
        count += rows
        if count >= sessions_per_partition:
            units.append(unit(tuple(current)))
            current, count = [], 0
    if current:
        units.append(unit(tuple(current)))
    return units


def classify(name: str) -> Literal["json", "csv"] | None:
    """Raw export file kind from its name (manifests and partial downloads are None)."""
    if schema.JSON_FILE.fullmatch(name):
        return "json"
    if schema.CSV_FILE.fullmatch(name):
        return "csv"
    return None


def raw_units(files: Sequence[str], *, days: tuple[date, ...] | None) -> list[Unit]:
    """One unit per JSON file, one per CSV job (its files share a stem), in name order."""
    units: list[Unit] = []
    csv_jobs: dict[str, list[str]] = {}
    for path in files:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        kind = classify(name)
        if kind == "json":
            units.append(Unit("json", (path,), None, days))
        elif kind == "csv":
            match = schema.CSV_FILE.fullmatch(name)
            assert match is not None  # classify() matched the same pattern
            csv_jobs.setdefault(match["stem"], []).append(path)
    for stem in sorted(csv_jobs):
        units.append(Unit("csv", tuple(sorted(csv_jobs[stem])), None, days))
    return units


def find_sources(location: str, storage_options: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Parquet cache folders and raw export files below ``location`` (a folder or a file).

    Returns
    -------
    (folders, files)
        Folders holding ``meta.json`` and ``sessions.parquet``, and raw export files
        (not below such a folder's entry), both sorted; URLs keep their protocol.
    """
    fs, root = filesystem(location, storage_options)
    protocol = location.split("://", 1)[0] + "://" if is_url(location) else ""

    def external(p: str) -> str:
        if not protocol:
            return p
        return p if "://" in p else protocol + p.lstrip("/")

    if fs.isfile(root):
        return [], [external(root)]
    if not fs.isdir(root):
        raise FileNotFoundError(f"no such file or folder: {location}")
    found = sorted(fs.find(root))
    folders = sorted(
        {
            p.rsplit("/", 1)[0]
            for p in found
            if p.endswith("/" + META_NAME) and p.rsplit("/", 1)[0] + "/sessions.parquet" in found
        }
    )
    files = [p for p in found if classify(p.rsplit("/", 1)[-1]) is not None]
    return [external(f) for f in folders], [external(f) for f in files]


def read_meta_files(fs: Any, folder: str) -> list[str]:
    """Raw file names recorded in a cache folder's ``meta.json`` (empty if unreadable)."""
    import orjson

    try:
        with fs.open(_join(fs, folder, META_NAME), "rb") as handle:
            meta = orjson.loads(handle.read())
    except (OSError, ValueError):
        return []
    return [str(item[0]) for item in meta.get("files", []) if item]


# ---------------------------------------------------------------------------------------
# Arrow -> pandas with the exact dtypes of schema.pandas_dtypes


def empty_frame(table: str, columns: Sequence[str]) -> pd.DataFrame:
    """An empty DataFrame with exactly the pandas dtypes of ``columns`` of ``table``."""
    dtypes = schema.pandas_dtypes(table)
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in columns})


def to_pandas(data: pa.Table, table: str, columns: Sequence[str]) -> pd.DataFrame:
    """Arrow (stored layout) -> pandas exactly as the pandas loader converts it."""
    from leanplum_notebook.load.loader import to_pandas as loader_to_pandas

    return loader_to_pandas(table, data, list(columns))


def sort_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort the categories of every categorical column, dropping unused ones.

    Partitions have their own categories; Dask unions them when it concatenates, so a
    computed table is normalised to the pandas loader's convention (sorted categories).
    """
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            col = frame[name].cat.remove_unused_categories()
            cats = pd.Index(col.cat.categories.astype(str), dtype="str").sort_values()
            frame[name] = col.cat.set_categories(cats)
    return frame


# ---------------------------------------------------------------------------------------
# partition readers


def _key_column(table: str) -> str:
    return PARAM_SESSION if table == "event_parameters" else "sessionId"


def child_mask(keys: pa.ChunkedArray, kept: pa.Array, every: pa.Array) -> pa.Array:
    """Child rows to keep: their session is kept, or not in the unit at all (as the loader)."""
    inside = pc.is_in(keys, value_set=every)
    mask = pc.or_(pc.is_in(keys, value_set=kept), pc.invert(inside))
    return pc.fill_null(mask, True)


def read_parquet_table(
    folder: str,
    table: str,
    columns: Sequence[str],
    row_groups: tuple[int, ...] | None,
    options: Options,
) -> pa.Table:
    """Read stored ``columns`` of one table (some row groups, or all) of a cache folder."""
    fs, root = filesystem(folder, options.so())
    kinds = STORED_KINDS[table]
    # category columns straight into Arrow dictionaries: no per-row hashing of strings
    dictionary = [c for c in columns if kinds[c] == "category"]
    with fs.open(_join(fs, root, f"{table}.parquet"), "rb") as handle:
        parquet = pq.ParquetFile(handle, read_dictionary=dictionary)
        if row_groups is None:
            return parquet.read(columns=list(columns))
        if parquet.metadata.num_row_groups == 0:
            return parquet.schema_arrow.empty_table().select(list(columns))
        return parquet.read_row_groups(list(row_groups), columns=list(columns))


def _filter(data: pa.Table, table: str, sessions: pa.Table, unit: Unit) -> pa.Table:
    if unit.days is None and not unit.drop:
        return data
    ids = sessions.column("sessionId")
    if unit.days is not None:
        keep = session_mask(sessions, unit.days)
    else:
        keep = pa.array(np.ones(len(ids), dtype=bool))
    if unit.drop:
        dropped = pc.is_in(ids, value_set=pa.array(unit.drop, pa.int64()))
        keep = pc.and_(keep, pc.invert(dropped))
    if table == "sessions":
        return data.filter(keep)
    kept = pc.filter(ids, keep).combine_chunks()
    return data.filter(child_mask(data.column(_key_column(table)), kept, ids.combine_chunks()))


def read_unit(
    unit: Unit, table: str, options: Options, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """One partition of ``table``: ``columns`` of the rows of ``unit``, days filtered.

    Runs on a worker. Returns exactly ``schema.pandas_dtypes(table)`` for ``columns``
    (default all). Dask's optimizer passes only the columns a computation uses (the
    ``columns=`` argument makes ``from_map`` projectable), so Parquet reads skip the rest.
    """
    columns = list(schema.TABLES[table]) if columns is None else list(columns)
    if unit.kind == "parquet":
        folder = unit.paths[0]
        stored = list(columns)
        filtered = unit.days is not None or bool(unit.drop)
        if filtered:
            stored = list(dict.fromkeys([*stored, _key_column(table)]))
            sessions = read_parquet_table(
                folder, "sessions", ["sessionId", "start"], unit.row_groups, options
            )
        data = read_parquet_table(folder, table, stored, unit.row_groups, options)
        if filtered:
            data = _filter(data, table, sessions, unit)
    else:
        tables = read_raw_unit(unit, options, only=table)
        data = _filter(tables[table], table, tables["sessions"], unit)
    return to_pandas(data, table, list(columns))


def unit_session_ids(item: tuple[int, Unit], options: Options) -> pd.DataFrame:
    """The sessionIds a unit supplies (after its day filter), tagged with its index."""
    index, unit = item
    ids = read_unit(unit, "sessions", options, ["sessionId"])["sessionId"].to_numpy()
    return pd.DataFrame({"sessionId": ids, "unit": np.full(len(ids), index, dtype="int64")})


def _local_copy(path: str, options: Options, tmp: str) -> Path:
    """A local path for a raw file: itself, or a download of a URL into ``tmp``."""
    if not is_url(path):
        return Path(path)
    fs, inner = filesystem(path, options.so())
    local = Path(tmp) / inner.rsplit("/", 1)[-1]
    fs.get(inner, str(local))
    return local


def read_raw_unit(unit: Unit, options: Options, *, only: str | None) -> dict[str, pa.Table]:
    """Parse a raw JSON file or CSV job with the loader's streaming parsers.

    Returns the stored Arrow tables (``sessions`` always, plus ``only`` or every table).
    URLs are first copied to a temporary local file on the worker, then removed.
    """
    from leanplum_notebook.load.common import ARROW_SCHEMAS
    from leanplum_notebook.load.csv import iter_csv_part
    from leanplum_notebook.load.json_exact import FileStats, iter_json_batches

    tmp = tempfile.mkdtemp(prefix="lpnb-dask-") if any(map(is_url, unit.paths)) else None
    try:
        paths = [_local_copy(p, options, tmp or "") for p in unit.paths]
        collected: dict[str, list[pa.Table]] = {name: [] for name in schema.TABLES}
        stats = FileStats()
        if unit.kind == "json":
            batches: Iterable[tuple[str, pa.Table]] = (
                item
                for batch in iter_json_batches(
                    paths[0],
                    batch_sessions=options.batch_sessions,
                    on_bad_line=options.on_bad_line,
                    seen=set(),
                    stats=stats,
                )
                for item in batch.items()
            )
        else:
            batches = iter_csv_part(
                paths, on_bad_line=options.on_bad_line, stats_for=lambda _p: stats
            )
        for name, data in batches:
            if only is None or name in (only, "sessions"):
                collected[name].append(data)
        return {
            name: pa.concat_tables(parts) if parts else ARROW_SCHEMAS[name].empty_table()
            for name, parts in collected.items()
        }
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
