"""Write the golden export files in tests/data/golden/ (JSON and CSV of the same sessions).

Run from the repository root::

    .venv/bin/python tests/data/make_golden.py           # (re)write tests/data/golden/
    .venv/bin/python tests/data/make_golden.py --check   # exit 1 if the files are stale

The export is tiny (about 60 records over three Pacific days, around the March 2026 DST
change) and made by the simulator's own generator and writers with the default seed and a
few rates raised so every quirk of spec section 5 shows up at least once; the script fails
if one is missing. ``manifest.json`` records the settings, the files, the row count of every
table and the quirk inventory, so loader tests can check what they read.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import random
import shutil
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from leanplum_notebook.simulator.generator import (
    INT64_MAX,
    INT64_MIN,
    DataConfig,
    Generator,
    SessionRecord,
)
from leanplum_notebook.simulator.writers import csv_rows, dumps_line, write_csv, write_json

GOLDEN = Path(__file__).resolve().parent / "golden"
APP_NUMBER = 4727756026281984
# Pacific days 2026-03-07..09 (03-08 is the 23-hour DST day); ends 2026-03-09 22:00 PDT.
HISTORY_END = datetime(2026, 3, 10, 5, 0, tzinfo=timezone.utc).timestamp()
CONFIG = DataConfig(
    seed=0,
    initial_users=15,
    new_users_per_day=4.0,
    history_days=3,
    events_per_session=5.0,
    offline_fraction=0.08,
    late_fraction=0.08,
    developer_rate=0.08,
    info_rate=0.06,
)
NOSTATES = DataConfig(
    seed=0, initial_users=30, new_users_per_day=4.0, history_days=1, uses_states=False
)
MAX_FILE_BYTES = 25_000  # small, so the golden export has several shards per kind

README = """\
# Golden export files

