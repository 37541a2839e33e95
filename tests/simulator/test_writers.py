"""The export writers: JSON lines and the six CSV kinds, splitting, atomicity, equivalence.

The JSON/CSV equivalence test reads both exports back with the standard ``json`` and ``csv``
modules and rebuilds the six CSV tables from the JSON independently of the writer code.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from leanplum_notebook.simulator.generator import DataConfig, Generator
from leanplum_notebook.simulator.writers import CSV_COLUMNS, csv_text, write_csv, write_json

APP = 4727756026281984
END = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc).timestamp()
STEM = f"export-{APP}-0b6c3a40-7a3e-4c55-9d7e-563d2749b96f"
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
KINDS = tuple(CSV_COLUMNS)


@pytest.fixture(scope="module")
def lines() -> list[dict[str, Any]]:
    config = DataConfig(initial_users=150, new_users_per_day=10.0, history_days=5)
    gen = Generator(config, APP, END)
    return [r.line for d in gen.days for r in gen.sessions_for_day(d)]


# --- independent reading of both formats ------------------------------------------------


def _raw(value: Any) -> str:
    """CSV text expected for a JSON value parsed with parse_float=str (raw number text)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _json_lines(files: list[Path]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in files:
        with open(path, encoding="utf-8") as fh:
            out.extend(json.loads(line, parse_float=str) for line in fh if line.strip())
    return out


def _expected_tables(sessions: list[dict[str, Any]]) -> dict[str, list[list[str]]]:
    """The six CSV tables built straight from the JSON (spec 5.2 names and order)."""
    rename = {"userStart": "firstRun", "start": "time", "timezoneOffset": "timezoneOffsetSeconds",
              "osName": "systemName", "osVersion": "systemVersion"}  # fmt: skip
    tables: dict[str, list[list[str]]] = {kind: [] for kind in KINDS}
    for s in sessions:
        sid = s["sessionId"]
        tables["sessions"].append([_raw(s.get(rename.get(c, c))) for c in CSV_COLUMNS["sessions"]])
        for st in s.get("states", []):
            if "name" in st:
                tables["states"].append([_raw(st["stateId"]), sid, st["name"], _raw(st["time"]),
                                         _raw(st["duration"]), _raw(st.get("info")),
                                         _raw(st.get("timeUntilFirstForUser"))])  # fmt: skip
            for ev in st.get("events", []):
                tables["events"].append([_raw(ev["eventId"]), _raw(st["stateId"]), sid,
                                         ev["name"], _raw(ev["time"]), _raw(ev.get("value")),
                                         _raw(ev.get("info")),
                                         _raw(ev.get("timeUntilFirstForUser"))])  # fmt: skip
                for name, value in ev.get("parameters", {}).items():
                    tables["eventparameters"].append([_raw(ev["eventId"]), name, _raw(value)])
        for name, value in s.get("userAttributes", {}).items():
            tables["userattributes"].append([sid, name, _raw(value)])
        for exp in s.get("experiments", []):
            tables["experiments"].append([_raw(exp["id"]), sid, _raw(exp["variantId"])])
    return tables


def _csv_tables(files: list[Path]) -> dict[str, list[list[str]]]:
    tables: dict[str, list[list[str]]] = {kind: [] for kind in KINDS}
    pattern = re.compile(r"-output([a-z]+)-(\d+)$")
    for path in sorted(
        files, key=lambda p: (p.name.rsplit("-", 1)[0], int(p.name.rsplit("-", 1)[1]))
    ):
        match = pattern.search(path.name)
        assert match, path.name
        kind = match.group(1)
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == list(CSV_COLUMNS[kind]), f"header of {path.name}"
        tables[kind].extend(rows[1:])
    return tables


def _shards(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern), key=lambda p: int(p.name.rsplit("-", 1)[1]))


# --- JSON --------------------------------------------------------------------------------


def test_json_round_trips_with_java_floats_and_exact_int64(
    tmp_path: Path, lines: list[dict[str, Any]]
) -> None:
    files = write_json(lines, tmp_path, STEM, 10**9)
    assert [p.name for p in files] == [f"{STEM}-output-0"]
    text = files[0].read_text(encoding="utf-8")
    assert re.search(r'"time":1\.\d+E9', text) and re.search(r'"time":1\d{9}\.\d+', text)
    back = [json.loads(raw) for raw in text.splitlines()]
    assert len(back) == len(lines)
    for original, parsed in zip(lines, back, strict=True):
        assert parsed == json.loads(json.dumps(original))  # same values, ids exact


def test_json_splits_on_session_boundaries(tmp_path: Path, lines: list[dict[str, Any]]) -> None:
    limit = 20_000
    files = write_json(lines, tmp_path, STEM, limit)
    assert len(files) > 3
    assert files == _shards(tmp_path, f"{STEM}-output-*")
    for path in files:
        data = path.read_bytes()
        assert data.endswith(b"\n")
        assert len(data) <= limit or data.count(b"\n") == 1
    back = [json.loads(raw) for path in files for raw in path.read_text().splitlines()]
    assert back == [json.loads(json.dumps(x)) for x in lines]


def test_a_session_larger_than_the_limit_gets_its_own_file(
    tmp_path: Path, lines: list[dict[str, Any]]
) -> None:
    biggest = max(lines, key=lambda x: len(json.dumps(x)))
    files = write_json([lines[0], biggest, lines[1]], tmp_path, STEM, 600)
    assert len(files) == 3
    assert json.loads(files[1].read_text())["sessionId"] == biggest["sessionId"]


