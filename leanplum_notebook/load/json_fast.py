"""Fast path for JSON-lines export files: DuckDB parses, Arrow flattens, same stored tables.

DuckDB's ``read_json`` with an explicit column spec (never its type detection, which reads
mixed-sign 64-bit ids as HUGEINT and later float) parses the files of every part to read in
one query on two threads and streams nested Arrow record batches of sessions, in file order
and routed to their part by file name; Arrow then flattens the ``states``/``events``/
``parameters``/``userAttributes``/``experiments`` lists into the six stored tables, whose
columns go through the same ``load.common`` rules as the Python path. The two parsers stay
parallel on purpose (see :mod:`leanplum_notebook.load.json_exact`).

The fast path is strict, never lenient: whatever it cannot prove it reads exactly as the
Python path would raises :class:`FastPathUnsupported`, and the caller re-reads the whole part
with the Python path (which then gives the exact error, line number or skip count). Cases it
hands back: an id that is not canonical decimal text or an integer (DuckDB would round
``1.5`` to ``2``), a count that is not an integer, a missing required id, a number that
orjson cannot read (beyond 64 bits), an attribute or
parameter value orjson cannot read, any DuckDB error (bad JSON, a value that does not
convert, duplicate keys, a line over ``MAX_LINE_BYTES``, out of memory). A state whose
``name`` is missing or null is synthetic in both paths (DuckDB cannot tell the two apart).
A sessionId seen twice in a part stays on the fast path: the later copies are removed
after the parse, with their child rows, and counted (:func:`_deduplicated`).

Ids, counts and lat/lon are read as text (a JSON number read as text keeps its literal
digits) and converted by Arrow's strict casts (hexadecimal ``0x..`` refused).
Attribute and parameter values are read as JSON and given the CSV writer's text rule
(strings as they are, ``true``/``false``, integers as digits, floats as Python's ``repr``).

Importing this module does not import duckdb; :func:`available` does, once.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from leanplum_notebook import schema
from leanplum_notebook.load.common import (
    ARROW_SCHEMAS,
    STORED_KINDS,
    empty_to_null,
    finish_column,
    may_contain,
    text_of,
)
from leanplum_notebook.redaction import get_logger

logger = get_logger(__name__)

#: DuckDB threads per file (its scan splits a file on line boundaries; 2 cores here). The
#: caller flattens and writes the previous batch meanwhile.
THREADS: Final[int] = 2
#: DuckDB's memory limit: its scan buffers stay well under the 2x-file-size budget.
MEMORY_LIMIT: Final[str] = "256MB"
#: Largest line DuckDB accepts (CleverTap raised its line buffer to 20 MiB: spec 5.1).
MAX_LINE_BYTES: Final[int] = 16 * 1024 * 1024

_COLUMN_TO_JSON = {column: key for key, column in schema.JSON_TO_COLUMN.items()}

#: Logical kind -> DuckDB type read for a session field. Ids and counts as text: converted
#: strictly by Arrow (DuckDB's own casts round floats and accept ``+5`` or `` 12``).
_SQL_TYPES: Final[dict[str, str]] = {
    "id": "VARCHAR",
    "nullable_id": "VARCHAR",
    "time": "DOUBLE",
    "seconds": "DOUBLE",
    "float": "DOUBLE",
    "int": "VARCHAR",
    "bool": "BOOLEAN",
    "category": "VARCHAR",
    "text": "VARCHAR",
}

_EVENT = (
    "STRUCT(eventId VARCHAR, name VARCHAR, time DOUBLE, value DOUBLE, info VARCHAR, "
    '"timeUntilFirstForUser" DOUBLE, parameters MAP(VARCHAR, JSON))'
)
_STATE = (
    "STRUCT(stateId VARCHAR, name VARCHAR, time DOUBLE, duration DOUBLE, info VARCHAR, "
    f'"timeUntilFirstForUser" DOUBLE, events {_EVENT}[])'
)


class FastPathUnsupported(Exception):
    """The fast path cannot read this part exactly as the Python path: use the Python path."""


_available: bool | None = None


def available() -> bool:
    """True when duckdb can be imported (imported once, on first call)."""
    global _available
    if _available is None:
        try:
            import duckdb  # noqa: F401
        except ImportError:  # pragma: no cover - duckdb is a core dependency
            _available = False
        else:
            _available = True
    return _available


def _columns_spec() -> dict[str, str]:
    spec: dict[str, str] = {}
    for column, kind in schema.SESSIONS.items():
        key = _COLUMN_TO_JSON.get(column, column)
        spec[key] = "VARCHAR" if column in ("lat", "lon") else _SQL_TYPES[kind]
    spec["userAttributes"] = "MAP(VARCHAR, JSON)"
    spec["experiments"] = "STRUCT(id VARCHAR, variantId VARCHAR)[]"
    spec["states"] = f"{_STATE}[]"
    return spec


def _sql(paths: Sequence[Path]) -> tuple[str, list[Any]]:
    """The query reading ``paths`` (all of one compression) in order, with a ``filename``
    column for the progress."""
    spec = _columns_spec()
    struct = ", ".join(f"'{key}': '{typ}'" for key, typ in spec.items())
    compression = "gzip" if paths[0].name.endswith(".gz") else "none"
    query = (
        "SELECT * FROM read_json(?, format='newline_delimited', records=true, "
        f"columns={{{struct}}}, compression='{compression}', "
        f"maximum_object_size={MAX_LINE_BYTES}, ignore_errors=false, filename=true)"
    )
    return query, [[str(path) for path in paths]]


# ---------------------------------------------------------------------------------------
# Strict conversions


def _cast_digits(array: pa.Array, name: str, what: str) -> pa.Array:
    """Decimal text -> int64 by Arrow's strict cast, or refuse.

    Arrow, like the Python path, rejects ``+5``, `` 5``, ``1.5``, ``1e3`` and values beyond
    64 bits and reads ``05`` as 5; unlike it, Arrow reads ``0x5`` as hex: refused here.
    """
    try:
        ints = array.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise FastPathUnsupported(f"{name}: not all {what} are 64-bit integers ({exc})") from None
    if (
        may_contain(array, "x", "X")
        and pc.any(pc.match_substring(array, "x", ignore_case=True)).as_py()
    ):
        raise FastPathUnsupported(f"{name}: a hexadecimal {what[:-1]}")
    return ints


def _strict_id(array: pa.Array, name: str, *, required: bool = True) -> pa.Array:
    """Ids as text (a JSON integer's digits or an id string) -> exact int64, or refuse."""
    if array.null_count and required:
        raise FastPathUnsupported(f"{name}: a required id is missing")
    return _cast_digits(array, name, "ids")


def _strict_count(array: pa.Array, name: str) -> pa.Array:
    if array.null_count == len(array):
        return array.cast(pa.int64())
    return _cast_digits(array, name, "counts")


def _finish(array: pa.Array, kind: str, name: str) -> pa.Array:
    """Stored column from the DuckDB column (same rules as ``load.common``)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if kind in ("id", "nullable_id"):
        array = _strict_id(array, name, required=kind == "id")
    elif kind == "int":
        array = _strict_count(array, name)
    elif name in ("lat", "lon"):
        array = empty_to_null(array).cast(pa.float64())
    elif kind in ("category", "text"):
        array = empty_to_null(array)
    try:
        return finish_column(array, kind, name)
    except (ValueError, pa.ArrowException) as exc:
        raise FastPathUnsupported(str(exc)) from None


_SIMPLE_NUMBER = r"^-?[0-9]{1,18}$"  # every integer this long fits int64: its text is as is


def _value_texts(raw: pa.Array) -> pa.Array:
    """JSON values (DuckDB's compact JSON text) -> the CSV export's text for each value.

    Strings without escapes lose their quotes; ``true``/``false`` and integers keep their
    text; the rest (floats, escaped strings, long integers, nested values) go through Python
    (``text_of``), value by value: a small share of the values.
    """
    raw = raw.cast(pa.string())
    if len(raw) == 0:
        return raw
    plain = pc.starts_with(raw, '"')
    if may_contain(raw, "\\"):
        plain = pc.and_(plain, pc.invert(pc.match_substring(raw, "\\")))
    plain = pc.fill_null(plain, False)
    out = pc.if_else(plain, pc.utf8_slice_codeunits(raw, 1, -1), raw)
    if pc.all(plain).as_py():
        return out
    others = np.flatnonzero(~plain.to_numpy(zero_copy_only=False))
    other = raw.take(pa.array(others))
    simple = pc.or_(
        pc.is_in(other, value_set=pa.array(["true", "false"])),
        pc.match_substring_regex(other, _SIMPLE_NUMBER),
    )
    simple = pc.fill_null(simple, True)  # JSON null: missing value
    if pc.all(simple).as_py():
        return out
    hard = others[~simple.to_numpy(zero_copy_only=False)]
    fixed = [_python_text(text) for text in raw.take(pa.array(hard)).to_pylist()]
    filler = np.full(len(raw), None, dtype=object)
    filler[hard] = fixed
    mask = np.zeros(len(raw), dtype=bool)
    mask[hard] = True
    return pc.if_else(pa.array(mask), pa.array(filler, pa.string()), out)


def _python_text(raw: str) -> str | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson reads no integer beyond 64 bits: the Python path reports such a line.
        raise FastPathUnsupported(f"value {raw[:40]!r} is not readable by orjson") from None
    return text_of(value)


# ---------------------------------------------------------------------------------------
# Flattening one record batch of sessions


def _child(struct: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(struct, name) if len(struct) else pa.array([], struct.type[name].type)


def _flat(lists: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(flattened values, index of the parent row of each value)."""
    if isinstance(lists, pa.MapArray):  # list kernels take no maps: view it as a list
        mask = lists.is_null() if lists.null_count else None
        lists = pa.ListArray.from_arrays(lists.offsets, lists.values, mask=mask)
    return pc.list_flatten(lists), pc.list_parent_indices(lists)


def _map_rows(maps: pa.Array, owner: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(owner of each entry, key, text value) of a MAP column."""
    entries, parents = _flat(maps)
    keys = _child(entries, "key")
    values = _value_texts(_child(entries, "value"))
    return owner.take(parents), keys, values


def batch_tables(batch: pa.RecordBatch) -> dict[str, pa.Table]:
    """The six stored tables of one record batch of sessions read by DuckDB."""
    columns = dict(zip(batch.schema.names, batch.columns, strict=True))
    kinds = STORED_KINDS
    sid = _finish(columns["sessionId"], "id", "sessionId")

    session_arrays = [sid]
    for column, kind in list(schema.SESSIONS.items())[1:]:
        session_arrays.append(_finish(columns[_COLUMN_TO_JSON.get(column, column)], kind, column))

    states_all, state_parent = _flat(columns["states"])
    state_sid = sid.take(state_parent)
    state_id = _finish(_child(states_all, "stateId"), "id", "stateId")
    events_all, event_parent = _flat(_child(states_all, "events"))
    event_id = _finish(_child(events_all, "eventId"), "id", "eventId")
    event_state = state_id.take(event_parent)
    event_sid = state_sid.take(event_parent)

    # Nameless (synthetic) states are not in the states table, like Leanplum's CSV export.
    state_name = _child(states_all, "name")
    named = pc.is_valid(state_name)
    states_named = states_all.filter(named) if state_name.null_count else states_all
    state_values = {
        "stateId": state_id.filter(named) if state_name.null_count else state_id,
        "sessionId": state_sid.filter(named) if state_name.null_count else state_sid,
        "stateName": _child(states_named, "name"),
    }
    for column, key in (
        ("start", "time"),
        ("duration", "duration"),
        ("info", "info"),
        ("timeUntilFirstForUser", "timeUntilFirstForUser"),
    ):
        state_values[column] = _child(states_named, key)
    states = [
        state_values[c]
        if c in ("stateId", "sessionId")
        else _finish(state_values[c], kinds["states"][c], c)
        for c in schema.STATES
    ]

    event_values = {
        "eventId": event_id,
        "stateId": event_state,
        "sessionId": event_sid,
        "eventName": _child(events_all, "name"),
        "start": _child(events_all, "time"),
        "value": _child(events_all, "value"),
        "info": _child(events_all, "info"),
        "timeUntilFirstForUser": _child(events_all, "timeUntilFirstForUser"),
    }
    events = [
        event_values[c]
        if c in ("eventId", "stateId", "sessionId")
        else _finish(event_values[c], kinds["events"][c], c)
        for c in schema.EVENTS
    ]

    param_event, param_name, param_value = _map_rows(_child(events_all, "parameters"), event_id)
    param_sid = event_sid.take(_flat(_child(events_all, "parameters"))[1])
    params = [
        param_event,
        empty_to_null(param_name),
        _finish(param_value, "text", "value"),
        param_sid,
    ]

    attr_sid, attr_name, attr_value = _map_rows(columns["userAttributes"], sid)
    attrs = [attr_sid, empty_to_null(attr_name), _finish(attr_value, "text", "value")]

    exps_all, exp_parent = _flat(columns["experiments"])
    experiments = [
        _finish(_child(exps_all, "id"), "id", "experimentId"),
        sid.take(exp_parent),
        _finish(_child(exps_all, "variantId"), "id", "variantId"),
    ]

    arrays = {
        "sessions": session_arrays,
        "states": states,
        "events": events,
        "event_parameters": params,
        "user_attributes": attrs,
        "experiments": experiments,
    }
    return {
        name: pa.Table.from_arrays(arrays[name], schema=ARROW_SCHEMAS[name])
        for name in schema.TABLES
    }


@dataclass(frozen=True)
class Batch:
    """The stored tables of one batch of sessions of part ``group``."""

    group: int
    tables: dict[str, pa.Table]
    sessions: int
    #: repeated sessions removed from the batch (counted in ``sessions``: they were read)
    duplicates: int = 0
    #: rows of the other tables that left with them
    duplicate_rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FileDone:
    """Every batch of ``path`` (a file of part ``group``) has been yielded."""

    group: int
    path: Path


@dataclass(frozen=True)
class PartDone:
    """Every file of part ``group`` has been read by the fast path."""

    group: int


@dataclass(frozen=True)
class PartUnsupported:
    """Part ``group`` needs the Python path (``reason``); nothing more comes for it."""

    group: int
    reason: str


@dataclass(frozen=True)
class PartRestart:
    """Forget what came for part ``group``: its files are read again from the first."""

    group: int


Event = Batch | FileDone | PartDone | PartUnsupported | PartRestart


class _Restart:
    """Producer payload: the part's files will be read again (see :class:`PartRestart`)."""


#: What the producer queues: (part, payload), an exception to raise, or None at the end.
_Item = tuple[int, "pa.RecordBatch | Path | str | _Restart | None"] | BaseException | None


def iter_parts(groups: Sequence[Sequence[Path]], *, batch_sessions: int) -> Iterator[Event]:
    """Read the JSON-lines files of several parts, part after part, file after file.

    DuckDB parses in one background thread (it releases the GIL) without a pause between
    files or parts, while the caller flattens and writes the previous batch: a queue of two
    batches bounds the memory. Yields each batch's stored tables (:class:`Batch`), a
    :class:`FileDone` after each file, and per part either :class:`PartDone` or, as soon as
    something cannot be read exactly as the Python path would (see the module docstring),
    :class:`PartUnsupported`, after which nothing more comes for that part and the other
    parts go on. :class:`PartRestart` means: drop what came for that part, it is read again.
    """
    items: queue.Queue[_Item] = queue.Queue(maxsize=2)
    stop = threading.Event()
    given_up: set[int] = set()  # parts the consumer found unsupported: the producer skips them
    worker = threading.Thread(
        target=_scan,
        args=([list(files) for files in groups], batch_sessions, items, stop, given_up),
        name="duckdb-json",
        daemon=True,
    )
    worker.start()
    seen: dict[int, set[int]] = {}
    try:
        while True:
            item = items.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            group, payload = item
            if group in given_up:
                continue
            if isinstance(payload, pa.RecordBatch):
                try:
                    yield _deduplicated(group, payload, seen.setdefault(group, set()))
                except (FastPathUnsupported, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    # (an Arrow error: a value the fast path cannot convert, e.g. lat: [])
                    given_up.add(group)
                    yield PartUnsupported(group, str(exc))
                    continue
            elif isinstance(payload, Path):
                yield FileDone(group, payload)
            elif isinstance(payload, str):
                given_up.add(group)
                yield PartUnsupported(group, payload)
            elif isinstance(payload, _Restart):
                seen.pop(group, None)
                yield PartRestart(group)
            else:
                seen.pop(group, None)
                yield PartDone(group)
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.05)
        worker.join()


def _deduplicated(group: int, batch: pa.RecordBatch, seen: set[int]) -> Batch:
    """The batch's tables without the sessions already read in the part (or earlier in the
    batch), as the Python path does: the first line of a sessionId is kept, and the rows
    the later ones would have given are counted, per table.

    The later copies are removed from the nested batch before it is flattened, so their
    children leave with them whatever ids those children share with the first copy.
    """
    tables = batch_tables(batch)
    ids = tables["sessions"].column("sessionId").to_numpy()
    id_list = ids.tolist()
    _, first = np.unique(ids, return_index=True)
    fresh = np.zeros(len(ids), dtype=bool)
    fresh[first] = True
    # set lookups cost the batch, not the part: a part of a million sessions stays linear
    if not seen.isdisjoint(id_list):
        fresh &= np.fromiter((i not in seen for i in id_list), dtype=bool, count=len(id_list))
    seen.update(id_list)
    if fresh.all():
        return Batch(group, tables, batch.num_rows)
    kept = batch_tables(batch.filter(pa.array(fresh)))
    return Batch(
        group,
        kept,
        batch.num_rows,
        duplicates=int((~fresh).sum()),
        duplicate_rows={
            n: tables[n].num_rows - t.num_rows for n, t in kept.items() if n != "sessions"
        },
    )


def _connect() -> Any:
    import duckdb

    con = duckdb.connect(
        ":memory:",
        config={
            "threads": THREADS,
            "memory_limit": MEMORY_LIMIT,
            "preserve_insertion_order": True,
            # Never download anything: the json extension is built into the wheel; if it
            # were missing, the Python path reads the files.
            "autoinstall_known_extensions": False,
        },
    )
    # Its own progress bar would print to the terminal or the notebook.
    con.execute("SET enable_progress_bar = false")
    return con


def _scan(
    groups: list[list[Path]],
    batch_sessions: int,
    out: queue.Queue[_Item],
    stop: threading.Event,
    given_up: set[int],
) -> None:
    """Producer thread: per part, (part, record batch)... and (part, path) after each file,
    then (part, None), or (part, reason) if DuckDB failed; None at the very end.

    Every file in one query first: DuckDB reads ahead across files and parts, and its
    ~0.25 s start (it parses ~64 MB before the first rows come out) is paid once, not per
    part (18 files of 4 parts: 1.8-2.0 s -> 1.55-1.75 s). If that query fails, the part it was in
    is restarted and the others are read a query per part, so that a failure sends only
    its own part to the Python path.
    """
    cursor = _Cursor(groups, out, given_up)
    con = None
    try:
        con = _connect()
        first = 0
        if len({path.name.endswith(".gz") for path in cursor.paths}) == 1:
            try:
                cursor.read(con, 0, len(cursor.paths), batch_sessions, stop)
                first = len(groups)
            except _Stopped:
                raise
            except Exception as exc:
                logger.debug("one query for every file failed (%s); a query per part", exc)
                first = cursor.restart()
                out.put((first, _Restart()))
                with contextlib.suppress(Exception):
                    con.close()
                con = None
        for group in range(first, len(groups)):
            begin, end = cursor.ranges[group]
            try:
                if con is None:
                    con = _connect()
                same = len({path.name.endswith(".gz") for path in groups[group]}) == 1
                for a, b in [(begin, end)] if same else [(i, i + 1) for i in range(begin, end)]:
                    if group in given_up:
                        break
                    cursor.read(con, a, b, batch_sessions, stop)
            except _Stopped:
                raise
            except Exception as exc:
                # DuckDB errors (bad JSON, a value that does not convert, out of memory) may
                # come through pyarrow's reader as OSError: whatever failed, the Python path
                # reads this part; a fresh connection reads the next ones.
                out.put((group, f"duckdb: {exc}"))
                cursor.skip_to(end, group + 1)
                if con is not None:
                    with contextlib.suppress(Exception):
                        con.close()
                con = None
                continue
            cursor.close_parts_before(group + 1)
        cursor.close_parts_before(len(groups))
    except _Stopped:
        return
    except BaseException as exc:  # KeyboardInterrupt...: handed to the consumer, raised there
        out.put(exc)
        return
    finally:
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()
    out.put(None)


class _Stopped(Exception):
    """The consumer stopped reading."""


class _Cursor:
    """Where the producer is among the files of every part; queues what each read gives.

    A query's rows come in file order (``preserve_insertion_order``) with their file name,
    so a file is finished when a later file's rows arrive (files without a row are passed
    on the way), and a part when a later part's rows do. ``group`` is the first part not
    finished: the one a failed query was in.
    """

    def __init__(
        self, groups: list[list[Path]], out: queue.Queue[_Item], given_up: set[int]
    ) -> None:
        self.out = out
        self.given_up = given_up
        self.owners = [group for group, paths in enumerate(groups) for _ in paths]
        self.paths = [path for paths in groups for path in paths]
        self.ranges = []
        start = 0
        for paths in groups:
            self.ranges.append((start, start + len(paths)))
            start += len(paths)
        self.position = {str(path): index for index, path in enumerate(self.paths)}
        self.group = 0
        self.next_file = 0

    def read(
        self, con: Any, begin: int, end: int, batch_sessions: int, stop: threading.Event
    ) -> None:
        """Read files ``begin:end`` in one query; then they (and their parts) are finished."""
        query, params = _sql(self.paths[begin:end])
        for batch in con.sql(query, params=params).to_arrow_reader(batch_sessions):
            if stop.is_set():
                raise _Stopped
            if not batch.num_rows:
                continue
            names = batch.column(batch.num_columns - 1)
            data = batch.drop_columns(["filename"])
            first, last = (self.position[names[i].as_py()] for i in (0, -1))
            if self.owners[first] == self.owners[last]:
                self._rows(first, last, data)
                continue
            # Rows of several parts: cut at the first row of each later part.
            owner = np.array([self.owners[self.position[n]] for n in names.to_pylist()])
            cuts = [0, *(np.flatnonzero(np.diff(owner)) + 1).tolist(), len(owner)]
            for a, b in itertools.pairwise(cuts):
                start, stop_ = (self.position[names[i].as_py()] for i in (a, b - 1))
                self._rows(start, stop_, data.slice(a, b - a))
        self._finish_before(end)

    def restart(self) -> int:
        """The part being read will be read again from its first file: return it."""
        self.next_file = self.ranges[self.group][0]
        return self.group

    def skip_to(self, file: int, group: int) -> None:
        """Files before ``file`` and parts before ``group`` are dealt with (no message)."""
        self.next_file = max(self.next_file, file)
        self.group = max(self.group, group)

    def close_parts_before(self, group: int) -> None:
        """Parts before ``group`` are finished."""
        while self.group < group:
            self.out.put((self.group, None))
            self.group += 1

    def _rows(self, first: int, last: int, data: pa.RecordBatch) -> None:
        """Queue rows of files ``first`` to ``last`` (one part)."""
        self._finish_before(first)
        group = self.owners[first]
        if group not in self.given_up:
            self.out.put((group, data))
        self._finish_before(last)

    def _finish_before(self, file: int) -> None:
        """Files before ``file`` are finished, and so are the parts before its part."""
        while self.next_file < file:
            group = self.owners[self.next_file]
            self.close_parts_before(group)
            self.out.put((group, self.paths[self.next_file]))
            self.next_file += 1
        if file < len(self.paths):
            self.close_parts_before(self.owners[file])


__all__ = [
    "Batch",
    "FastPathUnsupported",
    "FileDone",
    "PartDone",
    "PartRestart",
    "PartUnsupported",
    "available",
    "batch_tables",
    "iter_parts",
]
