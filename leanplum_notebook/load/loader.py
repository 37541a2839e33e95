"""Load Leanplum raw-data exports (JSON or CSV) into six typed pandas tables.

>>> tables = load(export)                      # an Export, its .parts, a folder or files
>>> tables.sessions, tables.events              # pandas DataFrames, schema.py dtypes
>>> tables.joined()                             # events with their session's columns
>>> tables.report                               # what was read, skipped, deduplicated

How it works. Raw files are streamed file by file and, inside a file, in batches of
``batch_sessions`` sessions. JSON files are parsed by DuckDB's ``read_json`` with an explicit
column spec (never its type detection; ids read as text and cast strictly to int64, so never
through float) in a producer thread, while each batch of nested sessions is flattened by
Arrow into the six tables (``json_fast``). Anything that parser cannot read exactly as the
Python parser would (a bad line, a float id, a sessionId twice...) sends the whole part to
the Python parser (``json_exact``: orjson per line, per-table rows, Arrow arrays with an
explicit schema), which gives the exact error with file and line, or skips and counts.
Each batch is appended as a row group to one Parquet file per table in the export's cache
entry (``<entry>/parquet``). CSV files are streamed by ``pyarrow.csv`` with explicit column
types. The pandas tables are then read back from Parquet (only the requested columns),
filtered to the requested Pacific days, and duplicate sessions across parts are removed. A
second load of the same files reads Parquet only.

The tables, their columns and dtypes are those of :mod:`leanplum_notebook.schema`: ids
``int64``, times ``datetime64[ms, UTC]``, durations/offsets in seconds ``float64``, counts
``Int64``, booleans ``boolean``, low-cardinality text ``category`` (categories sorted), other
text ``string``. Attribute and parameter values stay text, exactly as Leanplum's CSV export
writes them (JSON ``true`` -> ``"true"``, numbers as Python writes them); see
:func:`leanplum_notebook.joins.pivot_attributes` for typed wide columns.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leanplum_notebook import engines, schema
from leanplum_notebook.errors import LoadError, ValidationError
from leanplum_notebook.load import json_fast, select
from leanplum_notebook.load.common import PARAM_SESSION, STORED_KINDS
from leanplum_notebook.load.csv import csv_kind, iter_csv_part
from leanplum_notebook.load.json_exact import FileStats, iter_json_batches
from leanplum_notebook.load.parquet import (
    MemorySink,
    ParquetSink,
    read_meta,
    read_table,
    source_signature,
)
from leanplum_notebook.load.tables import TableSet
from leanplum_notebook.models import ExportPart
from leanplum_notebook.redaction import get_logger

__all__ = ["LoadError", "LoadReport", "SessionCountMismatch", "Tables", "load", "load_tables"]

logger = get_logger(__name__)

_CHILD_TABLES = ("states", "events", "event_parameters", "user_attributes", "experiments")


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class SessionCountMismatch:
    """An export part whose sessions read differ from the server's ``numSessions``."""

    job_id: str
    files: tuple[str, ...]
    expected: int
    read: int
    bad_lines_skipped: int = 0


@dataclass
class LoadReport:
    """What a :func:`load` call read, checked and removed.

    Attributes
    ----------
    files : list of Path
        Every raw file of the parts loaded.
    sessions_read : int
        Session records read (JSON lines, or rows of the sessions CSV files), before the
        day filter and deduplication; bad lines not included.
    sessions_expected : int or None
        Sum of the parts' ``numSessions``, when known.
    mismatches : list of SessionCountMismatch
        Parts whose ``sessions_read`` differs from ``numSessions`` (also logged).
    duplicates_removed : dict of str to int
        Rows removed per table because their session was a duplicate: the same sessionId in
        a newer part, or twice in one part (``sessions``).
    bad_lines_skipped : int
        Lines (JSON) or rows (CSV) skipped with ``on_bad_line="skip"``.
    bad_lines : list of str
        The first few skipped lines, as ``"<file>, line <n>: <reason>"``.
    sessions_outside_days : int
        Sessions dropped because their start is not on a requested (or the part's) day.
    parquet_used : bool
        True when every part came from its Parquet cache (no raw file parsed).
    parts_parsed, parts_cached : int
        Parts parsed from raw files, and parts read from the Parquet cache.
    parts_parsed_fast : int
        Of ``parts_parsed``, the JSON parts read by the DuckDB parser (``parser="auto"``);
        the others were read by the Python parser.
    """

    files: list[Path] = field(default_factory=list)
    sessions_read: int = 0
    sessions_expected: int | None = None
    mismatches: list[SessionCountMismatch] = field(default_factory=list)
    duplicates_removed: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(schema.TABLES, 0)
    )
    bad_lines_skipped: int = 0
    bad_lines: list[str] = field(default_factory=list)
    sessions_outside_days: int = 0
    parquet_used: bool = False
    parts_parsed: int = 0
    parts_cached: int = 0
    parts_parsed_fast: int = 0