def test_empty_input_still_gives_files(tmp_path: Path) -> None:
    files = write_json([], tmp_path, STEM, 1000)
    assert [p.read_bytes() for p in files] == [b""]
    csv_files = write_csv([], tmp_path, STEM, 1000)
    assert len(csv_files) == 6
    for path, kind in zip(csv_files, KINDS, strict=True):
        assert path.name == f"{STEM}-output{kind}-0"
        assert path.read_bytes() == (",".join(CSV_COLUMNS[kind]) + "\r\n").encode()


# --- CSV ---------------------------------------------------------------------------------


def test_csv_and_json_describe_the_same_rows_row_for_row(
    tmp_path: Path, lines: list[dict[str, Any]]
) -> None:
    json_files = write_json(lines, tmp_path, STEM, 30_000)
    csv_files = write_csv(lines, tmp_path, STEM, 30_000)
    expected = _expected_tables(_json_lines(json_files))
    got = _csv_tables(csv_files)
    for kind in KINDS:
        assert got[kind] == expected[kind], kind
    assert len(got["sessions"]) == len(lines)
    assert all(got[kind] for kind in KINDS)


def test_golden_csv_matches_golden_json_row_for_row() -> None:
    for folder in (GOLDEN, GOLDEN / "nostates"):
        json_files = _shards(folder / "json", "*-output-*")
        csv_files = list((folder / "csv").iterdir())
        assert json_files and len(csv_files) >= 6
        expected = _expected_tables(_json_lines(json_files))
        got = _csv_tables(csv_files)
        for kind in KINDS:
            assert got[kind] == expected[kind], (folder, kind)
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    assert manifest["nostates"]["csv_rows"]["states"] == 0
    assert manifest["main"]["csv_rows"]["sessions"] == manifest["main"]["num_sessions"]


def test_csv_quotes_newlines_commas_and_unicode(tmp_path: Path) -> None:
    line = {
        "sessionId": "-9223372036854775808",
        "userId": "u,1",
        "city": "São Paulo",
        "time": "1591474962.721",
        "isSession": True,
        "states": [
            {
                "stateId": 9223372036854775807,
                "name": "Home",
                "time": 1591474962.721,
                "duration": 1.5,
                "info": 'say "hi",\nthen\r\nleave',
                "events": [{"eventId": 1, "name": "E", "time": 1.0, "parameters": {"p": True}}],
            }
        ],
    }
    files = write_csv([line], tmp_path, STEM, 10_000)
    tables = _csv_tables(files)
    assert tables["states"][0][5] == 'say "hi",\nthen\r\nleave'
    assert tables["sessions"][0][0] == "-9223372036854775808"
    assert tables["sessions"][0][7] == "1591474962.721"  # a string time keeps its text
    assert tables["sessions"][0][6] == "São Paulo"
    assert tables["eventparameters"] == [["1", "p", "true"]]
    raw = next(p for p in files if "outputstates" in p.name).read_bytes()
    assert b'"say ""hi"",\nthen\r\nleave"' in raw


def test_csv_text_rules() -> None:
    from leanplum_notebook.simulator.generator import JavaFloat

    assert csv_text(None) == ""
    assert csv_text(True) == "true" and csv_text(False) == "false"
    assert csv_text(5) == "5" and csv_text("5") == "5"
    assert csv_text(4.99) == "4.99" and csv_text(0.0) == "0.0"
    assert csv_text(JavaFloat(1591474962.721)) == "1.591474962721E9"
    assert csv_text(-(2**63)) == "-9223372036854775808"
    with pytest.raises(TypeError, match="list"):
        csv_text([1])


def test_csv_splits_each_kind_on_session_boundaries(
    tmp_path: Path, lines: list[dict[str, Any]]
) -> None:
    limit = 8_000
    files = write_csv(lines, tmp_path, STEM, limit)
    by_kind: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        by_kind[path.name.split("-output")[1].rsplit("-", 1)[0]].append(path)
    assert set(by_kind) == set(KINDS)
    assert len(by_kind["events"]) > 3
    session_col = {"states": 1, "events": 2, "userattributes": 0, "experiments": 1}
    for kind, col in session_col.items():
        home: dict[str, str] = {}
        for path in by_kind[kind]:
            with open(path, encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))[1:]
            size = path.stat().st_size
            sessions_here = {r[col] for r in rows}
            assert size <= limit or len(sessions_here) == 1, path.name
            for sid in sessions_here:
                assert home.setdefault(sid, path.name) == path.name, f"{kind} {sid} split"


# --- robustness ----------------------------------------------------------------------------


def _failing(lines: list[dict[str, Any]], after: int) -> Iterator[dict[str, Any]]:
    for i, line in enumerate(lines):
        if i == after:
            raise RuntimeError("generator broke")
        yield line


@pytest.mark.parametrize("writer", [write_json, write_csv])
def test_a_fault_leaves_no_file_behind(
    tmp_path: Path, lines: list[dict[str, Any]], writer: Any
) -> None:
    with pytest.raises(RuntimeError, match="generator broke"):
        writer(_failing(lines, 200), tmp_path, STEM, 5_000)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="does not exist"):
        write_json([], tmp_path / "missing", STEM, 1000)
    with pytest.raises(ValueError, match="max_file_bytes"):
        write_csv([], tmp_path, STEM, 0)
    with pytest.raises(ValueError, match="stem"):
        write_json([], tmp_path, "a/b", 1000)


def test_same_lines_give_byte_identical_files(tmp_path: Path, lines: list[dict[str, Any]]) -> None:
    outputs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        files = write_json(lines, folder, STEM, 50_000) + write_csv(lines, folder, STEM, 50_000)
        outputs.append([(p.name, p.read_bytes()) for p in files])
    assert outputs[0] == outputs[1]
