"""Benchmark: loading a 256 MB Leanplum JSON export (issue 4, item 6), all in one run.

Usage::

    .venv/bin/python benchmarks/bench_load.py [--mb 256] [--repeat 3] [--only loader ...]

Makes (once, cached in ``benchmarks/_data/``) a JSON export of about ``--mb`` MB with the
simulator's generator and the CSV export of the very same sessions, then runs each of these
in a fresh subprocess and reports two wall times, MB/s (JSON size / operation time), CPU
seconds of the operation (all threads) and the child's peak RSS (``/proc/self/status``
VmHWM, also as a multiple of the file size); with ``--repeat N`` the median of N runs (the
typical way runs once):

- ``operation``: the work alone, timed inside the fresh process (what a notebook user waits
  for: pandas is already imported in a kernel);
- ``process``: from the spawn to the result in memory: interpreter start and imports
  (``import pandas`` alone is ~0.3 s here) plus the operation; the checksum and the exit
  are left out.

The contenders:

- ``floor``: ``orjson.loads`` of every line, keeping nothing (the parsing floor);
- ``typical``: the typical user's way: ``json.loads`` per line with ``setdefault`` for
  ``states``/``events``, ``pandas.json_normalize`` for events, a DataFrame for sessions;
- ``first``: this loader, first load (parse, Parquet cache written, six pandas tables);
- ``reload``: this loader again on the same files (reads the Parquet cache only);
- ``split``: this loader, first load of the same sessions in files of 16 MB from 4 export
  jobs (parts);
- ``csv``: this loader, first load of the CSV export of the same sessions;
- ``parser=python``: this loader's first load with its pure-Python JSON parser (the fallback
  of the default DuckDB parser), for comparison.

It prints the ratios against the issue's targets, on both wall times, and checks that the
events' ``eventId`` exact integer sum and row count agree between the loader (JSON and CSV)
and the baseline.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
APP = 4727756026281984
END = datetime(2026, 11, 28, 17, 0, tzinfo=timezone.utc).timestamp()
MB = 1024 * 1024
STEM = f"export-{APP}-bench"

# --------------------------------------------------------------------------------------
# Data


def _lines(target_bytes: int) -> Iterator[dict[str, Any]]:
    from leanplum_notebook.simulator.generator import DataConfig, Generator
    from leanplum_notebook.simulator.writers import dumps_line

    # A larger app than the default so 256 MB is a few weeks of data, newest days first.
    config = DataConfig(history_days=120, initial_users=6000, new_users_per_day=240.0)
    gen = Generator(config, APP, END, cache_days=1)
    total = 0
    index = 0
    for day in reversed(gen.days):
        for record in gen.sessions_for_day(day):
            line = _harden(index, record.line)
            index += 1
            size = len(dumps_line(line)) + 1
            if total + size > target_bytes:
                return
            total += size
            yield line


def _with_repeats(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same lines, with REPEATS sessions of the first half appearing again later (a
    changed copy: one more event), as real exports hold sessionIds that repeat."""
    import copy

    out = list(lines)
    step = max(1, len(lines) // 2 // REPEATS)
    for n, source in enumerate(lines[: step * REPEATS : step]):
        twin = copy.deepcopy(source)
        for state in (twin.get("states") or [])[:1]:
            state.setdefault("events", []).append({"eventId": n, "name": "Again"})
        out.insert(len(lines) // 2 + n * step, twin)
    return out


# The hard traits of real exports (issue 14), applied to the generator's sessions: the
# tidy generated data has none of them at the scale real files do.
#: One session in this many becomes a 1-4 MB line (1,500 events, a long state ``info``)
LONG_EVERY = 8_000
#: Sessions whose sessionId repeats later in the "repeats" variant of the file
REPEATS = 245
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_ODD = 0x9E3779B97F4A7C15  # a bijection of the 64-bit integers: x * odd mod 2**64
_ACCENTS = ("é", "·ü", "—ñ", "✓", "日本", "ß")


def _spread(value: Any) -> Any:
    """An id moved over the whole signed 64-bit range, keeping its type and uniqueness."""
    number = (int(value) * _ODD) % 2**64
    number -= 2**64 if number >= 2**63 else 0
    return str(number) if isinstance(value, str) else number


def _harden(index: int, line: dict[str, Any]) -> dict[str, Any]:
    """Give one generated session the traits of real exports, deterministically."""
    import random

    rng = random.Random(index)
    accent = _ACCENTS[index % len(_ACCENTS)]
    line["sessionId"] = _spread(line["sessionId"])
    if index == 11:
        line["sessionId"] = str(INT64_MIN)
    elif index == 12:
        line["sessionId"] = INT64_MAX
    if rng.random() < 0.85:  # non-ASCII text in most string fields
        for key in ("city", "region"):
            if isinstance(line.get(key), str):
                line[key] += accent
        attrs = line.get("userAttributes") or {}
        for name in list(attrs)[:3]:
            attrs[name] = f"{attrs[name]}{accent}"
    if rng.random() < 0.02:
        line["time"] = repr(float(line["time"]))  # a time written as a string
    for state in line.get("states") or ():
        state["stateId"] = _spread(state["stateId"])
        if isinstance(state.get("name"), str) and rng.random() < 0.5:
            state["name"] += accent
        for event in state.get("events") or ():
            event["eventId"] = _spread(event["eventId"])
            if rng.random() < 0.005 and "time" in event:
                event["time"] = repr(float(event["time"]))
    if index % LONG_EVERY == LONG_EVERY // 2 and line.get("states"):
        state = line["states"][0]
        template = dict((state.get("events") or [{"name": "Tap", "time": line["time"]}])[0])
        state["events"] = [
            {**template, "eventId": _spread(10**15 + index * 10_000 + n), "name": f"Scroll{accent}"}
            for n in range(1_500)
        ]
        state["info"] = (f'log {accent} "quoted", commas, new\nlines ' * 40_000)[
            : rng.randrange(1_000_000, 3_800_000)
        ]
    return line


#: The same sessions as the one-file JSON export, in files of 1/SPLIT_FILES of its size,
#: from SPLIT_PARTS export jobs.
SPLIT_FILES = 16
SPLIT_PARTS = 4


def make_data(mb: int) -> tuple[Path, Path, Path, Path]:
    """Return (json, csv, split json, json with repeats) folders, generating them when
    missing.

    The split folder holds the same sessions in files of ``mb / SPLIT_FILES`` MB from
    ``SPLIT_PARTS`` export jobs (parts), for the peak memory "whatever the number of files";
    the repeats folder the same file with REPEATS sessionIds appearing twice.
    """
    from leanplum_notebook.simulator.writers import write_csv, write_json

    folder = DATA / f"export-{mb}mb"
    json_dir, csv_dir, split_dir = folder / "json", folder / "csv", folder / "json-split"
    repeats_dir = folder / "json-repeats"
    done = folder / "done-v3"
    if done.exists():
        return json_dir, csv_dir, split_dir, repeats_dir
    shutil.rmtree(folder, ignore_errors=True)
    for directory in (json_dir, csv_dir, split_dir, repeats_dir):
        directory.mkdir(parents=True)
    t0 = time.perf_counter()
    lines = list(_lines(mb * MB))
    write_json(lines, json_dir, STEM, mb * MB + MB)
    write_json(_with_repeats(lines), repeats_dir, STEM, 2 * mb * MB)
    write_csv(lines, csv_dir, STEM, 64 * mb * MB)
    per_part = -(-len(lines) // SPLIT_PARTS)
    for part in range(SPLIT_PARTS):
        chunk = lines[part * per_part : (part + 1) * per_part]
        stem = f"export-{APP}-bench{part}"
        write_json(chunk, split_dir, stem, mb * MB // SPLIT_FILES + 1)
    done.write_text(f"{len(lines)} sessions\n")
    print(f"generated {len(lines):,} sessions in {time.perf_counter() - t0:.1f} s -> {folder}")
    return json_dir, csv_dir, split_dir, repeats_dir


#: (label, runner, export format) in the order they run.
CONTENDERS = [
    ("floor", "floor", "json"),
    ("loader first load (JSON)", "loader", "json"),
    ("loader Parquet reload", "loader", "json"),
    ("loader first load (JSON, split)", "loader", "split"),
    ("loader first load (CSV)", "loader", "csv"),
    ("loader first load (JSON, repeats)", "loader", "repeats"),
    ("Dask worker writes the Parquet cache", "dask-worker", "json"),
    ("loader first load (JSON, parser=python)", "loader-python", "json"),
    ("typical json.loads + json_normalize", "typical", "json"),
]

# --------------------------------------------------------------------------------------
# The contenders (each runs in a fresh interpreter: `bench_load.py --run <name> <folder>`)


def run_floor(folder: Path) -> dict[str, Any]:
    import orjson

    t0 = _start()
    lines = 0
    for path in sorted(folder.iterdir()):
        if path.is_file() and "-output-" in path.name:
            with open(path, "rb") as f:
                for line in f:
                    orjson.loads(line)
                    lines += 1
    return {"lines": lines, **_done(t0)}


def run_typical(folder: Path) -> dict[str, Any]:
    import pandas as pd

    t0 = _start()
    sessions = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and "-output-" in path.name:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    session = json.loads(line)
                    for state in session.setdefault("states", []):
                        state.setdefault("events", [])
                        state["sessionId"] = session["sessionId"]
                    sessions.append(session)
    states = [state for session in sessions for state in session["states"]]
    events = pd.json_normalize(states, record_path="events", meta=["sessionId", "stateId"])
    frame = pd.DataFrame(sessions)
    done = _done(t0)
    return {
        **done,
        "events": len(events),
        "event_id_sum": str(sum(int(x) for x in events["eventId"])),
        "sessions": len(frame),
    }


def run_loader(folder: Path, parser: str = "auto") -> dict[str, Any]:
    from leanplum_notebook.load import load

    t0 = _start()
    tables = load(folder, progress=False, parser=parser)  # type: ignore[arg-type]
    done = _done(t0)
    events = tables.events
    return {
        **done,
        "events": len(events),
        "event_id_sum": str(sum(events["eventId"].tolist())),
        "sessions": len(tables.sessions),
        "parquet_used": tables.report.parquet_used,
        "rows": {name: len(tables[name]) for name in tables},
        "removed": tables.report.duplicates_removed,
        "fast_parts": tables.report.parts_parsed_fast,
    }


def run_loader_python(folder: Path) -> dict[str, Any]:
    return run_loader(folder, parser="python")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _start() -> tuple[float, float]:
    return time.monotonic(), _cpu()


def _done(start: tuple[float, float]) -> dict[str, float]:
    """The operation's wall and CPU time, and when it ended (``time.monotonic`` is
    system-wide on Linux, so the parent can time the whole process up to this point)."""
    now = time.monotonic()
    return {"op": now - start[0], "cpu": _cpu() - start[1], "done_at": now}


#: A Dask worker's memory in the "dask-worker" run (issue 14: a 256 MB file within 512 MiB)
WORKER_MEMORY = "512MiB"


def run_dask_worker(folder: Path) -> dict[str, Any]:
    """One Dask worker process limited to WORKER_MEMORY parses the export into its Parquet
    cache (what ``load_dask`` asks of its workers); its peak RSS and whether it survived."""
    from distributed import Client, LocalCluster

    t0 = _start()
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, memory_limit=WORKER_MEMORY, processes=True
        ) as cluster,
        Client(cluster) as client,
    ):
        before = set(client.scheduler_info()["workers"])
        client.run(_reset_peak)
        client.submit(_worker_parse, str(folder), pure=False).result()
        peaks = client.run(_peak_rss_mb)
        after = set(client.scheduler_info()["workers"])
    return {**_done(t0), "worker_peak_mb": max(peaks.values()), "restarted": before != after}


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS


def _worker_parse(folder: str) -> None:
    from leanplum_notebook.load.loader import build_cache

    build_cache(folder)  # what the Dask engine asks of a worker


RUNNERS = {
    "dask-worker": run_dask_worker,
    "floor": run_floor,
    "typical": run_typical,
    "loader": run_loader,
    "loader-python": run_loader_python,
}


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(name: str, folder: str) -> None:
    result = RUNNERS[name](Path(folder))
    result["peak_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def measure(name: str, folder: Path) -> dict[str, Any]:
    """Run one contender in a fresh process.

    ``process``: from the spawn to the result in memory (interpreter start, imports and the
    operation; the checksum and the exit left out). ``op``: the operation alone, timed in
    the child. CPU time (user + system, all threads) and peak RSS come from the child.
    """
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, __file__, "--run", name, str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = result["done_at"] - t0
    return result


# --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="size of the JSON export in MB")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender (median)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[name for _, name, _ in CONTENDERS],
        help="time only these contenders (no ratios)",
    )
    parser.add_argument("--run", nargs=2, metavar=("NAME", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child_main(*args.run)
        return

    json_dir, csv_dir, split_dir, repeats_dir = make_data(args.mb)
    size_mb = sum(p.stat().st_size for p in json_dir.iterdir() if p.is_file()) / MB
    csv_mb = sum(p.stat().st_size for p in csv_dir.iterdir() if p.is_file()) / MB
    print(f"JSON export: {size_mb:.1f} MB; CSV export of the same sessions: {csv_mb:.1f} MB")
    files = [p for p in split_dir.iterdir() if p.is_file()]
    print(f"split JSON export: the same sessions in {len(files)} files of {SPLIT_PARTS} parts")
    folders = {"json": json_dir, "csv": csv_dir, "split": split_dir, "repeats": repeats_dir}
    order = [(label, name, folders[kind]) for label, name, kind in CONTENDERS]
    if args.only:
        order = [item for item in order if item[1] in args.only]
    results: dict[str, dict[str, Any]] = {}
    print(f"{'':40s} {'process':>9s} {'operation':>10s} {'MB/s':>6s} {'cpu':>8s} {'peak RSS':>19s}")
    for label, name, folder in order:
        first_load = (name.startswith("loader") or name == "dask-worker") and "reload" not in label
        repeat = 1 if name == "typical" else args.repeat
        runs = []
        for _ in range(repeat):
            if first_load:
                shutil.rmtree(folder / "parquet", ignore_errors=True)  # parse every time
            runs.append(measure(name, folder))
        runs.sort(key=lambda run: run["op"])
        results[label] = r = runs[len(runs) // 2]  # the median run
        print(
            f"{label:40s} {r['process']:7.2f} s {r['op']:8.2f} s {size_mb / r['op']:6.1f} "
            f"{r['cpu']:6.2f} s {r['peak_mb']:7.0f} MB ({r['peak_mb'] / size_mb:4.2f}x file)",
            flush=True,
        )
    if args.only:
        return

    floor = results["floor"]
    first = results["loader first load (JSON)"]
    reload_ = results["loader Parquet reload"]
    csv_ = results["loader first load (CSV)"]
    typical = results["typical json.loads + json_normalize"]
    repeats = results["loader first load (JSON, repeats)"]
    checks = [
        ("typical / loader (>= 15x)", typical, first, 15.0, True),
        ("loader / parse floor (<= 1.25x)", first, floor, 1.25, False),
        ("first load / reload (>= 10x)", first, reload_, 10.0, True),
        ("repeats / no repeats (<= 1.2x)", repeats, first, 1.2, False),
        ("CSV / JSON time (<= 1x)", csv_, first, 1.0, False),
    ]
    print(f"\n{'ratio (target)':34s} {'operation':>9s} {'process':>8s}")
    for label, a, b, target, higher in checks:
        values = [a["op"] / b["op"], a["process"] / b["process"]]
        verdict = ["OK" if (v >= target if higher else v <= target) else "MISSED" for v in values]
        print(f"{label:34s} {values[0]:9.2f} {values[1]:8.2f}  {verdict[0]}, {verdict[1]}")
    worker = results["Dask worker writes the Parquet cache"]
    limit = int(WORKER_MEMORY.removesuffix("MiB"))
    fits = worker["worker_peak_mb"] <= limit and not worker["restarted"]
    print(
        f"{'Dask worker peak (<= ' + WORKER_MEMORY + ')':34s} {worker['worker_peak_mb']:7.0f} MB "
        f"restarted: {worker['restarted']}  {'OK' if fits else 'MISSED'}"
    )
    python_first = results["loader first load (JSON, parser=python)"]
    print(
        f"{'parser=python / auto (info)':34s} {python_first['op'] / first['op']:9.2f} "
        f"{python_first['process'] / first['process']:8.2f}"
    )
    split = results["loader first load (JSON, split)"]
    for label, run in (("", first), (", split", split)):
        peak = run["peak_mb"] / size_mb
        name = f"loader peak / file size{label} (<= 1.5x)"
        print(f"{name:34s} {peak:9.2f}           {'OK' if peak <= 1.5 else 'MISSED'}")
    print()
    same = (
        first["event_id_sum"] == typical["event_id_sum"] == csv_["event_id_sum"]
        and first["events"] == typical["events"] == csv_["events"]
        and reload_["event_id_sum"] == first["event_id_sum"] == split["event_id_sum"]
    )
    print(
        f"events: loader {first['events']:,} rows, sum(eventId) {first['event_id_sum']}; "
        f"baseline {typical['events']:,} rows, sum {typical['event_id_sum']}; "
        f"CSV {csv_['events']:,} rows, sum {csv_['event_id_sum']} -> "
        f"{'AGREE' if same else 'DISAGREE'}"
    )
    print(f"loader rows per table: {first['rows']}; reload used Parquet: {reload_['parquet_used']}")
    print(
        f"repeats: removed {repeats['removed']} (fast-path parts: {repeats['fast_parts']}); "
        f"kept {repeats['rows']['sessions']:,} sessions against {first['rows']['sessions']:,}"
    )
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