class Tables(TableSet[pd.DataFrame]):
    """The six tables of a load, plus its :class:`LoadReport`.

    Attributes
    ----------
    sessions, states, events, event_parameters, user_attributes, experiments : DataFrame
        Columns and dtypes of :func:`leanplum_notebook.schema.pandas_dtypes` (or the
        requested subset), fresh ``RangeIndex``. A table not requested with ``tables=``
        raises ``LookupError`` when accessed.
    report : LoadReport
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame], report: LoadReport) -> None:
        super().__init__(dict(frames))
        self.report = report

    def joined(
        self, what: Literal["events", "sessions", "parameters"] = "events", **kwargs: Any
    ) -> pd.DataFrame:
        """Shortcuts to :mod:`leanplum_notebook.joins`.

        Parameters
        ----------
        what : {"events", "sessions", "parameters"}
            ``"events"``: :func:`~leanplum_notebook.joins.events_with_sessions` (events with
            their session's ``userId``, ``deviceId``, ``sessionStart``...);
            ``"sessions"``: :func:`~leanplum_notebook.joins.sessions_with_attributes`
            (sessions with one column per user attribute); ``"parameters"``:
            :func:`~leanplum_notebook.joins.events_with_parameters`.
        **kwargs
            Passed to the join function.

        Returns
        -------
        DataFrame
        """
        from leanplum_notebook.analysis import joins

        if what == "events":
            return joins.events_with_sessions(self.events, self.sessions, **kwargs)
        if what == "sessions":
            return joins.sessions_with_attributes(self.sessions, self.user_attributes, **kwargs)
        if what == "parameters":
            return joins.events_with_parameters(self.events, self.event_parameters, **kwargs)
        raise ValidationError(
            "what", f"expected 'events', 'sessions' or 'parameters', not {what!r}"
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(frame):,}" for name, frame in self._frames.items())
        return f"Tables({sizes})"


# ---------------------------------------------------------------------------------------
# Arguments


@dataclass
class SourcePart:
    files: tuple[Path, ...]
    format: str
    days: frozenset[date] | None
    num_sessions: int | None
    job_id: str
    cache_dir: Path | None
    recency: tuple[float, int]


def _entry_recency(entry_dir: Path) -> float | None:
    try:
        entry = orjson.loads((entry_dir / "entry.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    for key in ("finished_at", "downloaded_at", "submitted_at"):
        value = entry.get(key) if isinstance(entry, dict) else None
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _file_format(path: Path) -> tuple[str, str] | None:
    """Return (format, stem) from an export file name, or None."""
    match = schema.JSON_FILE.fullmatch(path.name)
    if match is not None:
        return "json", match["stem"]
    info = csv_kind(path)
    if info is not None:
        return "csv", info[0]
    return None


def _parts_from_files(files: Sequence[Path], *, from_folder: Path | None) -> list[SourcePart]:
    groups: dict[tuple[Path, str, str], list[Path]] = {}
    for path in files:
        kind = _file_format(path)
        if kind is None:
            raise ValidationError(
                "source",
                f"{path} is not a Leanplum export file name (expected ...-output-<n> for JSON "
                "or ...-output<kind>-<n> for CSV, optionally .gz)",
            )
        if not path.is_file():
            raise ValidationError("source", f"no such file: {path}")
        groups.setdefault((path.parent, kind[0], kind[1]), []).append(path)
    formats = {fmt for _, fmt, _ in groups}
    if from_folder is not None and len(formats) > 1:
        raise ValidationError(
            "source",
            f"{from_folder} holds both JSON and CSV exports; pass the files of one format",
        )
    parts = []
    for (parent, fmt, stem), paths in groups.items():
        recency = max(path.stat().st_mtime for path in paths)
        parts.append(
            SourcePart(
                files=tuple(sorted(paths, key=_shard_key)),
                format=fmt,
                days=None,
                num_sessions=None,
                job_id=stem,
                cache_dir=parent / "parquet" / stem,
                recency=(recency, 0),
            )
        )
    parts.sort(key=lambda part: part.recency)
    for index, part in enumerate(parts):
        part.recency = (part.recency[0], index)
    return parts


def _shard_key(path: Path) -> tuple[str, int]:
    digits = re.search(r"([0-9]+)(?:\.gz)?$", path.name)
    kind = path.name[: digits.start()] if digits else path.name
    return kind, int(digits.group(1)) if digits else 0


def _parts_from_export_parts(items: Sequence[ExportPart]) -> list[SourcePart]:
    parts = []
    for index, item in enumerate(items):
        if item.format not in ("json", "csv"):
            raise ValidationError("source", f"part {item.job_id!r} has format {item.format!r}")
        files = tuple(Path(f) for f in item.files)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ValidationError("source", f"part {item.job_id!r} misses files {missing}")
        recency = _entry_recency(Path(item.entry_dir))
        parts.append(
            SourcePart(
                files=tuple(sorted(files, key=_shard_key)),
                format=item.format,
                # An empty days tuple means the part does not restrict days.
                days=frozenset(item.days) or None,
                num_sessions=item.num_sessions,
                job_id=item.job_id or Path(item.entry_dir).name,
                cache_dir=Path(item.entry_dir) / "parquet",
                recency=(recency if recency is not None else float("-inf"), index),
            )
        )
    return parts


def resolve_source(source: Any) -> list[SourcePart]:
    if isinstance(source, ExportPart):
        return _parts_from_export_parts([source])
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files = [
                child
                for child in sorted(path.iterdir())
                if child.is_file() and _file_format(child) is not None
            ]
            if not files:
                raise ValidationError("source", f"{path} holds no Leanplum export files")
            return _parts_from_files(files, from_folder=path)
        if not path.exists():
            raise ValidationError("source", f"no such file or folder: {path}")
        return _parts_from_files([path], from_folder=None)
    if hasattr(source, "parts") and not isinstance(source, (list, tuple)):
        return resolve_source(list(source.parts))
    if isinstance(source, Iterable):
        items = list(source)
        if not items:
            raise ValidationError("source", "nothing to load (empty sequence)")
        if all(isinstance(item, ExportPart) for item in items):
            return _parts_from_export_parts(items)
        if all(isinstance(item, (str, os.PathLike)) for item in items):
            return _parts_from_files([Path(item) for item in items], from_folder=None)
        raise ValidationError("source", "expected ExportPart objects or file paths, not a mix")
    raise ValidationError(
        "source",
        f"cannot load a {type(source).__name__}: pass an Export, ExportParts, a folder or files",
    )


# ---------------------------------------------------------------------------------------
# Parsing one part


@dataclass
class SourcePartStats:
    sessions_read: int = 0
    bad_lines: int = 0
    duplicates: int = 0
    bad_samples: list[str] = field(default_factory=list)
    #: rows of the other tables that left with the part's removed duplicate sessions
    duplicate_rows: dict[str, int] = field(default_factory=dict)

    def add_duplicate_rows(self, rows: Mapping[str, int]) -> None:
        for table, n in rows.items():
            self.duplicate_rows[table] = self.duplicate_rows.get(table, 0) + int(n)

    def to_meta(self) -> dict[str, Any]:
        return {
            "sessions_read": self.sessions_read,
            "bad_lines_skipped": self.bad_lines,
            "duplicates_in_part": self.duplicates,
            "duplicate_rows_in_part": self.duplicate_rows,
            "bad_lines": self.bad_samples,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> SourcePartStats:
        return cls(
            sessions_read=int(meta.get("sessions_read", 0)),
            bad_lines=int(meta.get("bad_lines_skipped", 0)),
            duplicates=int(meta.get("duplicates_in_part", 0)),
            bad_samples=list(meta.get("bad_lines", [])),
            duplicate_rows=dict(meta.get("duplicate_rows_in_part") or {}),
        )


def _parse_part(
    part: SourcePart,
    sink: MemorySink | ParquetSink,
    *,
    on_bad_line: str,
    batch_sessions: int,
    bar: Any,
) -> SourcePartStats:
    file_stats: dict[Path, FileStats] = {}

    def stats_for(path: Path) -> FileStats:
        return file_stats.setdefault(path, FileStats())

    on_bytes = bar.update if bar is not None else None
    if part.format == "json":
        seen: set[int] = set()
        for path in part.files:
            logger.debug("parsing %s", path)
            for batch in iter_json_batches(
                path,
                batch_sessions=batch_sessions,
                on_bad_line=on_bad_line,
                seen=seen,
                stats=stats_for(path),
                on_bytes=on_bytes,
            ):
                for name, data in batch.items():
                    sink.write(name, data)
    else:
        for name, data in iter_csv_part(
            part.files, on_bad_line=on_bad_line, stats_for=stats_for, on_bytes=on_bytes
        ):
            sink.write(name, data)
    total = SourcePartStats()
    for stats in file_stats.values():
        total.sessions_read += stats.sessions
        total.bad_lines += stats.bad_lines
        total.duplicates += stats.duplicates
        total.add_duplicate_rows(stats.duplicate_rows)
        total.bad_samples.extend(stats.bad_samples)
    del total.bad_samples[20:]
    return total


class _Stored:
    """One part's stored tables: in its Parquet cache, or in memory."""

    def __init__(self, cache_dir: Path | None, memory: dict[str, pa.Table] | None) -> None:
        self.cache_dir = cache_dir
        self.memory = memory

    def read(self, table: str, columns: Sequence[str]) -> pa.Table:
        if self.memory is not None:
            return self.memory[table].select(list(columns))
        assert self.cache_dir is not None
        return read_table(self.cache_dir, table, columns)

    def drop(self, table: str) -> None:
        if self.memory is not None:
            self.memory.pop(table, None)


@dataclass
class _Filter:
    """Which rows of one part survive the day filter and cross-part deduplication."""

    keep: np.ndarray | None = None  # sessions rows to keep; None keeps everything
    kept_ids: pa.Array | None = None
    all_ids: pa.Array | None = None
    dup_ids: pa.Array | None = None

    def children(self, name: str, child: pa.Table, report: LoadReport) -> pa.Table:
        if self.keep is None:
            return child
        assert self.kept_ids is not None and self.all_ids is not None
        key = child.column(PARAM_SESSION if name == "event_parameters" else "sessionId")
        # Rows whose session is not among this part's sessions cannot be judged: kept.
        mask = pc.or_(
            pc.is_in(key, value_set=self.kept_ids),
            pc.invert(pc.is_in(key, value_set=self.all_ids)),
        )
        if self.dup_ids is not None and len(self.dup_ids):
            dups = pc.sum(pc.is_in(key, value_set=self.dup_ids)).as_py()
            report.duplicates_removed[name] += int(dups or 0)
        return child.filter(mask)


#: Threads reading the cached Parquet files of the parts side by side.
_READERS = 4


class _Loader:
    def __init__(
        self,
        *,
        tables: list[str],
        columns: dict[str, list[str]],
        days: frozenset[date] | None,
        on_bad_line: str,
        use_parquet: bool,
        batch_sessions: int,
        progress: bool,
        parser: str = "auto",
    ) -> None:
        self.tables = tables
        self.columns = columns
        self.days = days
        self.on_bad_line = on_bad_line
        self.use_parquet = use_parquet
        self.batch_sessions = batch_sessions
        self.progress = progress
        self.parser = parser
        self.report = LoadReport()

    def read_columns(self, table: str) -> list[str]:
        """Requested columns plus the keys the filters need, in stored order."""
        wanted = set(self.columns.get(table, []))
        if table == "sessions":
            wanted |= {"sessionId", "start"}
        elif table == "event_parameters":
            wanted.add(PARAM_SESSION)
        else:
            wanted.add("sessionId")
        return [c for c in STORED_KINDS[table] if c in wanted]

    def prepare(self, parts: list[SourcePart]) -> list[_Stored]:
        """Make sure every part has stored tables (parse what is not cached)."""
        cached: dict[int, dict[str, Any]] = {}
        if self.use_parquet:
            for index, part in enumerate(parts):
                if part.cache_dir is None:
                    continue
                meta = read_meta(part.cache_dir, part.files)
                if meta is None:
                    continue
                if meta.get("bad_lines_skipped") and self.on_bad_line == "error":
                    continue  # cached with skipped lines: re-parse so the error is raised
                cached[index] = meta
        to_parse = [index for index in range(len(parts)) if index not in cached]
        total_bytes = sum(f.stat().st_size for i in to_parse for f in parts[i].files)
        bar = None
        if to_parse and self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="Parsing export")
        gc_was_enabled = gc.isenabled()
        # The parse allocates millions of small tuples that are never cyclic: the cyclic
        # collector only costs time here (5-25 % measured).
        gc.disable()
        try:
            parsed: dict[int, tuple[SourcePartStats, _Stored]] = {}
            fast = [index for index in to_parse if parts[index].format == "json"]
            if fast and self.parser == "auto" and json_fast.available():
                parsed = self._parse_fast(parts, fast, bar)
            out = []
            for index, part in enumerate(parts):
                if index in cached:
                    stats = SourcePartStats.from_meta(cached[index])
                    logger.info("%s: reading the Parquet cache %s", part.job_id, part.cache_dir)
                    out.append(_Stored(part.cache_dir, None))
                    self.report.parts_cached += 1
                else:
                    stats, stored = parsed.get(index) or self._parse(part, bar)
                    out.append(stored)
                    self.report.parts_parsed += 1
                self._account(part, stats)
            return out
        finally:
            if gc_was_enabled:
                gc.enable()
            if bar is not None:
                bar.close()

    def _new_sink(self, part: SourcePart) -> MemorySink | ParquetSink:
        if self.use_parquet and part.cache_dir is not None:
            try:
                return ParquetSink(part.cache_dir)
            except OSError as exc:
                logger.warning(
                    "cannot write the Parquet cache in %s (%s); loading in memory",
                    part.cache_dir,
                    exc,
                )
        return MemorySink()

    def _parse_fast(
        self, parts: list[SourcePart], indexes: list[int], bar: Any
    ) -> dict[int, tuple[SourcePartStats, _Stored]]:
        """Parse JSON parts with DuckDB (``json_fast``), one after the other without a
        pause; return the parts read. The others (``PartUnsupported``) need the Python path,
        which reads them again and gives the exact error or skip."""
        sinks: dict[int, MemorySink | ParquetSink] = {}
        stats: dict[int, SourcePartStats] = {}
        reported: dict[int, int] = {}  # bytes shown on the progress bar, per part
        done: dict[int, tuple[SourcePartStats, _Stored]] = {}
        groups = [parts[index].files for index in indexes]
        try:
            for event in json_fast.iter_parts(groups, batch_sessions=self.batch_sessions):
                index = indexes[event.group]
                part = parts[index]
                if isinstance(event, (json_fast.PartRestart, json_fast.PartUnsupported)):
                    if isinstance(event, json_fast.PartUnsupported):
                        logger.info(
                            "%s: fast JSON path not used (%s); parsing in Python",
                            part.job_id,
                            event.reason,
                        )
                    # What came for the part is dropped: read again, here or in Python.
                    if bar is not None and reported.get(index):
                        bar.update(-reported.pop(index))
                    stats.pop(index, None)
                    if index in sinks:
                        _abort(sinks.pop(index))
                    continue
                if index not in sinks:
                    logger.info("%s: parsing %d json file(s)", part.job_id, len(part.files))
                    sinks[index] = self._new_sink(part)
                    stats[index] = SourcePartStats()
                if isinstance(event, json_fast.Batch):
                    for name, data in event.tables.items():
                        sinks[index].write(name, data)
                    stats[index].sessions_read += event.sessions
                    stats[index].duplicates += event.duplicates
                    stats[index].add_duplicate_rows(event.duplicate_rows)
                elif isinstance(event, json_fast.FileDone):
                    if bar is not None:
                        size = event.path.stat().st_size
                        bar.update(size)
                        reported[index] = reported.get(index, 0) + size
                else:  # PartDone
                    stored = self._commit(part, sinks.pop(index), stats[index])
                    done[index] = (stats[index], stored)
                    self.report.parts_parsed_fast += 1
        finally:
            for sink in sinks.values():  # an error, or parts left unfinished
                _abort(sink)
        return done

    def _parse(self, part: SourcePart, bar: Any) -> tuple[SourcePartStats, _Stored]:
        """Parse one part with the Python parsers (JSON: orjson per line; CSV: pyarrow)."""
        logger.info("%s: parsing %d %s file(s)", part.job_id, len(part.files), part.format)
        sink = self._new_sink(part)
        try:
            stats = _parse_part(
                part,
                sink,
                on_bad_line=self.on_bad_line,
                batch_sessions=self.batch_sessions,
                bar=bar,
            )
        except BaseException:
            _abort(sink)
            raise
        return stats, self._commit(part, sink, stats)

    def _commit(
        self, part: SourcePart, sink: MemorySink | ParquetSink, stats: SourcePartStats
    ) -> _Stored:
        if isinstance(sink, ParquetSink):
            try:
                sink.commit(
                    {
                        "format": part.format,
                        "job_id": part.job_id,
                        "files": source_signature(part.files),
                        **stats.to_meta(),
                    }
                )
            except BaseException:
                sink.abort()
                raise
            return _Stored(part.cache_dir, None)
        return _Stored(None, sink.tables())

    def _account(self, part: SourcePart, stats: SourcePartStats) -> None:
        report = self.report
        report.files.extend(part.files)
        report.sessions_read += stats.sessions_read
        report.bad_lines_skipped += stats.bad_lines
        report.bad_lines.extend(stats.bad_samples[: max(0, 20 - len(report.bad_lines))])
        report.duplicates_removed["sessions"] += stats.duplicates
        for table, n in stats.duplicate_rows.items():
            report.duplicates_removed[table] += n
        if stats.bad_lines:
            logger.warning("%s: skipped %d bad line(s)", part.job_id, stats.bad_lines)
        if part.num_sessions is not None:
            report.sessions_expected = (report.sessions_expected or 0) + part.num_sessions
            if part.num_sessions != stats.sessions_read:
                mismatch = SessionCountMismatch(
                    job_id=part.job_id,
                    files=tuple(f.name for f in part.files),
                    expected=part.num_sessions,
                    read=stats.sessions_read,
                    bad_lines_skipped=stats.bad_lines,
                )
                report.mismatches.append(mismatch)
                logger.warning(
                    "%s: read %d sessions but the server reported numSessions=%d",
                    part.job_id,
                    stats.sessions_read,
                    part.num_sessions,
                )

    def frames(self, parts: list[SourcePart], stored: list[_Stored]) -> dict[str, pd.DataFrame]:
        """Read, filter and convert the tables one at a time (bounds the peak memory)."""
        with ThreadPoolExecutor(max_workers=_READERS) as pool:
            # The parts' files of one table are read side by side (pyarrow releases the GIL;
            # it pays when an export has many small parts).
            columns = self.read_columns("sessions")
            sessions = list(pool.map(lambda s: s.read("sessions", columns), stored))
            filters = _filters(parts, sessions, self.days, self.report)
            frames: dict[str, pd.DataFrame] = {}
            wanted = self.columns
            for name in self.tables:
                if name == "sessions":
                    pieces = [piece.select(wanted[name]) for piece in sessions]
                    sessions.clear()
                else:
                    columns = self.read_columns(name)
                    read = list(pool.map(lambda s: s.read(name, columns), stored))  # noqa: B023
                    pieces = [
                        filters[index].children(name, piece, self.report).select(wanted[name])
                        for index, piece in enumerate(read)
                    ]
                    del read
                    for part_store in stored:
                        part_store.drop(name)
                combined = _concat(pieces)
                pieces.clear()
                frames[name] = to_pandas(name, combined, wanted[name])
                del combined
        return frames


