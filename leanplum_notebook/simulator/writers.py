"""Write session lines as Leanplum export files: JSON lines, or the six CSV kinds (spec 5, 7.2).

Both writers take the generator's line dicts (spec 5.1) and split their output on session
boundaries so that no file exceeds ``max_file_bytes`` (unless one session alone is larger).
Each file is written to a temporary name and moved into place with ``os.replace``; on any
error the files already written by the call are removed, so a fault never leaves a partial
export that looks complete.

JSON (``<stem>-output-<n>``): one session per line, UTF-8, written by orjson. Times held as
:class:`~leanplum_notebook.simulator.generator.JavaFloat` come out Java-style
(``1.591474962721E9``), plain floats as decimals (``1591474962.721``), strings as strings.

CSV (``<stem>-output<kind>-<n>``, kind in ``sessions``, ``states``, ``events``,
``eventparameters``, ``userattributes``, ``experiments``): spec 5.2 columns in order, one
header row per file, RFC 4180 (``\\r\\n`` line ends, fields with commas, quotes or newlines
double-quoted), UTF-8. Text rules, so a JSON loader can produce the same strings:

- JSON strings are written as they are (``sessionId``, ``lat``, ``"5"``, ``"True"``).
- JSON booleans are ``true`` / ``false``.
- JSON integers are their decimal text; JSON floats are Python's ``repr`` (shortest
  round-trip text: ``4.99``, ``0.0``), except times, which keep the text the JSON line has:
  Java-style (``1.591474962721E9``), plain (``1591474962.721``), or the content of a string
  time.
- A field absent from the JSON (omitted optional field) is an empty CSV field. ``isDeveloper``
  is therefore ``true`` or empty.
- Column renames (spec 5.2): ``time`` -> ``start``, ``firstRun`` -> ``userStart``,
  ``systemName`` -> ``osName``, ``systemVersion`` -> ``osVersion``,
  ``timezoneOffsetSeconds`` -> ``timezoneOffset``, state/event ``name`` -> ``stateName`` /
  ``eventName``, ``experiments[].id`` -> ``experimentId``.
- ``states`` rows come only from states that have a ``name``; nameless (synthetic) states are
  left out, while their events still carry their ``stateId`` (spec 5.1: apps that never call
  ``advance`` get header-only states files). State ``parameters`` and experiment
  ``impressed`` flags have no CSV column and are dropped.
- ``eventparameters`` rows are ``(eventId, name, value)`` per event parameter, and
  ``userattributes`` rows ``(sessionId, name, value)`` per attribute, in the JSON key order.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from .generator import JavaFloat, java_double, pause_gc

__all__ = [
    "CSV_COLUMNS",
    "csv_rows",
    "csv_text",
    "dumps_line",
    "iter_lines",
    "write_csv",
    "write_json",
]

logger = logging.getLogger(__name__)

#: CSV kind -> columns in order (spec 5.2).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": (
        "sessionId", "userId", "userBucket", "userStart", "country", "region", "city", "start",
        "duration", "lat", "lon", "locale", "timezone", "timezoneOffset", "appVersion", "client",
        "sdkVersion", "osName", "osVersion", "deviceModel", "browserName", "browserVersion",
        "deviceId", "priorEvents", "priorSessions", "priorTimeSpentInApp", "priorStates",
        "isDeveloper", "isSession", "sourcePublisherId", "sourcePublisher", "sourceSubPublisher",
        "sourceSite", "sourceCampaign", "sourceAdGroup", "sourceAd",
    ),
    "states": (
        "stateId", "sessionId", "stateName", "start", "duration", "info", "timeUntilFirstForUser",
    ),
    "events": (
        "eventId", "stateId", "sessionId", "eventName", "start", "value", "info",
        "timeUntilFirstForUser",
    ),
    "eventparameters": ("eventId", "name", "value"),
    "userattributes": ("sessionId", "name", "value"),
    "experiments": ("experimentId", "sessionId", "variantId"),
}  # fmt: skip

# CSV session column -> JSON key, where they differ.
_SESSION_SOURCE = {
    "userStart": "firstRun",
    "start": "time",
    "timezoneOffset": "timezoneOffsetSeconds",
    "osName": "systemName",
    "osVersion": "systemVersion",
}
_SESSION_KEYS = tuple(_SESSION_SOURCE.get(c, c) for c in CSV_COLUMNS["sessions"])


def _default(obj: Any) -> Any:
    if isinstance(obj, JavaFloat):
        return orjson.Fragment(java_double(obj).encode())
    raise TypeError(f"cannot serialise {type(obj).__name__} in an export line")


def dumps_line(line: dict[str, Any]) -> bytes:
    """Serialise one session as a JSON export line (no trailing newline).

    Parameters
    ----------
    line : dict
        A session line from the generator.

    Returns
    -------
    bytes
        Compact UTF-8 JSON; :class:`JavaFloat` values rendered Java-style.
    """
    return orjson.dumps(line, default=_default)


def csv_text(value: Any) -> str:
    """Text of one JSON value in a CSV field (rules in the module docstring).

    Parameters
    ----------
    value : Any
        A JSON value from a session line, or None for an absent field.

    Returns
    -------
    str
        The field text; ``""`` for None.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, JavaFloat):
        return java_double(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to a CSV field")


def csv_rows(line: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Return the CSV rows of one session line, per CSV kind.

    Parameters
    ----------
    line : dict
        A session line (spec 5.1).

    Returns
    -------
    dict of str to list of list of str
        Kind (``sessions``, ``states``, ``events``, ``eventparameters``, ``userattributes``,
        ``experiments``) -> rows in the columns of :data:`CSV_COLUMNS`.
    """
    t = csv_text
    session_id = t(line.get("sessionId"))
    get = line.get
    out: dict[str, list[list[str]]] = {
        "sessions": [[t(get(k)) for k in _SESSION_KEYS]],
        "states": [],
        "events": [],
        "eventparameters": [],
        "userattributes": [],
        "experiments": [],
    }
    states, events, params = out["states"], out["events"], out["eventparameters"]
    for state in line.get("states", ()):
        state_id = t(state.get("stateId"))
        if "name" in state:
            states.append(
                [
                    state_id,
                    session_id,
                    t(state["name"]),
                    t(state.get("time")),
                    t(state.get("duration")),
                    t(state.get("info")),
                    t(state.get("timeUntilFirstForUser")),
                ]
            )
        for ev in state.get("events", ()):
            event_id = t(ev.get("eventId"))
            events.append(
                [
                    event_id,
                    state_id,
                    session_id,
                    t(ev.get("name")),
                    t(ev.get("time")),
                    t(ev.get("value")),
                    t(ev.get("info")),
                    t(ev.get("timeUntilFirstForUser")),
                ]
            )
            for name, value in (ev.get("parameters") or {}).items():
                params.append([event_id, name, t(value)])
    for name, value in (line.get("userAttributes") or {}).items():
        out["userattributes"].append([session_id, name, t(value)])
    for exp in line.get("experiments", ()):
        out["experiments"].append([t(exp.get("id")), session_id, t(exp.get("variantId"))])
    return out


class _ShardWriter:
    """Files ``<directory>/<prefix><n>`` filled up to ``max_file_bytes`` each, atomically."""

    def __init__(self, directory: Path, prefix: str, max_file_bytes: int, header: bytes) -> None:
        self.directory = directory
        self.prefix = prefix
        self.max_file_bytes = max_file_bytes
        self.header = header
        self.done: list[Path] = []
        self._fh: IO[bytes] | None = None
        self._tmp: Path | None = None
        self._final: Path | None = None
        self._size = 0
        self._has_rows = False

    def _open(self) -> None:
        n = len(self.done)
        self._final = self.directory / f"{self.prefix}{n}"
        self._tmp = self.directory / f".{self.prefix}{n}.tmp-{os.getpid()}"
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed in _close / abort
        self._fh.write(self.header)
        self._size = len(self.header)
        self._has_rows = False

    def _close(self) -> None:
        assert self._fh is not None and self._tmp is not None and self._final is not None
        self._fh.close()
        os.replace(self._tmp, self._final)
        self.done.append(self._final)
        self._fh = self._tmp = self._final = None

    def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._fh is None:
            self._open()
        elif self._has_rows and self._size + len(chunk) > self.max_file_bytes:
            self._close()
            self._open()
        assert self._fh is not None
        self._fh.write(chunk)
        self._size += len(chunk)
        self._has_rows = True

    def finish(self) -> list[Path]:
        if self._fh is None and not self.done:
            self._open()  # an empty export still gets one (header-only) file
        if self._fh is not None:
            self._close()
        return self.done

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
        for path in self.done:
            with contextlib.suppress(OSError):
                path.unlink()
        self.done = []
        self._fh = self._tmp = self._final = None


def _check_args(directory: Path, stem: str, max_file_bytes: int) -> Path:
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"export directory does not exist: {directory}")
    if not stem or "/" in stem or os.sep in stem:
        raise ValueError(f"stem must be a plain file name prefix, got {stem!r}")
    if max_file_bytes < 1:
        raise ValueError(f"max_file_bytes must be >= 1, got {max_file_bytes}")
    return directory


def _run(writers: Iterable[_ShardWriter], body: Callable[[], None]) -> None:
    writers = list(writers)
    try:
        with pause_gc():
            body()
    except BaseException:
        for w in writers:
            w.abort()
        raise


def write_json(
    lines: Iterable[dict[str, Any]], directory: Path, stem: str, max_file_bytes: int
) -> list[Path]:
    """Write sessions as JSON export files ``<stem>-output-<n>``, one session per line.

    Parameters
    ----------
    lines : iterable of dict
        Session lines (spec 5.1), in the order to write them.
    directory : Path
        Existing folder to write into.
    stem : str
        File name stem, e.g. ``export-4727756026281984-<uuid>``.
    max_file_bytes : int
        Size limit per file; files split between lines, never inside one.

    Returns
    -------
    list of Path
        The files written, shard 0 first; one empty file when there are no lines.
    """
    directory = _check_args(directory, stem, max_file_bytes)
    writer = _ShardWriter(directory, f"{stem}-output-", max_file_bytes, b"")
    dumps, default = orjson.dumps, _default

    def body() -> None:
        for line in lines:
            writer.add(dumps(line, default=default) + b"\n")
        writer.finish()

    _run([writer], body)
    logger.debug("wrote %d JSON file(s) for %s", len(writer.done), stem)
    return writer.done


class _CsvEncoder:
    """Render rows as RFC 4180 CSV bytes, reusing one buffer."""

    def __init__(self) -> None:
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\r\n")

    def encode(self, rows: list[list[str]] | list[tuple[str, ...]]) -> bytes:
        self._writer.writerows(rows)
        text = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        return text.encode("utf-8")


def write_csv(
    lines: Iterable[dict[str, Any]], directory: Path, stem: str, max_file_bytes: int
) -> list[Path]:
    """Write sessions as the six CSV export kinds ``<stem>-output<kind>-<n>``.

    Parameters
    ----------
    lines : iterable of dict
        Session lines (spec 5.1).
    directory : Path
        Existing folder to write into.
    stem : str
        File name stem, e.g. ``export-4727756026281984-<uuid>``.
    max_file_bytes : int
        Size limit per file; each kind splits between sessions, never inside one.

    Returns
    -------
    list of Path
        All files written, grouped by kind in :data:`CSV_COLUMNS` order, shard 0 first.
        Every kind has at least one file (header-only when it has no rows). Columns and
        text rules are in the module docstring.
    """
    directory = _check_args(directory, stem, max_file_bytes)
    enc = _CsvEncoder()
    writers = {
        kind: _ShardWriter(directory, f"{stem}-output{kind}-", max_file_bytes, enc.encode([cols]))
        for kind, cols in CSV_COLUMNS.items()
    }

    def body() -> None:
        for line in lines:
            for kind, rows in csv_rows(line).items():
                if rows:
                    writers[kind].add(enc.encode(rows))
        for w in writers.values():
            w.finish()

    _run(writers.values(), body)
    return [path for w in writers.values() for path in w.done]


def iter_lines(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Read JSON export files back as dicts (for tests and tools).

    Parameters
    ----------
    paths : iterable of Path
        JSON export files.

    Yields
    ------
    dict
        One session per line.
    """
    for path in paths:
        with open(path, "rb") as fh:
            for raw in fh:
                if raw.strip():
                    yield orjson.loads(raw)
