"""The DuckDB JSON parser (``parser="auto"``) against the Python parser: same tables, same errors.

Every test loads the same real files twice, once per parser, and compares the six tables
exactly (values, dtypes, row order); ``report.parts_parsed_fast`` tells which parser read a
part, so a test cannot pass by silently falling back to the Python path.
"""

from __future__ import annotations

import gzip
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from leanplum_notebook import schema
from leanplum_notebook.load import LoadError, Tables, load

BASE = (
    '"userId":"u1","deviceId":"d1","userBucket":7,"time":1.591474962721E9,'
    '"firstRun":"1.550040022647E9","duration":42.5,"isSession":true,"lat":"37.77","lon":"-1.5",'
    '"timezoneOffsetSeconds":-25200,"priorEvents":3'
)


def session(sid: object, **fields: object) -> str:
    """One JSON line: the base session fields plus ``fields`` (JSON-encoded)."""
    extra = "".join(f",{json.dumps(key)}:{value}" for key, value in fields.items())
    return f'{{"sessionId":{json.dumps(sid)},{BASE}{extra}}}'


def write(folder: Path, *lines: str, name: str = "export-1-abc-output-0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def assert_same_exactly(fast: Tables, slow: Tables) -> None:
    """Same tables in the same row order (not only as sets), same dtypes."""
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(fast[name], slow[name], check_exact=True, obj=name)


def both(folder: Path, **kwargs: object) -> tuple[Tables, Tables]:
    fast = load(folder, progress=False, use_parquet=False, **kwargs)  # type: ignore[arg-type]
    slow = load(folder, progress=False, use_parquet=False, parser="python", **kwargs)  # type: ignore[arg-type]
    assert slow.report.parts_parsed_fast == 0
    return fast, slow


# Attribute and parameter values of every JSON kind, with the CSV writer's text for each.
VALUE_TEXTS = {
    '"free"': "free",
    '"True"': "True",
    '"caf\\u00e9 \\"q\\"\\n"': 'café "q"\n',
    '"a\\/b"': "a/b",
    "true": "true",
    "false": "false",
    "0": "0",
    "-42": "-42",
    "9223372036854775807": "9223372036854775807",
    "18446744073709551615": "18446744073709551615",
    "4.99": "4.99",
    "1E9": "1000000000.0",
    "1.591474962721E9": "1591474962.721",
    "1e-05": "1e-05",
    "1e16": "1e+16",
    "-0.0": "-0.0",
    "2.5": "2.5",
    "[1, 2]": "[1,2]",
    '{"k": 1.0}': '{"k":1.0}',
}


def test_value_texts_follow_the_csv_writer_rule(tmp_path: Path) -> None:
    attrs = ",".join(f'"a{i}":{raw}' for i, raw in enumerate(VALUE_TEXTS))
    params = ",".join(f'"p{i}":{raw}' for i, raw in enumerate(VALUE_TEXTS))
    states = (
        f'[{{"stateId":1,"name":"Home","events":[{{"eventId":2,"name":"Buy","time":1.6E9,'
        f'"parameters":{{{params},"empty":"","none":null}}}}]}}]'
    )
    write(
        tmp_path / "x",
        session("10", userAttributes=f"{{{attrs}}}", states=states),
        session("11", userAttributes='{"plan":"paid"}'),
    )
    fast, slow = both(tmp_path / "x")
    assert fast.report.parts_parsed_fast == 1
    assert_same_exactly(fast, slow)
    attributes = fast.user_attributes[fast.user_attributes["sessionId"] == 10]
    assert list(attributes["value"]) == list(VALUE_TEXTS.values())
    parameters = fast.event_parameters
    assert list(parameters["value"][: len(VALUE_TEXTS)]) == list(VALUE_TEXTS.values())
    assert parameters["value"].iloc[-2:].isna().all()  # "" and null are missing values


def test_quirky_lines_and_nameless_states(tmp_path: Path) -> None:
    states = (
        '[{"stateId":-9223372036854775808,"name":"Home","time":"1591474963.5","duration":1.0,'
        '"info":"caf\\u00e9","timeUntilFirstForUser":3,"events":[{"eventId":9223372036854775807,'
        '"name":"Purchase","time":1591474970.001,"value":4.99,"info":"x\\ny",'
        '"parameters":{"sku":"gold","level":5}}]},'
        '{"stateId":"17","events":[{"eventId":"-3","name":".m42","time":"1.5914749E9"}]}]'
    )
    experiments = (
        '[{"id":800315004,"variantId":"-796675005","impressed":true},{"id":1,"variantId":2}]'
    )
    write(
        tmp_path / "x",
        session("4503599627370496", states=states, experiments=experiments, isDeveloper="true"),
        '{"sessionId":-17,"isSession":false}',
        '{"sessionId":"18"}',
        "",
    )
    fast, slow = both(tmp_path / "x")
    assert fast.report.parts_parsed_fast == 1
    assert_same_exactly(fast, slow)
    # the nameless (synthetic) state is not a states row; its event keeps the state's id
    assert list(fast.states["stateId"]) == [-(2**63)]
    assert list(fast.events["stateId"]) == [-(2**63), 17]
    assert list(fast.events["eventId"]) == [2**63 - 1, -3]
    assert list(fast.experiments["variantId"]) == [-796675005, 2]
    assert list(fast.sessions["isSession"]) == [True, False, False]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (session("1", states='[{"stateId":1.5,"name":"float id"}]'), "not a 64-bit"),
        (session("1", states='[{"stateId":"0x5","name":"hex id"}]'), "not a 64-bit"),
        (session("1", states='[{"stateId":"+5","name":"plus"}]'), "not a 64-bit"),
        (session("1", experiments='[{"id":1}]'), "required id is missing"),
        (session("1", priorSessions="5.5"), "not an integer"),
        ("{not json", "not valid JSON"),
        (session("1", time='"soon"'), "'soon' is not a number"),
    ],
)
def test_what_the_fast_path_cannot_read_exactly_goes_to_python(
    tmp_path: Path, bad: str, reason: str
) -> None:
    path = write(tmp_path / "x", session("100"), session("101"), bad)
    with pytest.raises(LoadError, match=reason) as caught:
        load(tmp_path / "x", progress=False)
    assert caught.value.path == path and caught.value.line == 3
    cache = tmp_path / "x" / "parquet"
    assert not list(cache.rglob("meta.json")) and not list(cache.rglob("*.parquet"))
    fast, slow = both(tmp_path / "x", on_bad_line="skip")
    assert fast.report.parts_parsed_fast == 0
    assert fast.report.bad_lines_skipped == slow.report.bad_lines_skipped == 1
    assert_same_exactly(fast, slow)