def _abort(sink: MemorySink | ParquetSink) -> None:
    if isinstance(sink, ParquetSink):
        sink.abort()


@contextlib.contextmanager
def _system_memory_pool() -> Iterator[None]:
    """Arrow allocates from the C library's malloc while the pandas tables are built.

    numpy and pandas allocate there too, so memory freed by Arrow (the Parquet pieces once
    converted) is reused by the pandas tables instead of staying reserved by Arrow's own
    allocator (mimalloc by default). Measured on a 256 MB JSON file: peak 400-425 MB instead
    of 430-516 MB, and a reload in 0.17 s instead of 0.18-0.4 s. Not during the parse: the
    CSV reader's threads then fragment malloc's arenas (peak 700 MB instead of 400 MB).
    Buffers remember their pool, so switching back afterwards is safe.
    """
    previous = pa.default_memory_pool()
    # What the parse freed goes back to the OS first (cheap, unlike glibc's malloc_trim,
    # whose returned pages would be faulted in again at once).
    previous.release_unused()
    system = pa.system_memory_pool()
    if previous.backend_name == system.backend_name:
        yield
        return
    pa.set_memory_pool(system)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _filters(
    parts: list[SourcePart],
    sessions: list[pa.Table],
    days: frozenset[date] | None,
    report: LoadReport,
) -> list[_Filter]:
    """Day filter and cross-part deduplication (newest part wins); filters ``sessions``."""
    order = sorted(range(len(parts)), key=lambda i: parts[i].recency, reverse=True)
    ids = {index: sessions[index].column("sessionId").to_numpy() for index in order}
    on_days: dict[int, np.ndarray] = {}
    for index in order:
        table = sessions[index]
        keep = np.ones(len(ids[index]), dtype=bool)
        wanted_days = select.intersect(days, parts[index].days)
        if wanted_days is not None and len(keep):
            mask = select.session_mask(table, wanted_days)
            keep = mask.to_numpy(zero_copy_only=False).astype(bool)
            report.sessions_outside_days += int((~keep).sum())
        on_days[index] = keep
    duplicates: dict[int, np.ndarray] = {}
    if len(parts) > 1:
        # One hash pass over every kept id, newest part first: a session's later copies
        # (in older parts) are the duplicates. Each part has no duplicate of its own.
        kept = [ids[index][on_days[index]] for index in order]
        flags = pd.Series(np.concatenate(kept)).duplicated(keep="first").to_numpy()
        offset = 0
        for index, piece in zip(order, kept, strict=True):
            if flags[offset : offset + len(piece)].any():
                flagged = np.zeros(len(ids[index]), dtype=bool)
                flagged[on_days[index]] = flags[offset : offset + len(piece)]
                duplicates[index] = flagged
            offset += len(piece)
    filters = [_Filter() for _ in parts]
    for index in order:
        keep = on_days[index]
        duplicate = duplicates.get(index)
        if duplicate is not None:
            keep &= ~duplicate
            report.duplicates_removed["sessions"] += int(duplicate.sum())
        if keep.all():
            continue
        part_ids = ids[index]
        filters[index] = _Filter(
            keep=keep,
            kept_ids=pa.array(part_ids[keep]),
            all_ids=pa.array(part_ids),
            dup_ids=pa.array(part_ids[duplicate]) if duplicate is not None else None,
        )
        sessions[index] = sessions[index].filter(pa.array(keep))
    return filters


