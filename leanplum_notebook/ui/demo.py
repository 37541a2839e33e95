"""``leanplum-notebook demo``: the whole pipeline on the bundled simulator, ending in a report.

Starts the simulator (no credentials, no network beyond 127.0.0.1), exports the recent days,
loads the six tables, computes the headline metrics, draws the overview chart and renders the
HTML report, then says where everything is. The pipeline part is :func:`run_pipeline` (no
printing); ``add_arguments``/``run`` are the command line around it (``cli.py`` calls
``run_<command>`` when a module has one, so the pipeline function is not named ``run_demo``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leanplum_notebook.errors import LeanplumError
from leanplum_notebook.redaction import get_logger
from leanplum_notebook.ui.console import say, warn

__all__ = ["DemoResult", "add_arguments", "run", "run_pipeline"]

logger = get_logger(__name__)


@dataclass
class DemoResult:
    """What the demo produced.

    Attributes
    ----------
    report : Path
        The HTML report.
    overview : Path
        The overview chart (PNG).
    start, end : str
        The Pacific days covered (``YYYYmmdd``).
    headline : dict
        Headline numbers: ``sessions``, ``users``, ``avg_dau``, ``new_users``,
        ``day1_retention``, ``day7_retention``, ``revenue``, ``arpdau``, ``best_lift``
        (the largest conversion lift of an experiment variant over its control),
        ``exports_spent`` (by the demo's fetch) and ``report_exports_spent`` (by the report,
        which reads the days the fetch cached: 0 unless the cache was cleared in between;
        None without a report).
    seconds : dict
        Wall time of each step (``fetch``, ``load``, ``metrics``, ``report``).
    """

    report: Path
    overview: Path
    start: str
    end: str
    headline: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def headline_numbers(tables: Any) -> dict[str, Any]:
    """Headline numbers of an export's tables (pure; see :class:`DemoResult`)."""
    from leanplum_notebook.analysis import metrics

    sessions, events = tables.sessions, tables.events
    real = sessions[sessions["isSession"].fillna(True).astype(bool)]
    engagement = metrics.engagement(sessions)
    revenue = metrics.revenue(events, sessions)
    curve = metrics.retention_curve(metrics.retention(sessions, period="day", max_periods=7))
    by_period = dict(zip(curve["period"], curve["retention"], strict=False))
    results = metrics.experiment_results(tables.experiments, sessions, events)
    lifts = results["lift"].dropna().tolist() if len(results) else []
    return {
        "sessions": len(real),
        "users": int(real["userId"].nunique()),
        "avg_dau": float(engagement["dau"].mean()) if len(engagement) else 0.0,
        "new_users": int(metrics.new_users(sessions)["new_users"].sum()),
        "day1_retention": float(by_period.get(1, float("nan"))),
        "day7_retention": float(by_period.get(7, float("nan"))),
        "revenue": float(revenue["revenue"].sum()),
        "arpdau": float(revenue["revenue"].sum() / max(engagement["dau"].sum(), 1)),
        "best_lift": float(max(lifts)) if len(lifts) else float("nan"),
    }


def run_pipeline(
    out: str | Path = "out",
    *,
    days: int = 28,
    seed: int = 0,
    progress: bool = True,
    report: bool = True,
) -> DemoResult:
    """Run the pipeline on the bundled simulator and write the overview chart and report.

    Parameters
    ----------
    out : path, default "out"
        Folder for ``report.html`` and ``overview.png`` (created).
    days : int, default 28
        Pacific days to export, ending two days before today.
    seed : int, default 0
        Seed of the simulator's synthetic data.
    progress : bool, default True
        Progress bars for the export and the load.
    report : bool, default True
        Render the HTML report (the slowest step: a notebook run in a fresh kernel).

    Returns
    -------
    DemoResult
    """
    import matplotlib.pyplot as plt

    from leanplum_notebook import plots
    from leanplum_notebook.sources.connect import connect
    from leanplum_notebook.ui.report import render_report

    if days < 1 or days > 58:
        raise ValueError(f"days must be between 1 and 58 (the API's 60-day window), got {days}")
    folder = Path(out).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    conn = connect(simulate=True, seed=seed)
    start, end = conn.recent_days(days)
    t0 = time.perf_counter()
    export = conn.fetch(start, end, progress=progress)
    seconds["fetch"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tables = export.load(progress=progress)
    seconds["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    headline = headline_numbers(tables)
    headline["exports_spent"] = export.exports_spent
    fig = plots.plot_overview(tables)
    overview = folder / "overview.png"
    fig.savefig(overview, dpi=80)
    plt.close(fig)
    seconds["metrics"] = time.perf_counter() - t0

    report_path = folder / "report.html"
    headline["report_exports_spent"] = None
    if report:
        t0 = time.perf_counter()
        used = conn.quota().used  # the ledger counts what the report's kernel spends too
        render_report(
            start,
            end,
            out=report_path,
            connection=conn,
            title=f"Leanplum demo report {start}-{end}",
        )
        headline["report_exports_spent"] = conn.quota().used - used
        seconds["report"] = time.perf_counter() - t0
    logger.info("demo done in %s", {k: round(v, 1) for k, v in seconds.items()})
    return DemoResult(report_path, overview, start, end, headline, seconds)


# --- command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` subcommand's options to ``parser``."""
    parser.add_argument("--out", default="out", help="folder for report.html (default: out)")
    parser.add_argument(
        "--days", type=int, default=28, help="Pacific days to export, ending 2 days ago"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Run ``leanplum-notebook demo``; print where the report is and the headline numbers."""
    import matplotlib

    from leanplum_notebook.ui.report import quiet_jupyter_logs

    matplotlib.use("Agg")  # the command writes files; it never opens a window
    quiet_jupyter_logs()
    started = time.perf_counter()
    try:
        result = run_pipeline(
            args.out, days=args.days, seed=args.seed, progress=not args.no_progress
        )
    except (LeanplumError, ValueError) as exc:
        warn(f"error: {exc}")
        return 1
    h = result.headline
    say(f"Demo on the bundled simulator: Pacific days {result.start} to {result.end}")
    say(f"  sessions          {h['sessions']:>12,}")
    say(f"  users             {h['users']:>12,}")
    say(f"  avg daily active  {h['avg_dau']:>12,.0f}")
    say(f"  new users         {h['new_users']:>12,}")
    say(f"  day-1 retention   {h['day1_retention']:>12.1%}")
    say(f"  day-7 retention   {h['day7_retention']:>12.1%}")
    say(f"  revenue           {h['revenue']:>12,.2f}")
    say(f"  ARPDAU            {h['arpdau']:>12,.3f}")
    say(f"  best variant lift {h['best_lift']:>12.1%}")
    say(f"  exports spent     {h['exports_spent']:>12}  (by the fetch of these days)")
    if h.get("report_exports_spent") is not None:
        # the report's footer says "exports spent for this report: 0": say why they differ
        say(
            f"  by the report     {h['report_exports_spent']:>12}  "
            "(it read the days the fetch had just cached)"
        )
    say()
    say(f"Overview chart: {result.overview.resolve()}")
    say(f"Report:         {result.report.resolve()}")
    say(f"({time.perf_counter() - started:.0f} s)")
    return 0
