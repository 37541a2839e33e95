"""Damaged files and hostile values inside them never raise from deep inside the loader.

A truncated or corrupt ``.gz`` is a file to download again (``LoadError`` naming it, in both
bad-line modes: nothing after the damage can be read); a line with a number past every
limit or nesting deeper than the parser's stack is a bad line (named, or skipped and
counted).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import leanplum_notebook as lpn
from leanplum_notebook import errors

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


def gzipped_copy(fmt: str, dest: Path) -> list[Path]:
    dest.mkdir()
    out = []
    for f in sorted((GOLDEN / fmt).iterdir()):
        target = dest / (f.name + ".gz")
        target.write_bytes(gzip.compress(f.read_bytes()))
        out.append(target)
    return out


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("damage", ["cut at 10 %", "cut at 60 %", "cut 8 bytes", "corrupt"])
@pytest.mark.parametrize("mode", ["error", "skip"])
def test_a_damaged_gz_is_a_load_error_naming_the_file(
    tmp_path: Path, fmt: str, damage: str, mode: str
) -> None:
    files = gzipped_copy(fmt, tmp_path / "x")
    victim = max(files, key=lambda p: p.stat().st_size)
    data = victim.read_bytes()
    if damage == "corrupt":
        middle = len(data) // 2
        data = (
            data[:middle]
            + bytes(b ^ 0x5A for b in data[middle : middle + 64])
            + data[middle + 64 :]
        )
    else:
        keep = {"cut at 10 %": len(data) // 10, "cut at 60 %": len(data) * 6 // 10}
        data = data[: keep.get(damage, len(data) - 8)]
    victim.write_bytes(data)
    with pytest.raises(errors.LoadError) as caught:
        lpn.load(tmp_path / "x", on_bad_line=mode, progress=False, use_parquet=False)
    assert caught.value.path.name == victim.name
    assert "download it again" in str(caught.value)


def test_a_whole_gz_export_loads_as_the_plain_one(tmp_path: Path) -> None:
    gzipped_copy("json", tmp_path / "x")
    got = lpn.load(tmp_path / "x", progress=False, use_parquet=False)
    want = lpn.load(GOLDEN / "json", progress=False, use_parquet=False)
    assert got.sessions.equals(want.sessions)


HOSTILE_LINES = {
    "a sessionId of 1e400": '{"sessionId": 1e400, "userId": "u", "time": 1.7e9}',
    "a time of 1e400": '{"sessionId": 5, "userId": "u", "time": 1e400}',
    "a time of -1e400": '{"sessionId": 6, "userId": "u", "time": -1e400}',
    "an id past 2**64": '{"sessionId": ' + str(2**64) + ', "userId": "u", "time": 1.7e9}',
    "a 4,400-digit id": '{"sessionId": ' + "9" * 4400 + ', "userId": "u", "time": 1.7e9}',
    "60,000 levels of nesting": '{"sessionId": 7, "x": ' + "[" * 60_000 + "]" * 60_000 + "}",
    "a deeply nested state": '{"sessionId": 8, "states": ['
    + '{"a":' * 5000
    + "1"
    + "}" * 5000
    + "]}",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_LINES))
def test_hostile_values_in_a_line_are_a_named_bad_line_or_a_counted_skip(
    tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    good = (GOLDEN / "json").iterdir().__next__().read_text(encoding="utf-8").splitlines()
    lines = [*good[:3], HOSTILE_LINES[kind], *good[3:]]
    name = "export-1-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-output-0"
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        lpn.load(folder, progress=False, use_parquet=False)
    except errors.LoadError as exc:
        assert exc.path.name == name and exc.line == 4, exc
    skipped = lpn.load(folder, on_bad_line="skip", progress=False, use_parquet=False)
    assert len(skipped.report.bad_lines) in (0, 1)  # the line is skipped and counted, or valid
    sessions = {json.loads(line)["sessionId"] for line in good}
    kept = set(skipped.sessions["sessionId"].astype(str))
    assert {str(s) for s in sessions} <= kept
