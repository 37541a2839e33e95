"""Every removed row is counted: for every table, rows kept + rows removed == rows read.

An export with sessions repeated in the same file, in another file of the same part, and
with copies that differ from the first (more events, other attributes): the later copies
leave with their states, events, parameters, attributes and experiments, and the report
counts each table's rows. The reference counts come from a plain ``json.loads`` pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import leanplum_notebook as lpn

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "json"
STEM = "export-4727756026281984-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-output"


def rows_of(line: str) -> dict[str, int]:
    """What one line gives each table (independent of the loader's own counting)."""
    s = json.loads(line)
    states = s.get("states") or []
    events = [e for st in states for e in st.get("events") or []]
    return {
        "sessions": 1,
        "states": sum(1 for st in states if st.get("name") is not None),
        "events": len(events),
        "event_parameters": sum(len(e.get("parameters") or {}) for e in events),
        "user_attributes": len(s.get("userAttributes") or {}),
        "experiments": len(s.get("experiments") or []),
    }


def export_with_repeats(folder: Path) -> dict[str, int]:
    """Write the golden sessions plus repeated ones; return the rows read per table."""
    lines = [line for p in sorted(GOLDEN.iterdir()) for line in p.read_text("utf-8").splitlines()]
    rich = [line for line in lines if json.loads(line).get("states")][:6]
    changed = []
    for line in rich[3:]:  # copies that differ from the first: one more event, attributes
        s = json.loads(line)
        s["states"][0].setdefault("events", []).append({"eventId": 5, "name": "x"})
        s["userAttributes"] = {"copy": "yes", "n": 2}
        changed.append(json.dumps(s))
    first = lines[:30] + rich[:2]  # two repeats inside the first file
    second = lines[30:] + rich[2:3] + changed  # and in the second file of the part
    folder.mkdir()
    (folder / f"{STEM}-0").write_text("\n".join(first) + "\n", encoding="utf-8")
    (folder / f"{STEM}-1").write_text("\n".join(second) + "\n", encoding="utf-8")
    read: dict[str, int] = {}
    for line in first + second:
        for table, n in rows_of(line).items():
            read[table] = read.get(table, 0) + n
    return read


@pytest.mark.parametrize("parser", ["auto", "python"])
def test_kept_plus_removed_equals_read_for_every_table(tmp_path: Path, parser: str) -> None:
    read = export_with_repeats(tmp_path / "x")
    for attempt in ("parse", "reload"):
        tables = lpn.load(tmp_path / "x", parser=parser, progress=False)  # type: ignore[arg-type]
        removed = tables.report.duplicates_removed
        assert removed["sessions"] == 6, attempt
        for name in read:
            kept = len(tables[name])
            assert kept + removed[name] == read[name], (attempt, name, kept, removed[name])
        assert removed["events"] > 6 and removed["user_attributes"] > 0
        assert tables.report.parquet_used == (attempt == "reload")
    if parser == "auto":  # the repeats no longer send the part to the Python parser
        assert (
            lpn.load(tmp_path / "x", use_parquet=False, progress=False).report.parts_parsed_fast
            == 1
        )


def test_both_parsers_keep_the_same_rows(tmp_path: Path) -> None:
    export_with_repeats(tmp_path / "x")
    fast = lpn.load(tmp_path / "x", use_parquet=False, progress=False)
    slow = lpn.load(tmp_path / "x", use_parquet=False, progress=False, parser="python")
    assert fast.report.duplicates_removed == slow.report.duplicates_removed
    for name in (
        "sessions",
        "states",
        "events",
        "event_parameters",
        "user_attributes",
        "experiments",
    ):
        assert fast[name].equals(slow[name]), name
