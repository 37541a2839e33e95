"""Stream a Leanplum JSON-lines export file into batches of the six stored Arrow tables.

One session per line (spec 5.1). Each line is parsed with orjson into per-table row tuples;
every ``batch_sessions`` sessions the rows become Arrow arrays with the explicit stored
schema (``load.common``), so memory is bounded by the batch, not the file. A line that
cannot be read raises ``LoadError(file, line)`` or, with ``on_bad_line="skip"``, is skipped
and counted. A bad value found only when a batch is converted is located by re-reading the
batch's lines one by one.

This parser and :mod:`leanplum_notebook.load.json_fast` are parallel on purpose: the same
format read two ways (orjson per line here, DuckDB and Arrow there), so the fast path can be
checked against this exact one, and falls back to it for whatever it cannot prove. What they
share (the column rules) lives once, in ``load.common``.
"""

from __future__ import annotations

import gzip
import itertools
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa

from leanplum_notebook import schema
from leanplum_notebook.errors import LoadError
from leanplum_notebook.load.common import (
    INT64_MAX,
    INT64_MIN,
    py_float,
    py_id,
    py_int,
    rows_to_table,
    text_of,
)
from leanplum_notebook.redaction import get_logger

logger = get_logger(__name__)

_COLUMN_TO_JSON = {column: key for key, column in schema.JSON_TO_COLUMN.items()}
#: JSON keys of the session columns after ``sessionId``, in table order.
_SESSION_KEYS: tuple[str, ...] = tuple(
    _COLUMN_TO_JSON.get(column, column) for column in list(schema.SESSIONS)[1:]
)
_TABLES = tuple(schema.TABLES)
#: How many bad lines are described in the report (all are counted).
MAX_SAMPLES = 20


@dataclass
class FileStats:
    """What reading one raw file found."""

    sessions: int = 0
    bad_lines: int = 0
    duplicates: int = 0
    bad_samples: list[str] = field(default_factory=list)
    #: rows of the other tables that left with the removed duplicate sessions
    duplicate_rows: dict[str, int] = field(default_factory=dict)

    def mark(self) -> tuple[Any, ...]:
        """A snapshot to :meth:`restore` when a batch is read again."""
        counts = (self.sessions, self.duplicates, self.bad_lines, len(self.bad_samples))
        return (*counts, dict(self.duplicate_rows))

    def restore(self, mark: tuple[Any, ...]) -> None:
        """Undo what happened since :meth:`mark`."""
        self.sessions, self.duplicates, self.bad_lines = mark[:3]
        del self.bad_samples[mark[3] :]
        self.duplicate_rows = dict(mark[4])

    def removed(self, rows: dict[str, int]) -> None:
        """Count one removed duplicate session and the child rows that left with it."""
        self.duplicates += 1
        for table, n in rows.items():
            if n:
                self.duplicate_rows[table] = self.duplicate_rows.get(table, 0) + n

    def bad(self, path: Path, line: int | None, reason: str) -> None:
        self.bad_lines += 1
        if len(self.bad_samples) < MAX_SAMPLES:
            where = f"{path.name}, line {line}" if line is not None else path.name
            self.bad_samples.append(f"{where}: {reason}")


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """Open ``path`` for reading bytes, gunzipping ``.gz``; return (stream, raw file)."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if path.name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    return raw, raw


#: What a damaged compressed stream raises while it is read: gzip's EOFError (truncated),
#: BadGzipFile (an OSError), zlib.error (corrupt data)
DAMAGED_STREAM = (EOFError, OSError, zlib.error)


def damaged(path: Path, line: int | None, exc: BaseException) -> LoadError:
    """The error for a file whose bytes end early or are corrupt: no line after the damage
    can be read, so it is not a bad line to skip but a file to download again."""
    what = "ends early or is corrupt" if path.name.endswith(".gz") else "cannot be read"
    return LoadError(
        path,
        line,
        f"the file {what} ({type(exc).__name__}: {exc}); nothing after this point can be "
        "read, so the file is refused as a whole: download it again",
    )


def numbered_lines(path: Path, stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of a stream, a damaged stream raised as :func:`damaged`."""
    lineno = 0
    try:
        for lineno, line in enumerate(stream, 1):
            yield lineno, line
    except DAMAGED_STREAM as exc:
        raise damaged(path, lineno + 1, exc) from None


def _session_id(value: Any) -> int:
    if type(value) is str:
        try:
            number = int(value)
        except ValueError:
            number = None
        # int() also takes " 1", "+1", "1_0": only a canonical text takes this fast path.
        if number is not None and str(number) == value and INT64_MIN <= number <= INT64_MAX:
            return number
    elif type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return value
    number = py_id(value)
    if number is None:
        raise ValueError("sessionId is missing")
    return number