# ---------------------------------------------------------------------------------------
# Arrow -> pandas


_MAPPER = {
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
}


def _sorted_categorical(column: pa.ChunkedArray) -> Any:
    """A dictionary (or text) column as a Categorical whose categories are sorted.

    Sorted categories make a table's dtype independent of the order values were met in
    (the JSON and CSV paths, or two loads of overlapping exports, compare equal). Works on
    the dictionary and the codes alone: the values are never materialized.
    """
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    column = column.unify_dictionaries()
    if column.num_chunks:
        dictionary = column.chunk(0).dictionary
        indices = pa.chunked_array([chunk.indices for chunk in column.chunks])
    else:
        dictionary = pa.array([], pa.string())
        indices = pa.chunked_array([], pa.int32())
    order = pc.array_sort_indices(dictionary).to_numpy()
    categories = pd.Index(dictionary.take(pa.array(order)).to_pandas(), dtype="str")
    codes = indices.fill_null(-1).to_numpy() if indices.null_count else indices.to_numpy()
    if len(order):
        remap = np.empty(len(order), dtype=codes.dtype)
        remap[order] = np.arange(len(order), dtype=codes.dtype)
        codes = np.where(codes >= 0, remap[codes], -1) if indices.null_count else remap[codes]
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))


def _column_to_pandas(column: pa.ChunkedArray, kind: str) -> Any:
    if kind == "id":
        return column.to_numpy()
    if kind in ("seconds", "float"):
        return column.to_numpy()
    if kind == "time":
        return column.to_pandas().array
    if kind == "category":
        return _sorted_categorical(column)
    return column.to_pandas(types_mapper=_MAPPER.get).array


