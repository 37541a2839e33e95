"""Write the project's notebooks (without outputs) from the cell sources below.

    python tests/notebooks/make_notebooks.py          # (re)write notebooks/*.ipynb + template
    python tests/notebooks/make_notebooks.py --check  # exit 1 if a committed file differs

The notebooks are generated so they stay clean (no outputs, no widget state, stable cell
ids) and so the report template inside the package and ``notebooks/report.ipynb`` are the
same notebook. Edit the sources here, then run the script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]

SETUP = """\
%matplotlib inline
import leanplum_notebook as lpn
from leanplum_notebook import joins, metrics, plots
from leanplum_notebook.connect import connect

# The real export API when LEANPLUM_APP_ID and LEANPLUM_EXPORT_KEY are set (or in a .env file),
# else the bundled simulator: the notebook runs the same either way.
conn = connect()
conn"""

QUICKSTART = [
    (
        "md",
        """\
# Quickstart: Leanplum's raw-data export in a notebook

This notebook exports a few recent days, loads them into typed pandas tables, joins two of
them, draws a chart, and shows the export form.

It runs as is with **no credentials**: `connect()` then starts the bundled simulator of the
export API. To use your own app, set `LEANPLUM_APP_ID` and `LEANPLUM_EXPORT_KEY` in the
environment (or a `.env` file) before starting Jupyter; nothing else changes.""",
    ),
    ("code", SETUP),
    (
        "md",
        """\
## Export recent days

`fetch` exports a range of Pacific days, or reuses them from the local cache. Days less than
8 days old are *provisional* (late sessions may still arrive); older ones are final. Leanplum
allows 24 exports a day per app, and the cache makes a re-run free.""",
    ),
    (
        "code",
        """\
start, end = conn.recent_days(14)  # the 14 Pacific days ending 2 days ago
export = conn.fetch(start, end)
export""",
    ),
    ("code", "print(conn.quota())"),
    (
        "code",
        """\
again = conn.fetch(start, end)  # same days: served from the cache
print(f"exports spent by the second fetch: {again.exports_spent}")""",
    ),
    (
        "md",
        """\
## The six tables

Sessions, states, events, event parameters, user attributes and experiments, with the column
names of Leanplum's CSV export and exact types (64-bit ids, UTC times).""",
    ),
    (
        "code",
        """\
tables = export.load()
{name: len(tables[name]) for name in lpn.schema.TABLES}""",
    ),
    ("code", "tables.sessions.head()"),
    ("code", "tables.events.head()"),
    (
        "md",
        """\
## A join: each event with the session (and user) it belongs to""",
    ),
    (
        "code",
        """\
events = joins.events_with_sessions(tables.events, tables.sessions)
events[["eventName", "start", "userId", "client", "country"]].head()""",
    ),
    ("md", "## A chart: daily, weekly and monthly active users"),
    (
        "code",
        """\
engagement = metrics.engagement(tables.sessions)
plots.plot_active_users(engagement);""",
    ),
    (
        "md",
        """\
## The export form

The same export with a form: choose the days and the format, see what is cached and how many
exports it will spend, then click **Export**. When it is done, `form.export` and `form.tables`
hold the result and the form shows the equivalent Python call, so the notebook can be re-run
without clicking. Credentials come from the environment; without them the form asks for the
key in a masked field and never shows or stores it.""",
    ),
    (
        "code",
        """\
form = lpn.ExportForm(conn, start=start, end=end)  # the days fetched above: all cached
form""",
    ),
    (
        "md",
        """\
The form can also be driven from code (this is what the tests do). These days are cached, so
this spends no export:""",
    ),
    (
        "code",
        """\
form.submit_button.click()
form.wait()
print(form.code)
print(f"exports spent: {form.export.exports_spent}, sessions: {len(form.tables.sessions):,}")""",
    ),
    (
        "md",
        """\
## The automated export feed

Many apps have Leanplum push their raw data to their own bucket on a schedule instead of
calling the export API. `lpn.feed("s3://bucket/prefix/")` reads that feed (any fsspec URL, or
a local folder of the same layout): `sync()` downloads the complete jobs not seen yet (a job
counts once its manifest is there), and `load(days=...)` gives the same six tables by Pacific
session day. Here the simulator writes a week of its feed, a job every 4 hours, to a folder.""",
    ),
    (
        "code",
        """\
import tempfile
from pathlib import Path

from leanplum_notebook.simulator import Simulator
from leanplum_notebook.simulator.feed import LocalBucket

folder = Path(tempfile.mkdtemp())
with Simulator() as sim:
    sim.feed(LocalBucket(folder / "bucket"), "leanplum/").run_until(sim.clock.now())
feed = lpn.feed(folder / "bucket" / "leanplum", cache_dir=folder / "cache")
print(feed.sync(progress=False))
import pandas as pd

feed_days = pd.date_range(*conn.recent_days(3, lag=1)).date  # the last 3 Pacific days
feed_tables = feed.load(days=feed_days, progress=False)
feed_tables""",
    ),
]

