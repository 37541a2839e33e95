"""Bad export files for load(), fuzzed (issue 8 item 5).

hypothesis mutates the golden exports (tests/data/golden): JSON lines truncated, garbled,
with broken quoting, fields of the wrong type, unknown fields, missing fields, huge lines;
CSV session rows with broken quoting, wrong types, extra or missing columns, huge fields.
For every file:

* ``on_bad_line="skip"`` loads it or raises ``LoadError`` naming the file, nothing else;
  when it loads, no row is lost silently: sessions in == sessions out + skipped + duplicates
  removed;
* ``on_bad_line="error"`` raises ``LoadError`` naming the file and a line inside it exactly
  when the skipping load skipped something, and otherwise gives the same tables.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanplum_notebook.load import LoadError, load

pytestmark = pytest.mark.reliability

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HUGE = 3 * 2**20  # a 3 MiB field: lines longer than any buffer a reader might assume


def _golden_lines() -> list[bytes]:
    lines = []
    for path in sorted((GOLDEN / "json").iterdir()):
        lines += [line for line in path.read_bytes().split(b"\n") if line.strip()]
    return lines


JSON_LINES = _golden_lines()
CSV_FILES = sorted((GOLDEN / "csv").iterdir())
SESSION_FIELDS = [
    "sessionId",
    "userId",
    "userBucket",
    "time",
    "firstRun",
    "duration",
    "isSession",
    "isDeveloper",
    "lat",
    "lon",
    "timezoneOffsetSeconds",
    "priorSessions",
    "userAttributes",
    "experiments",
    "states",
]
ANY_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


# ---------------------------------------------------------------- JSON mutations


@st.composite
def json_mutation(draw: Any, line: bytes) -> bytes:
    kind = draw(
        st.sampled_from(
            ["truncate", "garbage", "quote", "wrong_type", "unknown", "missing", "huge", "nested"]
        )
    )
    if kind == "truncate":
        return line[: draw(st.integers(1, max(1, len(line) - 1)))]
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=40)).replace(b"\n", b" ")
    if kind == "quote":
        quotes = [i for i, c in enumerate(line) if c == ord('"')]
        i = draw(st.sampled_from(quotes))
        return line[:i] + line[i + 1 :]
    record = orjson.loads(line)
    if kind == "wrong_type":
        record[draw(st.sampled_from(SESSION_FIELDS))] = draw(ANY_JSON)
    elif kind == "unknown":
        record[draw(st.text(min_size=1, max_size=10))] = draw(ANY_JSON)
    elif kind == "missing":
        record.pop(draw(st.sampled_from(sorted(record))), None)
    elif kind == "huge":
        record["userId"] = "u" * HUGE
    elif kind == "nested":  # a wrong type inside a state or an event
        states = record.get("states") or [{}]
        state = states[0]
        if state.get("events") and draw(st.booleans()):
            target = state["events"][0]
            field = draw(st.sampled_from(["eventId", "time", "value", "name", "parameters"]))
        else:
            target = state
            field = draw(st.sampled_from(["stateId", "time", "duration", "name", "events"]))
        target[field] = draw(ANY_JSON)
        record["states"] = states
    # the stdlib writer: orjson refuses ints beyond 64 bits, which a bad file may hold
    return json.dumps(record, ensure_ascii=False).encode()


@st.composite
def json_file(draw: Any) -> tuple[list[bytes], int]:
    lines = list(draw(st.lists(st.sampled_from(JSON_LINES), min_size=1, max_size=12, unique=True)))
    n_bad = draw(st.integers(1, min(3, len(lines))))
    bad = st.lists(st.integers(0, len(lines) - 1), min_size=n_bad, max_size=n_bad, unique=True)
    for i in draw(bad):
        lines[i] = draw(json_mutation(lines[i]))
    return lines, sum(1 for line in lines if line.strip())


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def _check(files: list[Path], sessions_in: int) -> None:
    """The two bad-line policies, and the rows-in == rows-out + skipped accounting."""
    names = {p.name for p in files}
    try:
        skipped = load(files, on_bad_line="skip", use_parquet=False, progress=False)
    except LoadError as exc:  # a whole-file problem: it names the file
        assert exc.path.name in names and exc.path.name in str(exc)
        with pytest.raises(LoadError):
            load(files, on_bad_line="error", use_parquet=False, progress=False)
        return
    report = skipped.report
    out = len(skipped.sessions)
    accounted = (
        out
        + report.bad_lines_skipped
        + report.duplicates_removed["sessions"]
        + report.sessions_outside_days
    )
    assert accounted == sessions_in, (sessions_in, out, report)
    try:
        strict = load(files, on_bad_line="error", use_parquet=False, progress=False)
    except LoadError as exc:
        assert report.bad_lines_skipped > 0, f"strict load failed, skipping load skipped 0: {exc}"
        assert exc.path.name in names and exc.path.name in str(exc)
        if exc.line is not None:
            assert exc.line >= 1 and f"line {exc.line}" in str(exc)
        return
    assert report.bad_lines_skipped == 0
    for name in strict:
        assert len(strict[name]) == len(skipped[name]), name


@FUZZ
@given(data=json_file())
def test_json_lines(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    lines, sessions_in = data
    folder = tmp_path_factory.mktemp("json")
    path = _write(folder, f"export-1-{uuid.uuid4()}-output-0", b"\n".join(lines) + b"\n")
    _check([path], sessions_in)


# ---------------------------------------------------------------- CSV mutations


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _to_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


@st.composite
def csv_sessions(draw: Any) -> tuple[bytes, int]:
    rows = _rows(next(p for p in CSV_FILES if "outputsessions" in p.name))
    header, body = rows[0], rows[1:]
    picked = draw(st.lists(st.sampled_from(range(len(body))), min_size=1, max_size=12, unique=True))
    body = [list(body[i]) for i in picked]
    raw_edits: list[tuple[int, str]] = []
    for _ in range(draw(st.integers(1, min(3, len(body))))):
        i = draw(st.integers(0, len(body) - 1))
        kind = draw(st.sampled_from(["wrong_type", "extra", "missing", "huge", "quote", "text"]))
        if not body[i] and kind != "quote":
            kind = "extra"  # every field of this row was deleted by earlier edits
        # within the row as earlier edits left it (a field may be gone already)
        col = draw(st.integers(0, max(0, len(body[i]) - 1)))
        if kind == "wrong_type":
            choices = ["abc", "1e400", "-", "true", "nan", "0x1F", "9" * 30, "-" + "9" * 30]
            body[i][col] = draw(st.sampled_from(choices))
        elif kind == "extra":
            body[i].append(draw(st.text(max_size=8)))
        elif kind == "missing":
            del body[i][col]
        elif kind == "huge":
            body[i][min(1, len(body[i]) - 1)] = "u" * HUGE
        elif kind == "text":
            body[i][col] = draw(st.text(max_size=12))
        else:
            raw_edits.append((i, draw(st.sampled_from(['"', '"x"y', 'a"b', '""']))))
    lines = [_to_csv([header]).rstrip(b"\n")]
    for i, row in enumerate(body):
        line = _to_csv([row]).rstrip(b"\n")
        for j, text in raw_edits:
            if j == i:  # broken quoting, written around the csv module
                line = text.encode() + line
        lines.append(line)
    data = b"\n".join(lines) + b"\n"
    # sessions in: records as a lenient reader (Python's csv) sees them, header excluded
    return data, max(0, _count_records(data) - 1)


def _count_records(data: bytes) -> int:
    """Non-empty CSV records, field size unlimited (the limit is restored: it is global)."""
    old = csv.field_size_limit(2**31 - 1)
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
        return sum(1 for record in reader if record)
    finally:
        csv.field_size_limit(old)


@FUZZ
@given(data=csv_sessions())
def test_csv_sessions(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    sessions, sessions_in = data
    folder = tmp_path_factory.mktemp("csv")
    stem = f"export-1-{uuid.uuid4()}"
    files = [_write(folder, f"{stem}-outputsessions-0", sessions)]
    for path in CSV_FILES:  # the other five kinds, unchanged
        if "outputsessions" not in path.name:
            kind_shard = path.name.split("-output", 1)[1]
            files.append(_write(folder, f"{stem}-output{kind_shard}", path.read_bytes()))
    _check(files, sessions_in)


def test_golden_files_load_whole() -> None:
    """The unmutated golden files: nothing skipped, every session there (the baseline)."""
    tables = load(sorted((GOLDEN / "json").iterdir()), use_parquet=False, progress=False)
    assert len(tables.sessions) == len(JSON_LINES) and tables.report.bad_lines_skipped == 0
    _check(sorted((GOLDEN / "json").iterdir()), len(JSON_LINES))


# ---------------------------------------------------------------- found by the fuzzing


# (fixed in 4887203: it used to escape as OverflowError in both modes)
@pytest.mark.parametrize("column", ["userBucket", "timezoneOffset", "priorEvents"])
def test_csv_count_beyond_int64(tmp_path: Path, column: str) -> None:
    rows = _rows(next(p for p in CSV_FILES if "outputsessions" in p.name))
    header, body = rows[0], [list(r) for r in rows[1:4]]
    body[1][header.index(column)] = "9" * 30
    stem = f"export-1-{uuid.uuid4()}"
    files = [_write(tmp_path, f"{stem}-outputsessions-0", _to_csv([header, *body]))]
    for path in CSV_FILES:
        if "outputsessions" not in path.name:
            kind_shard = path.name.split("-output", 1)[1]
            files.append(_write(tmp_path, f"{stem}-output{kind_shard}", path.read_bytes()))
    _check(files, 3)


# (fixed in 29f1c6c: the DuckDB fast path let pyarrow's ArrowInvalid out of load())
@pytest.mark.parametrize("field", ["lat", "lon"])
@pytest.mark.parametrize("value", [[], {}, True, "abc", [1], {"a": 1}])
def test_json_coordinates_of_the_wrong_type(tmp_path: Path, field: str, value: Any) -> None:
    record = orjson.loads(JSON_LINES[1])
    record[field] = value
    lines = [JSON_LINES[0], orjson.dumps(record), JSON_LINES[2]]
    path = _write(tmp_path, f"export-1-{uuid.uuid4()}-output-0", b"\n".join(lines) + b"\n")
    _check([path], 3)
    if value is True:
        return  # read as 1.0 by both paths (lenient, but no row is lost)
    with pytest.raises(LoadError) as info:
        load([path], use_parquet=False, progress=False)
    assert info.value.line == 2
