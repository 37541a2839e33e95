"""Hand-made JSON lines (spec 5.1): every quirk, bad lines, exact ids, nothing dropped silently."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pandas as pd
import pytest

from leanplum_notebook.load import LoadError, load

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

QUIRKY = (
    # string sessionId, Java-style float times, a state with events, params of every type
    '{"sessionId":"4503599627370496","userId":"u1","deviceId":"d1","userBucket":412,'
    '"time":1.591474962721E9,"firstRun":1.550040022647E9,"duration":42.5,"isSession":true,'
    '"country":"US","region":"CA","city":"San Francisco","lat":"37.77","lon":"-122.41",'
    '"locale":"en_US","timezone":"America/Los_Angeles","timezoneOffsetSeconds":-25200,'
    '"appVersion":"1.2.0","client":"ios","sdkVersion":"2.7.2","systemName":"iOS",'
    '"systemVersion":"13.4.1","deviceModel":"iPhone X","priorSessions":3,"priorEvents":10,'
    '"priorTimeSpentInApp":380.4,"userAttributes":{"plan":"free","vip":true,"age":31,'
    '"score":2.5},"experiments":[{"id":800315004,"variantId":796675005,"impressed":true}],'
    '"states":[{"stateId":-9223372036854775808,"name":"Home","time":"1591474963.5",'
    '"duration":1.0,"info":"caf\\u00e9, \\"quoted\\"\\nnew line","events":['
    '{"eventId":9223372036854775807,"name":"Purchase","time":1591474970.001,"value":4.99,'
    '"parameters":{"sku":"gold","level":5,"ok":false,"price":4.5}},'
    '{"eventId":9223372036854775807,"name":"Purchase","time":1591474970.002}]}]}'
)
# offline record: isSession false, no optional fields, integer sessionId, string times
OFFLINE = (
    '{"sessionId":-17,"userId":"u2","time":"1.5914749E9","isSession":false,'
    '"states":[{"stateId":5,"events":[{"eventId":-1,"name":".m42","time":"1591474900"}]}]}'
)
# omitted everything optional, developer flag
MINIMAL = '{"sessionId":"18","isDeveloper":true}'


def write(folder: Path, *lines: str, name: str = "export-1-abc-output-0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_every_quirk_is_read_exactly(tmp_path: Path) -> None:
    write(tmp_path / "x", QUIRKY, OFFLINE, MINIMAL)
    tables = load(tmp_path / "x", progress=False, use_parquet=False)
    s = tables.sessions.set_index("sessionId")
    assert list(s.index) == [4503599627370496, -17, 18]
    assert s.loc[4503599627370496, "start"] == pd.Timestamp(1591474962721, unit="ms", tz="UTC")
    assert s.loc[-17, "start"] == pd.Timestamp(1591474900000, unit="ms", tz="UTC")
    assert s.loc[4503599627370496, "lat"] == 37.77
    assert s.loc[4503599627370496, "osName"] == "iOS"
    assert s.loc[4503599627370496, "timezoneOffset"] == -25200
    assert list(s["isSession"]) == [True, False, False]  # omitted false fields are False
    assert list(s["isDeveloper"]) == [False, False, True]
    assert pd.isna(s.loc[18, "start"]) and pd.isna(s.loc[18, "userBucket"])
    assert pd.isna(s.loc[18, "country"])

    states = tables.states
    assert list(states["stateId"]) == [INT64_MIN]  # the nameless state has no states row
    assert states["info"][0] == 'café, "quoted"\nnew line'
    assert states["start"][0] == pd.Timestamp(1591474963500, unit="ms", tz="UTC")

    events = tables.events
    assert list(events["eventId"]) == [INT64_MAX, INT64_MAX, -1]  # repeated eventId kept
    assert list(events["stateId"]) == [INT64_MIN, INT64_MIN, 5]
    assert list(events["sessionId"]) == [4503599627370496, 4503599627370496, -17]
    assert events["value"].isna().tolist() == [False, True, True]

    params = dict(
        zip(tables.event_parameters["name"], tables.event_parameters["value"], strict=True)
    )
    assert params == {"sku": "gold", "level": "5", "ok": "false", "price": "4.5"}
    attrs = dict(zip(tables.user_attributes["name"], tables.user_attributes["value"], strict=True))
    assert attrs == {"plan": "free", "vip": "true", "age": "31", "score": "2.5"}
    assert tables.experiments.iloc[0].tolist() == [800315004, 4503599627370496, 796675005]


def test_gzip_files_are_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "gz"
    folder.mkdir()
    (folder / "export-1-abc-output-0.gz").write_bytes(
        gzip.compress(f"{QUIRKY}\n{OFFLINE}\n".encode())
    )
    tables = load(folder, progress=False)
    assert len(tables.sessions) == 2 and len(tables.events) == 3


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('{"userId":"no session id"}', "sessionId"),
        ('{"sessionId":"12x"}', "not a 64-bit integer"),
        ('{"sessionId":"9223372036854775808"}', "64-bit"),
        ('{"sessionId":"1","states":[{"stateId":1.5e18,"name":"float id"}]}', "not a 64-bit"),
        ('{"sessionId":"1","states":[{"name":"no id"}]}', "required id is missing"),
        ('{"sessionId":"1","time":"soon"}', "'soon' is not a number"),
        (
            '{"sessionId":"1","states":[{"stateId":1,"events":[{"eventId":18446744073709551615}]}]}',
            "bad value",
        ),
        ('{"sessionId":"1","priorEvents":99999999999999999999}', "outside the signed 64-bit"),
        ("[1, 2]", "not a Leanplum session object"),
    ],
)
def test_a_bad_line_names_file_and_line(tmp_path: Path, bad: str, reason: str) -> None:
    path = write(tmp_path / "x", QUIRKY, OFFLINE, bad, MINIMAL)
    with pytest.raises(LoadError, match=reason) as caught:
        load(tmp_path / "x", progress=False)
    assert caught.value.path == path and caught.value.line == 3
    assert f"{path}, line 3" in str(caught.value)
    # no Parquet cache that looks complete is left behind
    cache = tmp_path / "x" / "parquet"
    assert not list(cache.rglob("meta.json")) and not list(cache.rglob("*.parquet"))

    skipped = load(tmp_path / "x", progress=False, on_bad_line="skip")
    assert skipped.report.bad_lines_skipped == 1
    assert "line 3" in skipped.report.bad_lines[0]
    assert sorted(skipped.sessions["sessionId"]) == [-17, 18, 4503599627370496]
    assert len(skipped.events) == 3  # the good lines are all there, the bad one wholly gone
    # the cache made while skipping is not used to answer a strict load
    with pytest.raises(LoadError):
        load(tmp_path / "x", progress=False)


def test_bad_value_found_late_in_a_big_batch_is_located(tmp_path: Path) -> None:
    lines = [f'{{"sessionId":"{i}","time":{1.6e9 + i}}}' for i in range(1, 60)]
    lines[41] = '{"sessionId":"42","time":1e300}'  # finite, but no int64 of milliseconds
    write(tmp_path / "x", *lines)
    with pytest.raises(LoadError) as caught:
        load(tmp_path / "x", progress=False, batch_sessions=25)
    assert caught.value.line == 42
    skipped = load(tmp_path / "x", progress=False, batch_sessions=25, on_bad_line="skip")
    assert len(skipped.sessions) == 58 and skipped.report.bad_lines_skipped == 1
    assert 42 not in set(skipped.sessions["sessionId"])


def test_session_twice_in_one_export_is_kept_once_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "x", QUIRKY, MINIMAL, name="export-1-abc-output-0")
    write(tmp_path / "x", QUIRKY, name="export-1-abc-output-1")
    tables = load(tmp_path / "x", progress=False)
    assert len(tables.sessions) == 2 and len(tables.events) == 2
    assert tables.report.duplicates_removed["sessions"] == 1
    assert tables.report.sessions_read == 3


def test_blank_lines_and_empty_file(tmp_path: Path) -> None:
    write(tmp_path / "x", "", QUIRKY, "  ", name="export-1-abc-output-0")
    write(tmp_path / "x", name="export-1-abc-output-1")
    tables = load(tmp_path / "x", progress=False)
    assert len(tables.sessions) == 1
    assert tables.report.bad_lines_skipped == 0


def test_progress_bar_and_logging_never_print_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "x", QUIRKY)
    with caplog.at_level(logging.INFO, logger="leanplum_notebook"):
        load(tmp_path / "x", progress=True)
    out = capsys.readouterr()
    assert out.out == ""
    assert "Parsing export" in out.err
    assert any("parsing 1 json file" in r.getMessage() for r in caplog.records)