class _Rows:
    """Per-table row lists of the current batch."""

    __slots__ = ("attrs", "events", "experiments", "params", "session_ids", "sessions", "states")

    def __init__(self) -> None:
        self.sessions: list[tuple[Any, ...]] = []
        self.session_ids: list[int] = []
        self.states: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []
        self.params: list[tuple[Any, ...]] = []
        self.attrs: list[tuple[Any, ...]] = []
        self.experiments: list[tuple[Any, ...]] = []

    def lists(self) -> tuple[list[tuple[Any, ...]], ...]:
        return (self.sessions, self.states, self.events, self.params, self.attrs, self.experiments)

    def rollback(self, sid: int) -> None:
        """Remove the child rows a failed line appended: its rows are last and carry ``sid``.

        No earlier accepted line has the same sessionId (duplicates are skipped before
        parsing), so this needs no per-line bookkeeping on the hot path.
        """
        for rows, position in (
            (self.states, 1),
            (self.events, 2),
            (self.params, 3),
            (self.attrs, 0),
            (self.experiments, 1),
        ):
            while rows and rows[-1][position] == sid:
                rows.pop()

    def extend(self, other: _Rows) -> None:
        for mine, theirs in zip(self.lists(), other.lists(), strict=True):
            mine.extend(theirs)
        self.session_ids.extend(other.session_ids)

    def to_tables(self) -> dict[str, pa.Table]:
        return {
            name: rows_to_table(name, rows)
            for name, rows in zip(_TABLES, self.lists(), strict=True)
        }


_START = 1 + _SESSION_KEYS.index("time")
_USER_START = 1 + _SESSION_KEYS.index("firstRun")
#: Positions of the count columns in a session row: Arrow would truncate a float there.
_COUNTS = tuple(
    1 + index
    for index, column in enumerate(list(schema.SESSIONS)[1:])
    if schema.SESSIONS[column] == "int"
)


def child_rows(session: dict[str, Any]) -> dict[str, int]:
    """The rows one session line gives the tables other than ``sessions`` (as
    :func:`_parse_session` would write them: nameless states give no states row)."""
    counts = dict.fromkeys(("states", "events", "event_parameters"), 0)
    try:
        for state in session.get("states") or ():
            counts["states"] += state.get("name") is not None
            for event in state.get("events") or ():
                counts["events"] += 1
                counts["event_parameters"] += len(event.get("parameters") or ())
        counts["user_attributes"] = len(session.get("userAttributes") or ())
        counts["experiments"] = len(session.get("experiments") or ())
    except (AttributeError, TypeError):  # a malformed copy: what it would give is unknown
        pass
    return counts


def _parse_session(session: dict[str, Any], sid: int, rows: _Rows) -> None:
    """Append one session's rows; may leave partial child rows behind if it raises.

    Ids become ints and string times floats here (a cheap type check per value), so the
    rows convert to Arrow in one go (``rows_to_table``); a float id raises (never through
    float), as does a time text that is not a number.
    """
    session_row = (sid, *map(session.get, _SESSION_KEYS))
    if type(session_row[_START]) is str or type(session_row[_USER_START]) is str:
        fixed = list(session_row)
        fixed[_START] = py_float(fixed[_START])
        fixed[_USER_START] = py_float(fixed[_USER_START])
        session_row = tuple(fixed)
    for position in _COUNTS:
        if type(session_row[position]) is float:  # 5.0 is 5; 5.5 raises (not an integer)
            fixed = list(session_row)
            fixed[position] = py_int(fixed[position])
            session_row = tuple(fixed)
    states_append = rows.states.append
    events_append = rows.events.append
    params_append = rows.params.append
    for state in session.get("states") or ():
        state_id = state.get("stateId")
        if type(state_id) is not int:
            state_id = py_id(state_id)
        if state.get("name") is not None:
            # A nameless state is synthetic (apps that never call advance, offline records):
            # Leanplum's CSV export leaves it out of the states file; its events keep its id.
            # ``"name": null`` is nameless too: the export omits empty fields (spec 5.1).
            start = state.get("time")
            if type(start) is str:
                start = py_float(start)
            states_append(
                (
                    state_id,
                    sid,
                    state["name"],
                    start,
                    state.get("duration"),
                    state.get("info"),
                    state.get("timeUntilFirstForUser"),
                )
            )
        for event in state.get("events") or ():
            event_id = event.get("eventId")
            if type(event_id) is not int:
                event_id = py_id(event_id)
            start = event.get("time")
            if type(start) is str:
                start = py_float(start)
            events_append(
                (
                    event_id,
                    state_id,
                    sid,
                    event.get("name"),
                    start,
                    event.get("value"),
                    event.get("info"),
                    event.get("timeUntilFirstForUser"),
                )
            )
            parameters = event.get("parameters")
            if parameters:
                for name, value in parameters.items():
                    params_append(
                        (event_id, name, value if type(value) is str else text_of(value), sid)
                    )
    attributes = session.get("userAttributes")
    if attributes:
        attrs_append = rows.attrs.append
        for name, value in attributes.items():
            attrs_append((sid, name, value if type(value) is str else text_of(value)))
    experiments = session.get("experiments")
    if experiments:
        experiments_append = rows.experiments.append
        for experiment in experiments:
            experiment_id = experiment.get("id")
            variant_id = experiment.get("variantId")
            if type(experiment_id) is not int or type(variant_id) is not int:
                experiment_id, variant_id = py_id(experiment_id), py_id(variant_id)
            experiments_append((experiment_id, sid, variant_id))
    rows.sessions.append(session_row)
    rows.session_ids.append(sid)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, orjson.JSONDecodeError):
        return f"not valid JSON ({exc})"
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    if isinstance(exc, (AttributeError, TypeError)):
        return f"not a Leanplum session object ({type(exc).__name__}: {exc})"
    return str(exc) or type(exc).__name__


