"""Counting sessions without parsing: the proof a download holds what the job announced."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from leanplum_notebook import errors
from leanplum_notebook.load.count import count_sessions

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
EXPECTED = json.loads((GOLDEN / "manifest.json").read_text())["main"]["num_sessions"]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_the_golden_export_holds_the_sessions_it_announces(fmt: str) -> None:
    files = [(p.name, p) for p in sorted((GOLDEN / fmt).iterdir())]
    assert count_sessions(files, fmt) == EXPECTED == 61


def test_names_decide_the_kind_and_blank_lines_do_not_count(tmp_path: Path) -> None:
    part = tmp_path / "anything.part"
    part.write_bytes(b'{"a": 1}\n\n   \n{"b": 2}\n{"c": 3}')  # no newline at the end
    assert count_sessions([("export-1-x-output-0", part)], "json") == 3
    assert count_sessions([("export-1-x-output-manifest", part)], "json") == 0
    rows = tmp_path / "rows"
    rows.write_text('sessionId,info\n1,"two\nlines, quoted"\n2,x\n', encoding="utf-8")
    named = [("e-outputsessions-0", rows), ("e-outputevents-0", rows)]
    assert count_sessions(named, "csv") == 2  # events files are not sessions


def test_a_damaged_gz_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "export-1-x-output-0.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:40])
    with pytest.raises(errors.LoadError, match="cannot count"):
        count_sessions([(path.name, path)], "json")