def to_pandas(table: str, data: pa.Table, columns: Sequence[str]) -> pd.DataFrame:
    """Convert a stored Arrow table to the pandas table of ``schema`` (requested columns).

    Parameters
    ----------
    table : str
        Table name (``schema.TABLES``).
    data : pyarrow.Table
        The stored table (as read from Parquet).
    columns : sequence of str
        Columns to return, in this order.

    Returns
    -------
    DataFrame
        Columns with the dtypes of :func:`leanplum_notebook.schema.pandas_dtypes`.
    """
    kinds = schema.TABLES[table]
    out: dict[str, Any] = {}
    for name in columns:
        out[name] = _column_to_pandas(data.column(name), kinds[name])
    # copy=False: no consolidation of same-dtype columns into 2-D blocks (a full copy).
    return pd.DataFrame(out, index=pd.RangeIndex(data.num_rows), columns=list(columns), copy=False)


def _concat(pieces: list[pa.Table]) -> pa.Table:
    if len(pieces) == 1:
        return pieces[0]
    target = pieces[0].schema
    return pa.concat_tables([piece.cast(target) for piece in pieces])


# ---------------------------------------------------------------------------------------
# Public entry point


def load(
    source: Any,
    *,
    tables: Sequence[str] | str | None = None,
    columns: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    days: Any = None,
    engine: str = "pandas",
    on_bad_line: str = "error",
    use_parquet: bool = True,
    batch_sessions: int = 10_000,
    progress: bool = True,
    parser: Literal["auto", "python"] = "auto",
) -> Tables:
    """Load a Leanplum export (JSON or CSV files) into six typed pandas tables.

    Parameters
    ----------
    source : Export, sequence of ExportPart, ExportPart, path or sequence of paths
        An object with ``.parts`` (the :class:`~leanplum_notebook.export.Export` of
        ``fetch()``), export parts from the cache, a folder of export files, or file paths.
        The format comes from the file names: ``...-output-<n>`` is JSON,
        ``...-output<kind>-<n>`` CSV; ``.gz`` is accepted. Files of one job (same name stem)
        form one part.
    tables : str or sequence of str, optional
        Subset of ``schema.TABLES`` (default all six).
    columns : sequence of str or dict of str to sequence of str, optional
        Columns to return: a dict ``table -> columns``, or a list applied to every table
        (each table keeps the listed columns it has). Only these are read from Parquet.
    days : date, str or iterable of them, optional
        Pacific (America/Los_Angeles) days to keep, by session start. Default: all days;
        for cache parts, each part's own ``days`` always applies too.
    engine : {"pandas", "dask"}
        ``"dask"`` returns a :class:`~leanplum_notebook.dask_engine.DaskTables` of six Dask
        DataFrames with the same columns and dtypes (needs the ``dask`` extra); the metric
        functions accept them as they accept pandas tables.
    on_bad_line : {"error", "skip"}
        ``"error"`` raises :class:`LoadError` naming the file and line; ``"skip"`` skips the
        line (JSON) or row (CSV) and counts it in ``report.bad_lines_skipped``.
    use_parquet : bool
        Keep each part's tables as Parquet in ``<entry_dir>/parquet`` (for a folder or
        files: ``<folder>/parquet/<stem>``) and read them from there next time. False
        parses in memory and writes nothing.
    batch_sessions : int
        Sessions per parsed batch (one Parquet row group); bounds the parse's memory.
    progress : bool
        Show a tqdm progress bar while parsing raw files.
    parser : {"auto", "python"}
        How JSON files are parsed. ``"auto"``: DuckDB (all cores, explicit column types,
        ids exact) for every part it can read exactly, else the streamed Python parser;
        ``"python"``: always the Python parser (orjson, batch by batch). Both give identical
        tables, errors and skip counts.

    Returns
    -------
    Tables
        ``sessions`` (sessionId, userId, userBucket, userStart, country, ... sourceAd),
        ``states`` (stateId, sessionId, stateName, start, duration, info,
        timeUntilFirstForUser), ``events`` (eventId, stateId, sessionId, eventName, start,
        value, info, timeUntilFirstForUser), ``event_parameters`` (eventId, name, value),
        ``user_attributes`` (sessionId, name, value), ``experiments`` (experimentId,
        sessionId, variantId), with the dtypes of :mod:`leanplum_notebook.schema`, and
        ``report`` (:class:`LoadReport`).

    Raises
    ------
    ValidationError
        A bad argument (unknown table or column, bad day, unknown file name...).
    LoadError
        A malformed line or row with ``on_bad_line="error"``.
    """
    if engine == "dask":
        # looked up by name: the pandas path never imports Dask
        return engines.engine("dask").load_dask(
            source,
            tables=tables,
            columns=columns,
            days=days,
            use_parquet=use_parquet,
            batch_sessions=batch_sessions,
            on_bad_line=on_bad_line,
        )
    if engine != "pandas":
        raise ValidationError("engine", f"expected 'pandas' or 'dask', not {engine!r}")
    if parser not in ("auto", "python"):
        raise ValidationError("parser", f"expected 'auto' or 'python', not {parser!r}")
    if on_bad_line not in ("error", "skip"):
        raise ValidationError("on_bad_line", f"expected 'error' or 'skip', not {on_bad_line!r}")
    if (
        isinstance(batch_sessions, bool)
        or not isinstance(batch_sessions, int)
        or (batch_sessions < 1)
    ):
        raise ValidationError("batch_sessions", f"expected a positive int, not {batch_sessions!r}")
    table_names = select.check_tables(tables)
    column_names = select.check_columns(columns, table_names)
    wanted_days = select.check_days(days)
    parts = resolve_source(source)

    loader = _Loader(
        tables=table_names,
        columns=column_names,
        days=wanted_days,
        on_bad_line=on_bad_line,
        use_parquet=use_parquet,
        batch_sessions=batch_sessions,
        progress=progress,
        parser=parser,
    )
    stored = loader.prepare(parts)
    report = loader.report
    report.parquet_used = report.parts_parsed == 0
    with _system_memory_pool():
        frames = loader.frames(parts, stored)
    if any(report.duplicates_removed.values()):
        logger.info("removed duplicate sessions: %s", report.duplicates_removed)
    return Tables(frames, report)


#: Alias kept for the package's lazy ``load_tables`` name.
load_tables = load


def build_cache(source: Any, *, batch_sessions: int = 10_000, on_bad_line: str = "error") -> None:
    """Parse ``source`` into its Parquet cache, keeping nothing in memory (for a Dask worker
    or a feed sync): asking for one tiny column makes the loader write all six tables and
    read back almost nothing, and the parse streams, so memory stays bounded by the batch.
    """
    load(
        source,
        tables=["experiments"],
        columns={"experiments": ["experimentId"]},
        batch_sessions=batch_sessions,
        on_bad_line=on_bad_line,
        progress=False,
    )
