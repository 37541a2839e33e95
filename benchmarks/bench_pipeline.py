"""Benchmark: the export pipeline against the bundled simulator, baselines in the same run.

Usage::

    .venv/bin/python benchmarks/bench_pipeline.py [--days 7] [--latency 0.03]

1. ``fetch`` of N days from an empty cache, then the same ``fetch`` again: the second spends no
   export and only reads the cache (ratio = how much a cache hit saves).
2. The job's files downloaded with 1 worker (baseline) and with 4 workers, each file answer
   delayed by ``--latency`` seconds (the simulator's ``slow`` fault, a stand-in for the network
   round trip to the storage host): the ratio is what parallel downloads buy.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from leanplum_notebook.api.download import download_files
from leanplum_notebook.export import fetch
from leanplum_notebook.simulator import DataConfig, FaultConfig, SimClock, Simulator

MB = 1024 * 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--latency", type=float, default=0.03)
    ap.add_argument("--file-kb", type=int, default=256)
    args = ap.parse_args()
    data = DataConfig(seed=0, initial_users=1500, new_users_per_day=60.0, history_days=70)
    faults = FaultConfig(rates={"slow": 1.0}, slow_seconds=args.latency)
    with Simulator(
        seed=0,
        clock=SimClock(),
        data=data,
        max_file_bytes=args.file_kb * 1024,
        pending_seconds=0.05,
        running_seconds=0.1,
        faults=faults,
    ) as sim:
        tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
        try:
            kw: dict[str, Any] = dict(
                app_id=sim.app_id,
                export_key=sim.export_key,
                api_url=sim.api_url,
                cache_dir=tmp / "cache",
                clock=sim.clock.now,
                progress=False,
            )
            last = sim.clock.now_datetime().date() - timedelta(days=10)
            first = last - timedelta(days=args.days - 1)
            t0 = time.perf_counter()
            export = fetch(first, last, **kw)
            fresh = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = fetch(first, last, **kw)
            cached = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in export.files)
            print(
                f"fetch {args.days} days: {len(export.files)} files, {size / MB:.1f} MB, "
                f"{sum(p.num_sessions or 0 for p in export.parts)} sessions"
            )
            print(f"  fresh fetch : {fresh:7.3f} s  ({export.exports_spent} export spent)")
            print(f"  cached fetch: {cached:7.3f} s  ({again.exports_spent} exports spent)")
            print(f"  ratio fresh/cached: {fresh / cached:.1f}x")

            entry = export.parts[0]
            urls = _urls(entry.entry_dir)
            timings = {}
            for workers in (1, 4):
                dest = tmp / f"dl{workers}"
                t0 = time.perf_counter()
                download_files(
                    urls,
                    dest,
                    session=requests.Session(),
                    expected_bytes=size,
                    max_workers=workers,
                    progress=False,
                )
                timings[workers] = time.perf_counter() - t0
                shutil.rmtree(dest)
            print(
                f"download {len(urls)} files ({size / MB:.1f} MB, {args.latency * 1000:.0f} ms "
                "latency per file)"
            )
            for workers, secs in timings.items():
                print(f"  {workers} worker(s): {secs:7.3f} s  {size / MB / secs:7.1f} MB/s")
            print(f"  ratio 1 worker / 4 workers: {timings[1] / timings[4]:.1f}x")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _urls(entry_dir: Path) -> list[str]:
    import json

    entry = json.loads((entry_dir / "entry.json").read_text())
    return [f["url"] for f in entry["files"]]


if __name__ == "__main__":
    main()