@pytest.mark.parametrize(
    ("line", "fast_path"),
    [
        (session("1", priorSessions="5.0"), False),  # an integral float: Python reads 5
        (session("1", userAttributes='{"n":123456789012345678901234}'), True),  # orjson: float
        (session("1", userAttributes='{"n":-9223372036854775809}'), True),
        ('{"sessionId":"1","userId":"a","userId":"b"}', False),  # duplicate key: last wins
        (session("1", userAttributes='{"k":"1","k":2}'), False),
        # "name": null is a missing name (empty fields are omitted): both states synthetic
        (session("1", states='[{"stateId":1,"name": null},{"stateId":2}]'), True),
        (session("1", states='[{"stateId":2}]', info='"null"'), True),  # "null" text only
    ],
)
def test_odd_values_read_like_python(tmp_path: Path, line: str, fast_path: bool) -> None:
    write(tmp_path / "x", session("100"), line)
    fast, slow = both(tmp_path / "x")
    assert fast.report.parts_parsed_fast == int(fast_path)
    assert_same_exactly(fast, slow)


def test_same_session_twice_in_a_part_is_counted_like_python(tmp_path: Path) -> None:
    write(tmp_path / "x", session("1"), session("2"), name="export-1-abc-output-0")
    write(tmp_path / "x", session("2"), name="export-1-abc-output-1")
    fast, slow = both(tmp_path / "x")
    assert fast.report.parts_parsed_fast == 1  # the repeat stays on the fast path
    assert fast.report.duplicates_removed == slow.report.duplicates_removed
    assert fast.report.duplicates_removed["sessions"] == 1
    assert_same_exactly(fast, slow)


