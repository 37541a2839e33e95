"""How long the metrics take on a realistic export, against plain baselines in the same run.

Builds ``--days`` days of simulator data (generator -> JSON writer -> loader), then times
every metric once, and three of them against the obvious implementation they replace:

- rolling WAU/MAU: one boolean mask over all user-days per day (O(days x rows)) versus the
  difference array of ``metrics.engagement``;
- the events-to-users join: ``DataFrame.merge`` on sessionId versus the positional lookup;
- the ordered funnel: a per-user Python loop (every start, earliest next step) versus the
  vectorised ``metrics.funnel``, on the same users, with the answers compared.

    python benchmarks/bench_metrics.py --days 56
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leanplum_notebook import metrics
from leanplum_notebook.analysis.metrics import (  # the join every user metric makes
    _events_with_users as events_with_users,
)
from leanplum_notebook.load import load
from leanplum_notebook.simulator.generator import DataConfig, Generator
from leanplum_notebook.simulator.writers import write_json

STEPS = ["Open Store", "View Item", "Add To Cart", "Purchase"]


def timed(func: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def naive_rolling(sessions: pd.DataFrame, window: int) -> np.ndarray:
    real = sessions[sessions["isSession"].fillna(True).astype(bool)]
    days = metrics.local_times(real["start"]).dt.floor("D")
    grid = pd.date_range(days.min(), days.max(), freq="D")
    users = real["userId"]
    return np.array(
        [
            users[((days > d - pd.Timedelta(days=window)) & (days <= d)).to_numpy()].nunique()
            for d in grid
        ]
    )


def python_funnel(
    events: pd.DataFrame, sessions: pd.DataFrame, steps: list[str], within: pd.Timedelta
) -> list[int]:
    users = dict(zip(sessions["sessionId"], sessions["userId"], strict=True))
    wanted = events[events["eventName"].isin(steps)]
    per_user: dict[str, list[tuple[pd.Timestamp, int, str]]] = {}
    for i, (sid, t, name) in enumerate(
        zip(wanted["sessionId"], wanted["start"], wanted["eventName"], strict=True)
    ):
        if sid in users:
            per_user.setdefault(users[sid], []).append((t, i, str(name)))
    reached = [0] * len(steps)
    for seq in per_user.values():
        seq.sort()
        best = 0
        for i, (t0, _, name) in enumerate(seq):
            if name != steps[0]:
                continue
            depth, pos = 1, i
            for step in steps[1:]:
                nxt = next((j for j in range(pos + 1, len(seq)) if seq[j][2] == step), None)
                if nxt is None or seq[nxt][0] - t0 > within:
                    break
                depth, pos = depth + 1, nxt
            best = max(best, depth)
        for k in range(best):
            reached[k] += 1
    return reached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    end = datetime(2026, 3, 1, 7, 59, tzinfo=timezone.utc).timestamp()
    gen = Generator(DataConfig(seed=args.seed, history_days=args.days), 4727756026281984, end)
    t0 = time.perf_counter()
    lines = [r.line for day in gen.days for r in gen.sessions_for_day(day)]
    with tempfile.TemporaryDirectory() as tmp:
        write_json(lines, Path(tmp), "export-4727756026281984-bench-analysis", 256 * 2**20)
        tables = load(tmp, tables=["sessions", "events", "experiments"], progress=False)
        s, e, x = tables.sessions, tables.events, tables.experiments
    print(
        f"data: {args.days} days, {len(s):,} sessions, {len(e):,} events, "
        f"{len(x):,} experiment rows (built in {time.perf_counter() - t0:.1f} s)"
    )

    print("\nmetric                      seconds")
    runs: dict[str, Callable[[], Any]] = {
        "active_users (W)": lambda: metrics.active_users(s, freq="W"),
        "engagement": lambda: metrics.engagement(s),
        "new_users": lambda: metrics.new_users(s),
        "sessions_per_user": lambda: metrics.sessions_per_user(s),
        "session_lengths": lambda: metrics.session_lengths(s),
        "retention (day, 30)": lambda: metrics.retention(s),
        "retention (week, rolling)": lambda: metrics.retention(s, period="week", kind="rolling"),
        "event_counts": lambda: metrics.event_counts(e),
        "top_events (+users)": lambda: metrics.top_events(e, sessions=s),
        "funnel (4 steps)": lambda: metrics.funnel(e, s, STEPS),
        "revenue": lambda: metrics.revenue(e, s),
        "experiment_results": lambda: metrics.experiment_results(x, s, e),
        "message_stats": lambda: metrics.message_stats(e),
        "breakdown (country)": lambda: metrics.breakdown(s, "country"),
    }
    for name, run in runs.items():
        seconds, _ = timed(run)
        print(f"{name:<27} {seconds:7.3f}")

    print("\nagainst baselines (same data, same process)")
    fast, eng = timed(lambda: metrics.engagement(s))
    slow, mau = timed(lambda: naive_rolling(s, 30), repeat=1)
    assert (eng["mau"].to_numpy() == mau).all(), "rolling MAU differs from the baseline"
    print(
        f"rolling MAU: baseline {slow:.3f} s, engagement() {fast:.3f} s (all of DAU/WAU/MAU), "
        f"x{slow / fast:.1f}"
    )

    keys = s[["sessionId", "userId"]]
    slow, merged = timed(lambda: e.merge(keys, on="sessionId"))
    fast, looked = timed(lambda: events_with_users(e, s))
    assert len(merged) == len(looked)
    print(
        f"events->users join: merge {slow:.3f} s, positional lookup {fast:.3f} s, "
        f"x{slow / fast:.1f}"
    )

    within = pd.Timedelta("1D")
    slow, expected = timed(lambda: python_funnel(e, s, STEPS, within), repeat=1)
    fast, got = timed(lambda: metrics.funnel(e, s, STEPS, within=within))
    assert got["users"].tolist() == expected, (got["users"].tolist(), expected)
    print(
        f"funnel: Python loop {slow:.3f} s, funnel() {fast:.3f} s, x{slow / fast:.1f} "
        f"(same answer: {expected})"
    )


if __name__ == "__main__":
    main()