Made by `tests/data/make_golden.py` (do not edit by hand; rerun it after changing the
simulator's generator or writers, and `make_golden.py --check` tells whether they are stale).
They come from the bundled simulator's generator (`leanplum_notebook/simulator/generator.py`)
and writers (`writers.py`) with seed 0, app number 4727756026281984, history ending
2026-03-09 22:00 PDT (Pacific days 2026-03-07, 03-08, 03-09; 03-08 is the 23-hour DST day).

- `json/`: JSON export, one session per line, several shards (`export-<app>-<uuid>-output-<n>`).
- `csv/`: the CSV export of the very same sessions, six kinds
  (`...-output<kind>-<n>`, kind in sessions, states, events, eventparameters,
  userattributes, experiments), spec 5.2 columns, one header row per file.
- `nostates/json`, `nostates/csv`: one day of an app that never calls `advance` (one nameless
  state per session; the CSV states file is header-only).
- `manifest.json`: the settings, file names, `num_sessions`, rows per CSV kind
  (`csv_rows`), the count of lines showing each quirk (`quirks`), and `available_at` per
  sessionId (the JSON lines do not carry it).

Sessions are shuffled (the real export is unordered). Every quirk of spec section 5 appears
at least once in the main set: string `sessionId`, ids at exactly -2**63 and 2**63-1, Java-style
(`1.5...E9`), plain and string times, `isSession: false` records, a session over 8 h, a
repeated `eventId` in a session, `timeUntilFirstForUser`, `isDeveloper` only when true,
missing location fields, web browser fields, unicode cities, `info` text with commas, quotes
and newlines (quoted in CSV), parameters as numbers / numeric strings / booleans, attributes
as "True"/"False" strings / numbers / booleans, omitted event `value`, `Purchase` revenue,
message `.m<id>` and `.m<id> Open` events, experiments, omitted `prior*` fields.

CSV text rules (see the writers module docstring): strings as they are, booleans
`true`/`false`, numbers as Python repr, times with the exact text of the JSON line (Java-style,
plain, or the string's content), absent fields empty; nameless (synthetic) states have no row
in the states file, but their events keep the stateId.
"""

QUIRKS = (
    "sessionId_is_string",
    "negative_id",
    "id_int64_min",
    "id_int64_max",
    "java_style_time",
    "plain_time",
    "string_time",
    "offline_record",
    "session_over_8h",
    "repeated_eventId_in_session",
    "timeUntilFirstForUser",
    "isDeveloper_true",
    "missing_location",
    "web_browser",
    "unicode_city",
    "info_with_newline",
    "info_with_comma_and_quote",
    "param_number",
    "param_numeric_string",
    "param_bool",
    "attribute_true_false_string",
    "attribute_number",
    "attribute_bool",
    "event_value_omitted",
    "purchase",
    "message_sent",
    "message_open",
    "experiments",
    "prior_fields_omitted",
    "late_session",
)


def _times_raw(raw: bytes) -> tuple[bool, bool]:
    text = raw.decode()
    java = '"time":' in text and "E9," in text
    plain = any(f'"time":{d}' in text for d in "123456789")
    return java, plain


def quirk_inventory(records: list[SessionRecord]) -> dict[str, int]:
    """Count the lines (or rows) showing each quirk of spec 5; every key of ``QUIRKS``."""
    found = dict.fromkeys(QUIRKS, 0)

    def hit(name: str, cond: object = True) -> None:
        if cond:
            found[name] += 1

    for rec in records:
        line = rec.line
        raw = dumps_line(line)
        java, plain = _times_raw(raw)
        hit("java_style_time", java)
        hit("plain_time", plain)
        hit("string_time", isinstance(line["time"], str))
        hit("sessionId_is_string", isinstance(line["sessionId"], str))
        hit("offline_record", line["isSession"] is False)
        hit("session_over_8h", line["duration"] > 8 * 3600)
        hit("isDeveloper_true", line.get("isDeveloper") is True)
        hit("missing_location", "city" not in line)
        hit("web_browser", "browserName" in line)
        hit("unicode_city", not str(line.get("city", "")).isascii())
        hit("experiments", bool(line.get("experiments")))
        hit("prior_fields_omitted", line["isSession"] and "priorSessions" not in line)
        hit("late_session", rec.available_at - rec.start > 86400)
        ids = [int(line["sessionId"])]
        event_ids = []
        for state in line["states"]:
            ids.append(state["stateId"])
            texts = [state.get("info", "")]
            for ev in state.get("events", ()):
                event_ids.append(ev["eventId"])
                texts.append(ev.get("info", ""))
                hit("timeUntilFirstForUser", "timeUntilFirstForUser" in ev)
                hit("event_value_omitted", "value" not in ev)
                hit("purchase", ev["name"] == "Purchase" and ev["value"] > 0)
                hit("message_sent", ev["name"].startswith(".m") and " " not in ev["name"])
                hit("message_open", ev["name"].startswith(".m") and ev["name"].endswith(" Open"))
                for value in (ev.get("parameters") or {}).values():
                    hit("param_bool", isinstance(value, bool))
                    hit(
                        "param_number",
                        isinstance(value, int | float) and not isinstance(value, bool),
                    )
                    hit("param_numeric_string", isinstance(value, str) and value[:1].isdigit())
            for text in texts:
                hit("info_with_newline", "\n" in text)
                hit("info_with_comma_and_quote", "," in text and '"' in text)
        ids += event_ids
        hit("negative_id", any(i < 0 for i in ids))
        hit("id_int64_min", INT64_MIN in ids)
        hit("id_int64_max", INT64_MAX in ids)
        hit("repeated_eventId_in_session", len(set(event_ids)) < len(event_ids))
        for value in (line.get("userAttributes") or {}).values():
            hit("attribute_true_false_string", value in ("True", "False"))
            hit("attribute_number", isinstance(value, int) and not isinstance(value, bool))
            hit("attribute_bool", isinstance(value, bool))
    return found


def _write_set(config: DataConfig, out: Path, label: str, require_all: bool) -> dict[str, Any]:
    gen = Generator(config, APP_NUMBER, HISTORY_END)
    records = [r for day in gen.days for r in gen.sessions_for_day(day)]
    # Unordered like the real export: a seeded shuffle.
    lines = [r.line for r in records]
    random.Random(f"golden-order:{label}").shuffle(lines)
    stem = f"export-{APP_NUMBER}-{uuid.UUID(int=random.Random(label).getrandbits(128), version=4)}"
    (out / "json").mkdir(parents=True)
    (out / "csv").mkdir(parents=True)
    json_files = write_json(lines, out / "json", stem, MAX_FILE_BYTES)
    csv_files = write_csv(lines, out / "csv", stem, MAX_FILE_BYTES)
    rows: dict[str, int] = {}
    for line in lines:
        for kind, kind_rows in csv_rows(line).items():
            rows[kind] = rows.get(kind, 0) + len(kind_rows)
    inventory = quirk_inventory(records)
    missing = [q for q, n in inventory.items() if not n]
    if require_all and missing:
        raise SystemExit(f"golden set {label!r} lacks quirks: {missing}")
    per_day = {d.isoformat(): len(gen.sessions_for_day(d)) for d in gen.days}
    return {
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "app_number": APP_NUMBER,
        "history_end": HISTORY_END,
        "pacific_days": per_day,
        "num_sessions": len(lines),
        "num_offline_records": sum(1 for r in records if not r.line["isSession"]),
        "max_file_bytes": MAX_FILE_BYTES,
        "json_files": [p.name for p in json_files],
        "csv_files": [p.name for p in csv_files],
        "csv_rows": rows,
        "quirks": inventory,
        "available_at": {r.line["sessionId"]: r.available_at for r in records},
    }


def build(target: Path) -> None:
    """Write every golden set and ``manifest.json`` into ``target`` (created, must not exist)."""
    target.mkdir(parents=True)
    manifest = {
        "made_by": "tests/data/make_golden.py",
        "main": _write_set(CONFIG, target, "main", require_all=True),
        "nostates": _write_set(NOSTATES, target / "nostates", "nostates", require_all=False),
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (target / "README.md").write_text(README)


def _same_tree(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    if files_a != files_b:
        return False
    return all(filecmp.cmp(a / f, b / f, shallow=False) for f in files_a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    parser.add_argument("--out", type=Path, default=GOLDEN, help="target folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "golden"
        build(fresh)
        if args.check:
            same = args.out.is_dir() and _same_tree(fresh, args.out)
            print("golden files are up to date" if same else "golden files are STALE")
            return 0 if same else 1
        if args.out.exists():
            shutil.rmtree(args.out)
        shutil.copytree(fresh, args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
