"""Soak test (issue 8 item 3): many fetches with faults on about one call in ten.

One seeded sequence of fetches (random overlapping ranges, some with ``refresh=True``, the
simulated clock moved forward between them so days go from provisional to final) runs
against two simulators with the same seed: one fault-free, one injecting every recoverable
fault kind at a combined rate of about 10 % per call. A fetch that stops with an error is
re-run (as a user would). At the end:

* the data loaded from the faulty run's cache equals the fault-free run's, row for row;
* the exports spent on the faulty simulator equal the minimum the planner asked for in the
  fault-free run (and the ledger agrees);
* the cache invariants hold (no partial file under a final name, complete entries whole).

The figures (calls, faults by kind, retries, exports, rows) are printed; docs/reliability.md
quotes a run.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leanplum_notebook import errors
from leanplum_notebook.dates import pacific_day
from leanplum_notebook.export import fetch, plan
from leanplum_notebook.simulator import FaultConfig

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SEED = 20260615
FETCHES = 40
#: recoverable kinds (the client retries or resumes without spending another export); the
#: kinds that cost an export by design (drop_connection on exportData, job_fail,
#: expire_early), job_stuck and corrupt_line have their own tests in test_fault_kinds.py
SOAK_KINDS = (
    "slow",
    "http_500_html",
    "http_502_empty",
    "http_429",
    "success_false_200",
    "drop_download",
    "truncate_file",
)
#: per kind; an API call is eligible for 5 kinds, a download for 6: about 1 call in 10
RATE = 0.017
_RETRY_RE = re.compile(r"retrying|broke|will retry|checking each file")


@dataclass(frozen=True)
class Step:
    advance: float  # seconds to move the simulated clock before the fetch
    back: int  # the range starts this many days before today (Pacific)
    length: int
    refresh: bool


def _steps() -> list[Step]:
    rng = random.Random(SEED)
    steps = []
    for i in range(FETCHES):
        advance = rng.choice((0.5, 1.0, 1.5)) * 86400 if i and i % 4 == 0 else 0.0
        back = rng.randint(0, 24)
        steps.append(Step(advance, back, rng.randint(1, min(5, back + 1)), rng.random() < 0.3))
    return steps


class _RetryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if _RETRY_RE.search(record.getMessage()):
            self.counts[record.name.rsplit(".", 1)[-1]] += 1


def _run(sim: Any, cache: Path, steps: list[Step], *, planner: bool) -> dict[str, Any]:
    """Run the sequence; re-run a fetch that stops with an error (at most 6 times)."""

    def kw() -> dict[str, Any]:
        return {
            "app_id": sim.app_id,
            "export_key": sim.export_key,
            "api_url": sim.api_url,
            "cache_dir": cache,
            "clock": sim.clock.now,
            # the simulated clock must move the same way in both runs: sleeping never moves it
            "sleep": lambda s: time.sleep(min(s, 0.01)),
            "progress": False,
            "timeout": 120.0,
        }

    needed = spent = 0
    reruns: Counter[str] = Counter()
    messages: list[str] = []
    requested: set[date] = set()
    for step in steps:
        sim.clock.advance(step.advance)
        today = pacific_day(sim.clock.now())
        first = today - timedelta(days=step.back)
        last = min(today, first + timedelta(days=step.length - 1))
        requested.update(first + timedelta(days=i) for i in range((last - first).days + 1))
        if planner:
            the_plan = plan(
                first,
                last,
                refresh=step.refresh,
                app_id=sim.app_id,
                cache_dir=cache,
                clock=sim.clock.now,
            )
            needed += the_plan.exports_needed
        for attempt in range(7):  # a re-run repeats the call as it was, refresh included
            try:
                got = fetch(first, last, refresh=step.refresh, **kw())
            except errors.LeanplumError as exc:
                assert attempt < 6, f"re-running never completes: {exc}"
                assert not isinstance(exc, errors.ExportOutcomeUnknown | errors.JobFailed)
                reruns[type(exc).__name__] += 1
                messages.append(f"{type(exc).__name__}: {exc}")
                continue
            spent += got.exports_spent
            break
    # everything requested, loaded from the cache (no export: every day is cached)
    days = sorted(requested)
    runs: list[list[date]] = [[days[0]]]
    for d in days[1:]:
        if d - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(d)
        else:
            runs.append([d])
    pieces: dict[str, list[pd.DataFrame]] = {}
    statuses: Counter[str] = Counter()
    for run in runs:
        got = fetch(run[0], run[-1], **kw())
        assert got.exports_spent == 0
        statuses.update(got.status.values())
        tables = got.load(progress=False)
        assert not tables.report.mismatches and tables.report.bad_lines_skipped == 0
        for name in tables:
            pieces.setdefault(name, []).append(tables[name])
    frames = {name: _canonical(pd.concat(p, ignore_index=True)) for name, p in pieces.items()}
    return {
        "needed": needed,
        "spent": spent,
        "reruns": reruns,
        "messages": messages,
        "frames": frames,
        "days": len(days),
        "statuses": statuses,
        "ranges": len(runs),
    }


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Rows as text, sorted by every column: order and categorical codes do not matter."""
    text = df.astype("string").fillna("<NA>")
    return text.sort_values(list(text.columns), kind="stable").reset_index(drop=True)