def test_gzip_files_and_several_files_in_a_part(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    write(folder, session("1"), session("2"), name="export-1-abc-output-0")
    plain = write(folder, session("3", userAttributes='{"v":1.5}'), name="export-1-abc-output-1")
    with gzip.open(folder / "export-1-abc-output-2.gz", "wb") as f:
        f.write(plain.read_bytes().replace(b'"3"', b'"4"'))
    fast, slow = both(folder)
    assert fast.report.parts_parsed_fast == 1
    assert_same_exactly(fast, slow)
    assert list(fast.sessions["sessionId"]) == [1, 2, 3, 4]


def test_golden_export_fast_equals_python_and_csv(tmp_path: Path, lh: ModuleType) -> None:
    json_dir = lh.copy_golden(tmp_path, "json")
    fast = load(json_dir, progress=False)
    assert fast.report.parts_parsed_fast == 1 and not fast.report.parquet_used
    slow = load(json_dir, progress=False, use_parquet=False, parser="python")
    assert_same_exactly(fast, slow)
    lh.assert_tables_equal(fast, load(lh.copy_golden(tmp_path, "csv"), progress=False))
    again = load(json_dir, progress=False)  # the cache the fast path wrote answers
    assert again.report.parquet_used
    assert_same_exactly(fast, again)


@pytest.mark.slow
@pytest.mark.parametrize("uses_states", [True, False])
def test_generator_export_fast_equals_python(tmp_path: Path, uses_states: bool) -> None:
    from leanplum_notebook.simulator.generator import DataConfig, Generator
    from leanplum_notebook.simulator.writers import write_json

    end = datetime(2026, 6, 15, 20, tzinfo=timezone.utc).timestamp()
    gen = Generator(
        DataConfig(seed=11, initial_users=500, new_users_per_day=25, uses_states=uses_states),
        4727756026281984,
        end,
    )
    lines = [r.line for day in gen.days[-4:] for r in gen.sessions_for_day(day)]
    (tmp_path / "json").mkdir()
    write_json(lines, tmp_path / "json", "export-1-x", 400_000)
    fast, slow = both(tmp_path / "json", batch_sessions=300)
    assert fast.report.parts_parsed_fast == 1
    assert_same_exactly(fast, slow)
    assert len(fast.sessions) == len(lines)


@pytest.mark.parametrize("batch_sessions", [1, 2, 10_000])
def test_parts_fall_back_one_by_one(
    tmp_path: Path, batch_sessions: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Several parts in one load: one DuckDB query reads them all. A part the fast path
    refuses (a float id) or DuckDB cannot read (bad JSON: the query fails, the part it was
    in restarts, and the rest are read a query per part) goes to the Python path alone; the
    parts before and after it stay fast, and nothing is lost or doubled. Small batches make
    the failure come in the middle of the parts."""
    folder = tmp_path / "x"
    write(folder, session("1"), session("2"), name="export-1-job1-output-0")
    write(folder, session("3"), name="export-1-job1-output-1")
    write(folder, session("4"), session(5.5), name="export-1-job2-output-0")  # float id
    write(folder, session("6"), name="export-1-job3-output-0")
    write(folder, session("7"), "{not json", name="export-1-job4-output-0")
    write(folder, session("8"), name="export-1-job4-output-1")
    write(folder, session("9"), session("10"), name="export-1-job5-output-0")
    caplog.set_level(logging.DEBUG, logger="leanplum_notebook.load.json_fast")
    fast, slow = both(folder, on_bad_line="skip", batch_sessions=batch_sessions)
    assert "one query for every file failed" in caplog.text  # the restart was exercised
    assert fast.report.parts_parsed == 5
    assert fast.report.parts_parsed_fast == 3  # job1, job3, job5
    assert fast.report.bad_lines_skipped == slow.report.bad_lines_skipped == 2
    assert_same_exactly(fast, slow)
    assert sorted(fast.sessions["sessionId"]) == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    with pytest.raises(LoadError, match=r"job2-output-0.*line 2"):
        load(folder, progress=False, use_parquet=False)


def test_parts_in_the_parquet_cache_after_a_fallback(tmp_path: Path) -> None:
    """Each part's cache is committed on its own: the fast ones, and the one re-read."""
    folder = tmp_path / "x"
    write(folder, session("1"), name="export-1-job1-output-0")
    # a count written 5.0: the Python parser reads it as 5, the fast path hands the part over
    write(folder, '{"sessionId":"2","userBucket":5.0}', name="export-1-job2-output-0")
    write(folder, session("3"), name="export-1-job3-output-0")
    first = load(folder, progress=False)
    assert first.report.parts_parsed_fast == 2 and first.report.parts_parsed == 3
    assert first.sessions["userBucket"].tolist().count(5) == 1
    assert len(list(folder.rglob("meta.json"))) == 3
    again = load(folder, progress=False)
    assert again.report.parquet_used and again.report.parts_parsed == 0
    assert_same_exactly(again, first)