ENGAGEMENT = [
    (
        "md",
        """\
# Engagement and retention

Active users (DAU, WAU, MAU, stickiness), new users, sessions per user and session lengths,
retention by cohort, and who the users are. Runs on the bundled simulator when no credentials
are set.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
start, end = conn.recent_days(42)  # six weeks ending 2 days ago
export = conn.fetch(start, end)
tables = export.load()
sessions = tables.sessions
print(f"{len(sessions):,} sessions of {sessions['userId'].nunique():,} users, {start}-{end}")""",
    ),
    (
        "md",
        """\
## Active users

A user is active on a Pacific day when one of their sessions starts on it. WAU and MAU are
rolling 7- and 30-day windows; stickiness is DAU / MAU.""",
    ),
    (
        "code",
        """\
engagement = metrics.engagement(sessions)
engagement.tail()""",
    ),
    ("code", "plots.plot_active_users(engagement);"),
    ("code", "plots.plot_stickiness(engagement);"),
    (
        "md",
        """\
Days can also be the user's own local calendar day (`tz="local"`, from the session's
`timezoneOffset`) or UTC; a user active around midnight counts on different days.""",
    ),
    (
        "code",
        """\
import pandas as pd

by_tz = {
    tz: metrics.active_users(sessions, tz=tz).set_index("period")["active_users"]
    for tz in ("pacific", "local", "utc")
}
pd.DataFrame(by_tz).tail(7)""",
    ),
    ("md", "## New users and sessions"),
    ("code", "plots.plot_new_users(metrics.new_users(sessions));"),
    ("code", "metrics.sessions_per_user(sessions).tail(7)"),
    (
        "md",
        """\
Session lengths leave out sessions longer than 8 hours (as Leanplum's dashboard does) and
offline records (`isSession` false).""",
    ),
    (
        "code",
        """\
lengths = metrics.session_lengths(sessions)  # seconds
print((lengths / 60).describe().round(1).rename("session length (minutes)"))  # as on the chart
plots.plot_session_lengths(lengths);""",
    ),
    (
        "md",
        """\
## Retention

Each row is a cohort of users by the day of their first run; column N is the share of the
cohort active N days later.""",
    ),
    (
        "code",
        """\
retention = metrics.retention(sessions, period="day", max_periods=14)
plots.plot_retention_heatmap(retention);""",
    ),
    ("code", "plots.plot_retention_curves(retention);"),
    (
        "code",
        """\
weekly = metrics.retention(sessions, period="week", kind="rolling", max_periods=5)
weekly.round(3)""",
    ),
    ("md", "## Who the users are"),
    ("code", "plots.plot_breakdown(metrics.breakdown(sessions, 'client'));"),
    ("code", "metrics.breakdown(sessions, 'country', top=10)"),
    (
        "md",
        """\
User attributes come as one row per (session, attribute); `sessions_with_attributes` turns
them into columns, so they can be used like any other session column.""",
    ),
    (
        "code",
        """\
wide = joins.sessions_with_attributes(sessions, tables.user_attributes)
attributes = [c for c in wide.columns if c not in sessions.columns]
attributes""",
    ),
    (
        "code",
        """\
by = "plan" if "plan" in attributes else "client"
metrics.breakdown(wide, by)""",
    ),
]

