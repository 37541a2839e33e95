"""Concurrency (issue 8 item 4): processes and threads fetching overlapping ranges on one cache.

Three spawned processes and three threads start at the same instant, each fetching (then
loading) an overlapping range of days against one simulator and one cache folder. Afterwards:
every worker got complete data (its sessions are exactly the cache's sessions for its days),
the cache invariants hold (every file byte-identical to the server's, complete entries whole),
and no export was spent twice: each day belongs to exactly one export job, and the exports
the server accepted equal the exports the workers report, the ledger and the jobs on disk.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from leanplum_notebook.dates import pacific_day
from leanplum_notebook.export import fetch

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

RANGES = {
    "p1": ("20260601", "20260604"),
    "p2": ("20260603", "20260607"),
    "p3": ("20260606", "20260609"),
    "t1": ("20260602", "20260605"),
    "t2": ("20260601", "20260609"),
    "t3": ("20260608", "20260610"),
}


def test_processes_and_threads_share_one_cache(
    make_simulator: Any, tmp_path: Path, rel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import _rel_worker

    sim = make_simulator(pending_seconds=0.1, running_seconds=0.3)
    cache = tmp_path / "cache"
    go = time.time() + 6.0  # after the spawned interpreters have imported pandas
    jobs = {
        name: {
            "name": name,
            "start": start,
            "end": end,
            "app_id": sim.app_id,
            "export_key": sim.export_key,
            "api_url": sim.api_url,
            "cache_dir": str(cache),
            "now": sim.clock.now(),
            "go": go,
        }
        for name, (start, end) in RANGES.items()
    }
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool, ThreadPoolExecutor(3) as threads:
        procs = [
            pool.apply_async(_rel_worker.fetch_and_load, (jobs[n],)) for n in RANGES if n[0] == "p"
        ]
        thrds = [threads.submit(_rel_worker.fetch_and_load, jobs[n]) for n in RANGES if n[0] == "t"]
        results = [p.get(timeout=150) for p in procs] + [t.result(timeout=150) for t in thrds]
    assert time.time() >= go

    # no double spend: one job per day, and every count agrees
    accepted = int(sum(sim.stats.exports_accepted.values()))
    spent = sum(r["spent"] for r in results)
    entries = [json.loads(p.read_text()) for p in cache.rglob("entry.json")]
    assert all(e["complete"] for e in entries)
    owners: dict[str, list[str]] = {}
    for e in entries:
        for day in e["days"]:
            owners.setdefault(day, []).append(e["job_id"])
    assert sorted(owners) == [f"202606{d:02d}" for d in range(1, 11)]
    assert all(len(jobs_) == 1 for jobs_ in owners.values()), owners
    assert accepted == spent == len(entries) == rel.ledger_total(cache)
    assert accepted <= len(RANGES)
    rel.check_cache(cache, sim)

    # everyone got complete data: the cache's sessions for exactly its days
    whole = fetch(
        "20260601",
        "20260610",
        app_id=sim.app_id,
        api_url=sim.api_url,
        cache_dir=cache,
        clock=sim.clock.now,
        progress=False,
    )
    assert whole.exports_spent == 0
    sessions = whole.load(progress=False, use_parquet=False).sessions
    day_of = {
        int(s): pacific_day(t.timestamp())
        for s, t in zip(sessions["sessionId"], sessions["start"], strict=True)
    }
    for r in results:
        days = {date.fromisoformat(d) for d in r["days"]}
        expected = sorted(s for s, d in day_of.items() if d in days)
        assert r["session_ids"] == expected, r["name"]
        assert r["mismatches"] == 0 and r["events"] > 0
        assert all(Path(f).is_file() for f in r["files"])


def test_the_24th_export_goes_to_exactly_one_of_two_racers(
    make_simulator: Any, tmp_path: Path, rel: Any
) -> None:
    """23 exports spent; a JSON and a CSV fetch (different cache folders, one ledger) race
    for the last one: one gets it, the other is refused locally, before any call."""
    from leanplum_notebook import errors

    sim = make_simulator(pending_seconds=0.0, running_seconds=0.0)
    cache = tmp_path / "cache"
    kw: dict[str, Any] = {
        "app_id": sim.app_id,
        "export_key": sim.export_key,
        "api_url": sim.api_url,
        "cache_dir": cache,
        "clock": sim.clock.now,
        "sleep": lambda s: time.sleep(min(s, 0.01)),
        "progress": False,
        "timeout": 60.0,
    }
    first = date(2026, 6, 14)
    for i in range(23):  # one export per day, going back
        day = date.fromordinal(first.toordinal() - i)
        assert fetch(day, **kw).exports_spent == 1
    go = time.time() + 0.3

    def race(fmt: str) -> str:
        while time.time() < go:
            time.sleep(0.001)
        try:
            return f"spent {fetch('20260501', format=fmt, **kw).exports_spent}"
        except errors.QuotaExceeded as exc:
            return "refused locally" if exc.status is None else f"refused by the server {exc}"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(race, ["json", "csv"]))
    assert outcomes == ["refused locally", "spent 1"]
    assert int(sum(sim.stats.exports_accepted.values())) == 24 == rel.ledger_total(cache)
    assert sim.stats.calls["exportData"] == 24  # the loser never called
    rel.check_cache(cache, sim)
