"""Draw every chart of ``leanplum_notebook.plots`` from a simulator export into PNG files.

Exports the recent days from the bundled simulator over HTTP (the same path as a real
export: ``connect`` -> ``fetch`` -> ``load``), computes every metric and writes one PNG per
chart into ``gallery/`` (gitignored), so a person can look at them all at once::

    python examples/gallery.py                     # 56 days, seed 0, into gallery/
    python examples/gallery.py --overview docs/overview.png

``--overview`` also writes the overview figure there (the README's image).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger("gallery")


def _experiment_names(conn: Any) -> tuple[dict[int, str], dict[int, int]]:
    """Display names and control variants of the simulator's experiments."""
    sim = conn.simulator
    generator = sim.generators.get(sim.app_id) if sim is not None else None
    if generator is None:
        return {}, {}
    names: dict[int, str] = {}
    control: dict[int, int] = {}
    for exp in generator.experiments():
        names[int(exp["id"])] = exp["name"]
        for i, variant in enumerate(exp["variants"]):
            names[int(variant["id"])] = variant["name"]
            if i == 0:  # the generator lists the control (or baseline) variant first
                control[int(exp["id"])] = int(variant["id"])
    return names, control


def draw_gallery(
    tables: Any,
    out: Path,
    *,
    names: dict[int, str] | None = None,
    control: dict[int, int] | None = None,
    dpi: int = 100,
) -> list[Path]:
    """Write one PNG per chart of ``tables`` into ``out``; return the files written."""
    import matplotlib.pyplot as plt

    from leanplum_notebook import metrics, plots

    sessions, events, experiments = tables.sessions, tables.events, tables.experiments
    engagement = metrics.engagement(sessions)
    daily_retention = metrics.retention(sessions, max_periods=30)
    results = metrics.experiment_results(experiments, sessions, events, control=control)
    charts: dict[str, Callable[[], Any]] = {
        "active_users": lambda: plots.plot_active_users(engagement),
        "stickiness": lambda: plots.plot_stickiness(engagement),
        "new_users": lambda: plots.plot_new_users(metrics.new_users(sessions)),
        "session_lengths": lambda: plots.plot_session_lengths(metrics.session_lengths(sessions)),
        "retention_heatmap_daily": lambda: plots.plot_retention_heatmap(
            metrics.retention(sessions, max_periods=14).tail(21)
        ),
        "retention_heatmap_weekly": lambda: plots.plot_retention_heatmap(
            metrics.retention(sessions, period="week", max_periods=7)
        ),
        "retention_curves": lambda: plots.plot_retention_curves(daily_retention),
        "retention_rolling_weekly": lambda: plots.plot_retention_curves(
            metrics.retention(sessions, period="week", kind="rolling", max_periods=7),
            title="Rolling weekly retention",
        ),
        "funnel": lambda: plots.plot_funnel(
            metrics.funnel(events, sessions, ["Open Store", "View Item", "Add To Cart", "Purchase"])
        ),
        "top_events": lambda: plots.plot_top_events(
            metrics.top_events(events, n=12, sessions=sessions)
        ),
        "revenue": lambda: plots.plot_revenue(metrics.revenue(events, sessions)),
        "experiment_conversion": lambda: plots.plot_experiment(results, names=names),
        "experiment_lift": lambda: plots.plot_experiment(results, metric="lift", names=names),
        "experiment_revenue": lambda: plots.plot_experiment(
            results, metric="revenue_per_user", names=names
        ),
        "breakdown_platform": lambda: plots.plot_breakdown(metrics.breakdown(sessions, "client")),
        "breakdown_country": lambda: plots.plot_breakdown(
            metrics.breakdown(sessions, "country", top=8)
        ),
        "breakdown_app_version": lambda: plots.plot_breakdown(
            metrics.breakdown(sessions, "appVersion", metric="sessions", top=8)
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in charts.items():
        ax = draw()
        path = out / f"{name}.png"
        ax.figure.savefig(path, dpi=dpi)
        plt.close(ax.figure)
        written.append(path)
    fig = plots.plot_overview(tables, control=control, names=names)
    path = out / "overview.png"
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gallery"), help="folder for the PNGs")
    parser.add_argument("--days", type=int, default=56, help="Pacific days to export (1-58)")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed")
    parser.add_argument("--dpi", type=int, default=100)
    parser.add_argument("--overview", type=Path, help="also save the overview figure here")
    parser.add_argument("--overview-dpi", type=int, default=80)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from leanplum_notebook import plots
    from leanplum_notebook.connect import connect

    t0 = time.perf_counter()
    conn = connect(simulate=True, seed=args.seed, dotenv=None, environ={})
    start, end = conn.recent_days(args.days)
    export = conn.fetch(start, end, progress=True)
    tables = export.load(progress=True)
    t1 = time.perf_counter()
    names, control = _experiment_names(conn)
    written = draw_gallery(tables, args.out, names=names, control=control, dpi=args.dpi)
    t2 = time.perf_counter()
    logger.info(
        "%d sessions %s..%s: export+load %.1f s, %d charts %.1f s -> %s",
        len(tables.sessions),
        start,
        end,
        t1 - t0,
        len(written),
        t2 - t1,
        args.out,
    )
    if args.overview is not None:
        fig = plots.plot_overview(tables, control=control, names=names)
        args.overview.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.overview, dpi=args.overview_dpi)
        plt.close(fig)
        logger.info("overview: %s (%d KB)", args.overview, args.overview.stat().st_size // 1024)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