FUNNELS = [
    (
        "md",
        """\
# Funnels, revenue and experiments

The most frequent events, an ordered funnel, revenue per day (ARPDAU, ARPPU), purchases by
item, A/B test results with confidence intervals, and message campaigns. Runs on the bundled
simulator when no credentials are set.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
start, end = conn.recent_days(28)
export = conn.fetch(start, end)
tables = export.load()
sessions, events = tables.sessions, tables.events
print(f"{len(events):,} events in {len(sessions):,} sessions, {start}-{end}")""",
    ),
    ("md", "## Events"),
    (
        "code",
        """\
top = metrics.top_events(events, n=12, sessions=sessions)
plots.plot_top_events(top);""",
    ),
    (
        "md",
        """\
## A funnel

A user reaches step *k* when they did steps 1 to *k* in this order within a day of step 1.
Change `steps` to your own event names.""",
    ),
    (
        "code",
        """\
steps = ["Open Store", "View Item", "Add To Cart", "Purchase"]
funnel = metrics.funnel(events, sessions, steps)
funnel""",
    ),
    ("code", "plots.plot_funnel(funnel);"),
    (
        "md",
        """\
## Revenue

Revenue is the `value` of `Purchase` events; ARPDAU is revenue per daily active user and
ARPPU revenue per paying user.""",
    ),
    (
        "code",
        """\
revenue = metrics.revenue(events, sessions)
print(f"revenue {revenue['revenue'].sum():,.2f} from {revenue['paying_users'].sum():,} payer-days")
plots.plot_revenue(revenue);""",
    ),
    (
        "md",
        """\
Purchases by item: event parameters are one row per (event, name); `events_with_parameters`
makes them columns.""",
    ),
    (
        "code",
        """\
purchases = events[events["eventName"] == "Purchase"]
purchases = joins.events_with_parameters(purchases, tables.event_parameters)
if "item" in purchases.columns:
    by_item = purchases.groupby("item", observed=True)["value"].agg(["count", "sum"])
else:
    by_item = purchases["value"].agg(["count", "sum"])
by_item""",
    ),
    (
        "md",
        """\
## Experiments

Conversion (a `Purchase`) and revenue per user by variant, with 95 % intervals, and the lift
of each variant over the control (the lowest variant id).""",
    ),
    (
        "code",
        """\
results = metrics.experiment_results(tables.experiments, sessions, events)
results.round(4)""",
    ),
    ("code", "plots.plot_experiment(results);"),
    (
        "md",
        """\
## Messages

A message send is an event named `.m<messageId>` and an open `.m<messageId> Open`.""",
    ),
    ("code", "metrics.message_stats(events).head(10)"),
]

