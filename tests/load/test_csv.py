"""CSV exports: bad rows and headers are named by file and line, or skipped and counted."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from leanplum_notebook.load import LoadError, load

STEM = "export-4727756026281984-c95e54af-5df3-4fc0-a62e-fa7601520b92"


def _events_file(folder: Path) -> Path:
    return folder / f"{STEM}-outputevents-0"


def _break_line(path: Path, line_number: int, replace: tuple[str, str]) -> None:
    """Change text on one physical line (1-based) of a CSV file."""
    lines = path.read_bytes().decode().split("\r\n")
    old, new = replace
    assert old in lines[line_number - 1]
    lines[line_number - 1] = lines[line_number - 1].replace(old, new, 1)
    path.write_bytes("\r\n".join(lines).encode())


def _simple_line(path: Path) -> tuple[int, str]:
    """A data line that holds one whole row (no quoted newline) and its first field."""
    lines = path.read_bytes().decode().split("\r\n")
    in_quotes = False
    for number, line in enumerate(lines, 1):
        starts_inside = in_quotes
        in_quotes ^= line.count('"') % 2 == 1
        if number > 5 and not starts_inside and not in_quotes and '"' not in line and line:
            return number, line.split(",")[0]
    raise AssertionError("no simple line")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("id", "column eventId"),
        ("fields", "fields, expected 8"),
        ("time", "column start"),
    ],
)
def test_bad_row_names_file_and_line(
    tmp_path: Path, lh: ModuleType, change: str, reason: str
) -> None:
    folder = lh.copy_golden(tmp_path, "csv")
    path = _events_file(folder)
    number, first = _simple_line(path)
    line = path.read_bytes().decode().split("\r\n")[number - 1]
    if change == "id":
        _break_line(path, number, (first, "12ab"))
    elif change == "fields":
        _break_line(path, number, (line, line + ",extra"))
    else:
        start = line.split(",")[4]
        _break_line(path, number, (f",{start},", ",yesterday,"))
    with pytest.raises(LoadError, match=reason) as caught:
        load(folder, progress=False)
    assert caught.value.path == path and caught.value.line == number
    skipped = load(folder, progress=False, on_bad_line="skip")
    assert skipped.report.bad_lines_skipped == 1
    good = load(lh.copy_golden(tmp_path / "again", "csv"), progress=False)
    assert len(skipped.events) == len(good.events) - 1


def test_wrong_header_is_an_error(tmp_path: Path, lh: ModuleType) -> None:
    folder = lh.copy_golden(tmp_path, "csv")
    path = _events_file(folder)
    _break_line(path, 1, ("eventName", "name"))
    with pytest.raises(LoadError, match="header") as caught:
        load(folder, progress=False, on_bad_line="skip")
    assert caught.value.line == 1


def test_gzip_and_empty_states_file(tmp_path: Path, lh: ModuleType) -> None:
    folder = lh.copy_golden(tmp_path, "nostates/csv")
    plain = load(folder, progress=False, use_parquet=False)
    gz = tmp_path / "gz"
    gz.mkdir()
    for path in folder.iterdir():
        if path.is_file():
            data = b"" if "outputstates" in path.name else path.read_bytes()
            (gz / (path.name + ".gz")).write_bytes(gzip.compress(data))
    zipped = load(gz, progress=False)
    lh.assert_tables_equal(plain, zipped)
    assert len(zipped.states) == 0


def test_missing_sessions_file_is_an_error(tmp_path: Path, lh: ModuleType) -> None:
    folder = lh.copy_golden(tmp_path, "csv")
    (folder / f"{STEM}-outputsessions-0").unlink()
    with pytest.raises(LoadError, match="no sessions CSV file"):
        load(folder, progress=False)


def test_session_twice_in_csv_keeps_first_row(tmp_path: Path, lh: ModuleType) -> None:
    folder = lh.copy_golden(tmp_path, "csv")
    sessions = folder / f"{STEM}-outputsessions-0"
    shutil.copy(sessions, folder / f"{STEM}-outputsessions-1")
    tables = load(folder, progress=False)
    assert tables.report.sessions_read == 122
    assert tables.report.duplicates_removed["sessions"] == 61
    assert len(tables.sessions) == 61 and tables.sessions["sessionId"].is_unique


@pytest.mark.parametrize("column", ["userBucket", "priorEvents"])
def test_count_beyond_int64_is_a_bad_row(tmp_path: Path, lh: ModuleType, column: str) -> None:
    folder = lh.copy_golden(tmp_path, "csv")
    path = folder / f"{STEM}-outputsessions-0"
    lines = path.read_bytes().decode().split("\r\n")
    header = lines[0].split(",")
    number, _ = _simple_line(path)
    fields = lines[number - 1].split(",")
    fields[header.index(column)] = "9" * 30
    lines[number - 1] = ",".join(fields)
    path.write_bytes("\r\n".join(lines).encode())
    with pytest.raises(LoadError, match="64-bit") as caught:
        load(folder, progress=False)
    assert caught.value.line == number
    skipped = load(folder, progress=False, on_bad_line="skip")
    assert skipped.report.bad_lines_skipped == 1 and len(skipped.sessions) == 60
