"""Count the sessions in an export's files without parsing them: the proof a download is whole.

``numSessions`` is the number of session lines (JSON) or rows of the sessions files (CSV)
(spec 7.12). Counting them is cheap next to a download (a newline scan for JSON, the C
``csv`` reader for CSV, which handles quoted newlines), so a job whose files hold fewer
sessions than it announced is caught before anything is kept as complete.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable
from pathlib import Path

from leanplum_notebook import schema
from leanplum_notebook.errors import LoadError
from leanplum_notebook.load.json_exact import open_binary

__all__ = ["count_sessions"]


def _json_lines(path: Path) -> int:
    stream, raw = open_binary(path)
    with raw, stream:
        return sum(1 for line in stream if not line.isspace())  # line ends kept: never empty


def _csv_rows(path: Path) -> int:
    stream, raw = open_binary(path)
    with raw, stream:
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
        rows = sum(1 for row in csv.reader(text) if row)
    return max(0, rows - 1)  # the header row


def count_sessions(files: Iterable[tuple[str, Path]], format: str) -> int:
    """The sessions held by an export's files.

    Parameters
    ----------
    files
        ``(name, path)`` of each file (the name decides the kind: the path may be a
        temporary ``.part``).
    format
        ``"json"`` (non-blank lines of every file) or ``"csv"`` (data rows of the
        ``...-outputsessions-<n>`` files).

    Raises
    ------
    LoadError
        A file that cannot be read (a truncated ``.gz``), naming it.
    """
    total = 0
    for name, path in files:
        try:
            if format == "csv":
                match = schema.CSV_FILE.fullmatch(name)
                if match and match["kind"] == schema.CSV_FILE_KINDS["sessions"]:
                    total += _csv_rows(path)
            elif schema.JSON_FILE.fullmatch(name):
                total += _json_lines(path)
        except (OSError, EOFError, zlib.error, csv.Error) as exc:
            raise LoadError(path, None, f"cannot count its sessions ({exc})") from None
    return total