REPORT = [
    (
        "code",
        """\
# Parameters (papermill injects new values after this cell).
start = None  # first Pacific day, "YYYYmmdd"; None: the 28 days ending 2 days ago
end = None  # last Pacific day, "YYYYmmdd"; None: same as start
format = "json"  # export format: "json" or "csv"
title = "Leanplum report"
funnel_steps = ["Open Store", "View Item", "Add To Cart", "Purchase"]
conversion_event = "Purchase\"""",
        ["parameters"],
    ),
    (
        "code",
        """\
%matplotlib inline
# charts at twice their size: the report scales them to its column, sharp on any screen
%config InlineBackend.figure_formats = ["retina"]
import warnings

from IPython.display import Markdown, display

from leanplum_notebook import metrics, plots
from leanplum_notebook.connect import connect

warnings.filterwarnings("ignore", category=UserWarning)
# Credentials come from the environment (render_report passes them there), never parameters.
conn = connect()
if start is None:
    start, end = conn.recent_days(28)
end = end or start
export = conn.fetch(start, end, format=format, progress=False)
tables = export.load(progress=False)
sessions, events = tables.sessions, tables.events""",
    ),
    (
        "code",
        """\
real = sessions[sessions["isSession"].fillna(True)]
revenue = metrics.revenue(events, sessions, event=conversion_event)
engagement = metrics.engagement(sessions)
origin = f"app `{conn.app_id}`, from {conn.source}"
if conn.feed is not None:
    origin = f"from {conn.source}"
display(Markdown(f\"\"\"# {title}

Pacific days **{start} to {end}**, {origin}.

| measure | value |
|---|---:|
| users | {real["userId"].nunique():,} |
| sessions | {len(real):,} |
| average daily active users | {engagement["dau"].mean():,.0f} |
| new users | {metrics.new_users(sessions)["new_users"].sum():,} |
| events | {len(events):,} |
| revenue | {revenue["revenue"].sum():,.2f} |
\"\"\"))""",
    ),
    (
        "md",
        """\
## Active users

Daily, weekly (rolling 7 days) and monthly (rolling 30 days) active users, by Pacific day.""",
    ),
    ("code", "plots.plot_active_users(engagement);"),
    ("code", "plots.plot_stickiness(engagement);"),
    ("md", "## New users"),
    ("code", "plots.plot_new_users(metrics.new_users(sessions));"),
    (
        "md",
        """\
## Session lengths

Real sessions up to 8 hours long.""",
    ),
    ("code", "plots.plot_session_lengths(metrics.session_lengths(sessions));"),
    (
        "md",
        """\
## Retention

Share of each first-run cohort active N days later.""",
    ),
    (
        "code",
        """\
retention = metrics.retention(sessions, period="day", max_periods=14)
plots.plot_retention_heatmap(retention);""",
    ),
    ("code", "plots.plot_retention_curves(retention);"),
    ("md", "## Top events"),
    ("code", "plots.plot_top_events(metrics.top_events(events, n=12, sessions=sessions));"),
    ("md", "## Funnel"),
    ("code", "plots.plot_funnel(metrics.funnel(events, sessions, funnel_steps));"),
    ("md", "## Revenue"),
    ("code", "plots.plot_revenue(revenue);"),
    (
        "md",
        """\
## Experiments

Conversion and revenue per user by variant, with 95 % intervals.""",
    ),
    (
        "code",
        """\
results = metrics.experiment_results(
    tables.experiments, sessions, events, conversion_event=conversion_event
)
if len(results):
    plots.plot_experiment(results)
else:
    display(Markdown("No experiment in these days."))""",
    ),
    ("md", "## Platforms and countries"),
    ("code", "plots.plot_breakdown(metrics.breakdown(sessions, 'client'));"),
    ("code", "plots.plot_breakdown(metrics.breakdown(sessions, 'country', top=10));"),
    ("md", "## About this data"),
    (
        "code",
        """\
statuses = list(export.status.values())
load_report = tables.report
expected = load_report.sessions_expected
announced = "a feed announces no count"
if expected is not None:
    announced = f"the export announced {expected:,}"
cached_note = ""
if export.exports_spent == 0:
    cached_note = " (every day was already in the cache, or came from a feed)"
display(Markdown(f\"\"\"
- days: {len(export.days)} ({statuses.count("final")} final, {statuses.count("provisional")}
  provisional: recent days may still gain late sessions)
- records read: {load_report.sessions_read:,} ({announced}): the {len(real):,} sessions above
  and {len(sessions) - len(real):,} offline records (`isSession` false), which count in no
  measure; {sum(load_report.duplicates_removed.values()):,} repeated rows were removed
- exports spent for this report: {export.exports_spent}{cached_note}
\"\"\"))""",
    ),
]

NOTEBOOKS = {
    "quickstart.ipynb": QUICKSTART,
    "engagement_and_retention.ipynb": ENGAGEMENT,
    "funnels_revenue_experiments.ipynb": FUNNELS,
    "report.ipynb": REPORT,
}


def build(name: str, cells: list) -> nbformat.NotebookNode:
    """One notebook: no outputs, stable cell ids, a plain python3 kernelspec."""
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    slug = name.removesuffix(".ipynb").replace("_", "-")
    for i, spec in enumerate(cells):
        kind, source = spec[0], spec[1]
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell.id = f"{slug}-{i:02d}"
        if len(spec) > 2:
            cell.metadata["tags"] = list(spec[2])
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def targets() -> dict[Path, str]:
    """Output path -> notebook text."""
    out = {}
    for name, cells in NOTEBOOKS.items():
        text = nbformat.writes(build(name, cells)) + "\n"
        out[ROOT / "notebooks" / name] = text
    out[ROOT / "leanplum_notebook" / "templates" / "report.ipynb"] = out[
        ROOT / "notebooks" / "report.ipynb"
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in targets().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'differs' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