class _LineParser:
    """Parses lines into a ``_Rows`` batch, applying the bad-line policy and deduplication."""

    def __init__(self, path: Path, on_bad_line: str, seen: set[int], stats: FileStats) -> None:
        self.path = path
        self.skip = on_bad_line == "skip"
        self.seen = seen
        self.stats = stats

    def parse(self, lineno: int, line: bytes, rows: _Rows) -> None:
        sid = None
        try:
            session = orjson.loads(line)
            sid = _session_id(session["sessionId"])
            if sid in self.seen:
                # The same session twice in one export: keep the first line, count the
                # rows this one would have given, so that read == kept + removed
                self.stats.removed(child_rows(session))
                self.stats.sessions += 1  # read (numSessions counts it), then dropped
                return
            _parse_session(session, sid, rows)
        except Exception as exc:
            if sid is not None:
                rows.rollback(sid)
            if not line.strip():
                return  # a blank line (checked only here, off the hot path) holds no data
            self.bad(lineno, _describe(exc))
            return
        self.seen.add(sid)
        self.stats.sessions += 1

    def bad(self, lineno: int, reason: str) -> None:
        if not self.skip:
            raise LoadError(self.path, lineno, reason)
        self.stats.bad(self.path, lineno, reason)


def iter_json_batches(
    path: Path,
    *,
    batch_sessions: int,
    on_bad_line: str,
    seen: set[int],
    stats: FileStats,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[dict[str, pa.Table]]:
    """Yield the stored tables of ``path`` batch by batch.

    Parameters
    ----------
    path : Path
        A JSON-lines export file (``.gz`` accepted).
    batch_sessions : int
        Sessions per batch.
    on_bad_line : {"error", "skip"}
        Raise ``LoadError`` on the first bad line, or skip and count it in ``stats``.
    seen : set of int
        Session ids already read in this export part; a repeated one is counted in
        ``stats.duplicates`` and its line ignored. Updated in place.
    stats : FileStats
        Updated in place.
    on_bytes : callable, optional
        Called with the number of raw (compressed) bytes consumed, for progress.
    """
    parser = _LineParser(path, on_bad_line, seen, stats)
    stream, raw = open_binary(path)
    with raw, stream:
        rows = _Rows()
        batch_first_line = 1
        batch_marks = stats.mark()
        position = 0
        lineno = 0
        for lineno, line in numbered_lines(path, stream):
            parser.parse(lineno, line, rows)
            if len(rows.sessions) >= batch_sessions:
                yield _convert(path, rows, parser, batch_first_line, lineno, batch_marks)
                rows = _Rows()
                batch_first_line = lineno + 1
                batch_marks = stats.mark()
                if on_bytes is not None:
                    now = raw.tell()
                    on_bytes(now - position)
                    position = now
        if rows.sessions:
            yield _convert(path, rows, parser, batch_first_line, lineno, batch_marks)
        if on_bytes is not None:
            on_bytes(raw.tell() - position)


def _convert(
    path: Path,
    rows: _Rows,
    parser: _LineParser,
    first_line: int,
    last_line: int,
    marks: tuple[Any, ...],
) -> dict[str, pa.Table]:
    try:
        return rows.to_tables()
    except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
        logger.debug(
            "batch of %s lines %d-%d has a bad value (%s); locating it",
            path.name,
            first_line,
            last_line,
            exc,
        )
    # Undo what the batch did to the shared state, then re-read it line by line.
    parser.seen.difference_update(rows.session_ids)
    parser.stats.restore(marks)
    return _convert_line_by_line(path, parser, first_line, last_line)


def _convert_line_by_line(
    path: Path, parser: _LineParser, first_line: int, last_line: int
) -> dict[str, pa.Table]:
    good = _Rows()
    stream, raw = open_binary(path)
    with raw, stream:
        lines = itertools.islice(stream, first_line - 1, last_line)
        for lineno, line in enumerate(lines, first_line):
            single = _Rows()
            sessions_before = parser.stats.sessions
            parser.parse(lineno, line, single)
            if not single.sessions:
                continue
            try:
                single.to_tables()
            except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
                parser.seen.difference_update(single.session_ids)
                parser.stats.sessions = sessions_before
                parser.bad(lineno, f"bad value: {exc}")
                continue
            good.extend(single)
    return good.to_tables()
