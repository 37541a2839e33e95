"""Benchmark: synthetic data generator + JSON/CSV writers, against stdlib json in the same run.

Usage::

    .venv/bin/python benchmarks/bench_generator.py [--days 88] [--csv] [--sample-days 4]

1. Headline: generate every day of a default-sized history (streaming, one day in memory at a
   time) straight into ``write_json`` with the real 256 MB file limit, and report MB written,
   seconds, MB/s and sessions/s. The spec's target is a 256 MB export in well under a minute.
2. Breakdown on a few sample days, same process: generation alone, our line serialiser
   (orjson + Java-style floats) and the baseline ``json.dumps`` of the same lines, with the
   ratio between them.
3. With ``--csv``: the CSV writer on the same stream.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from leanplum_notebook.simulator.generator import DataConfig, Generator
from leanplum_notebook.simulator.writers import dumps_line, write_csv, write_json

APP = 4727756026281984
END = datetime(2026, 11, 28, 17, 0, tzinfo=timezone.utc).timestamp()
MB = 1024 * 1024


def stream(gen: Generator, counter: list[int]) -> Iterator[dict[str, Any]]:
    for day in gen.days:
        for rec in gen.sessions_for_day(day):
            counter[0] += 1
            yield rec.line


def headline(config: DataConfig, out: Path, kind: str) -> None:
    gen = Generator(config, APP, END, cache_days=1)
    counter = [0]
    t0, c0 = time.perf_counter(), time.process_time()
    writer = write_json if kind == "json" else write_csv
    files = writer(stream(gen, counter), out, f"export-{APP}-bench{kind}", 256 * MB)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    size = sum(p.stat().st_size for p in files) / MB
    print(
        f"[{kind}] generator + write_{kind}: {size:.1f} MB in {len(files)} file(s), "
        f"{counter[0]} sessions, {seconds:.2f} s -> {size / seconds:.1f} MB/s, "
        f"{counter[0] / seconds:,.0f} sessions/s; 256 MB would take {256 / size * seconds:.1f} s "
        f"(CPU time {cpu:.2f} s, {256 / size * cpu:.1f} s per 256 MB: "
        f"about the wall time on an idle machine)"
    )
    for p in files:
        p.unlink()


def breakdown(config: DataConfig, sample_days: int) -> None:
    gen = Generator(config, APP, END, cache_days=sample_days)
    days = gen.days[-sample_days:]
    t0 = time.perf_counter()
    lines = [r.line for d in days for r in gen.sessions_for_day(d)]
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = b"\n".join(dumps_line(line) for line in lines)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = "\n".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) for line in lines)
    t_base = time.perf_counter() - t0
    size = len(ours) / MB
    print(
        f"breakdown on {sample_days} days ({len(lines)} sessions, {size:.1f} MB): "
        f"generate {t_gen:.2f} s ({len(lines) / t_gen:,.0f} sessions/s), "
        f"our serialiser {t_ours:.2f} s ({size / t_ours:.0f} MB/s), "
        f"baseline json.dumps {t_base:.2f} s ({len(base.encode()) / MB / t_base:.0f} MB/s); "
        f"serialiser speed-up x{t_base / t_ours:.1f}, generation is "
        f"{t_gen / (t_gen + t_ours):.0%} of generate+serialise"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=88, help="days of history (88 gives ~256 MB)")
    parser.add_argument("--sample-days", type=int, default=4)
    parser.add_argument("--csv", action="store_true", help="also time the CSV writer")
    args = parser.parse_args()
    config = DataConfig(history_days=args.days)
    print(f"config: {config}")
    breakdown(config, args.sample_days)
    with tempfile.TemporaryDirectory() as tmp:
        headline(config, Path(tmp), "json")
        if args.csv:
            headline(config, Path(tmp), "csv")


if __name__ == "__main__":
    main()