def test_soak_matches_a_fault_free_run(
    make_simulator: Any, tmp_path: Path, rel: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = _steps()
    sim_kw: dict[str, Any] = {"seed": 7, "pending_seconds": 0.0, "running_seconds": 0.05}
    clean = make_simulator(**sim_kw)
    faults = FaultConfig(
        seed=SEED,
        rates=dict.fromkeys(SOAK_KINDS, RATE),
        slow_seconds=0.05,
        retry_after=1,
    )
    faulty = make_simulator(faults=faults, **sim_kw)

    t0 = time.monotonic()
    base = _run(clean, tmp_path / "clean", steps, planner=True)
    t_clean = time.monotonic() - t0
    counter = _RetryCounter()
    logging.getLogger("leanplum_notebook").addHandler(counter)
    old_level = logging.getLogger("leanplum_notebook").level
    logging.getLogger("leanplum_notebook").setLevel(logging.DEBUG)
    try:
        t0 = time.monotonic()
        soak = _run(faulty, tmp_path / "faulty", steps, planner=False)
        t_faulty = time.monotonic() - t0
    finally:
        logging.getLogger("leanplum_notebook").removeHandler(counter)
        logging.getLogger("leanplum_notebook").setLevel(old_level)

    # exports: the fault-free run spent exactly what its planner asked for; the faulty run
    # spent the same, and its ledger agrees with the server
    accepted = int(sum(faulty.stats.exports_accepted.values()))
    assert base["spent"] == base["needed"] == int(sum(clean.stats.exports_accepted.values()))
    # (a fetch that stopped after its export was accepted is resumed by its re-run, which
    # reports exports_spent 0: so the server's count is the one that matters)
    assert accepted == base["needed"], (accepted, base["needed"], soak["spent"])
    assert rel.ledger_total(tmp_path / "faulty") == accepted
    rel.check_cache(tmp_path / "faulty", faulty)

    # the clock moved: some days ended final, some still provisional, the same in both runs
    assert soak["statuses"] == base["statuses"] and set(base["statuses"]) == {
        "final",
        "provisional",
    }

    # the data, row for row
    rows = 0
    for name, expected in base["frames"].items():
        pd.testing.assert_frame_equal(soak["frames"][name], expected, check_dtype=True)
        rows += len(expected)
    assert len(base["frames"]["sessions"]) > 1000

    calls = int(sum(faulty.stats.calls.values())) + faulty.stats.downloads
    faults_met = dict(sorted(faulty.stats.faults.items()))
    assert sum(faults_met.values()) >= 0.05 * calls  # faults really were on
    assert set(faults_met) >= {"http_500_html", "http_429", "drop_download"}
    retries = dict(sorted(counter.counts.items()))
    figures = {
        "fetches": FETCHES,
        "days requested": base["days"],
        "simulated days elapsed": round(sum(s.advance for s in steps) / 86400, 1),
        "refresh fetches": sum(s.refresh for s in steps),
        "days final / provisional at the end": (
            base["statuses"]["final"],
            base["statuses"]["provisional"],
        ),
        "calls (api + downloads)": calls,
        "api calls": dict(faulty.stats.calls),
        "downloads": faulty.stats.downloads,
        "faults met": faults_met,
        "faults total": sum(faults_met.values()),
        "retries inside a fetch (by module)": retries,
        "fetches re-run after an error": dict(soak["reruns"]),
        "exports spent (faulty run)": accepted,
        "exports the planner needed (fault-free run)": base["needed"],
        "rows (six tables)": rows,
        "sessions": len(base["frames"]["sessions"]),
        "seconds (fault-free, faulty)": (round(t_clean, 1), round(t_faulty, 1)),
    }
    with capsys.disabled():
        print("\nsoak figures:")
        for message in soak["messages"]:
            print(f"  re-run after: {message[:300]}")
        for key, value in figures.items():
            print(f"  {key}: {value}")
