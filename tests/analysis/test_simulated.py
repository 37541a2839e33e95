"""On simulator data the charts show what the generator put in.

The generator (leanplum_notebook.simulator.generator) builds a user base that grows about 1 %
a day, is more active on weekends, decays like real retention (day 1 ~40 %, day 30 under
15 %), and runs experiments where one variant ("New Store") raises purchase conversion by
30 % and the others change nothing. These tests read those facts back from what the plots
drew, so a chart that lost or distorted them fails here.
"""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

from leanplum_notebook import metrics, plots

pytestmark = pytest.mark.slow


def _whole_days(frame: pd.DataFrame) -> pd.DataFrame:
    # sessions must end before the history end, so the last day loses its latest sessions
    return frame.iloc[:-1]


def test_growth_in_new_and_active_users(simulated: SimpleNamespace) -> None:
    new = _whole_days(metrics.new_users(simulated.sessions))
    drawn = plots.plot_new_users(new)
    heights = np.array([p.get_height() for p in drawn.patches])
    assert len(heights) == 49
    first, last = heights[:14].mean(), heights[-14:].mean()
    # 1 % a day over ~34 days between the two fortnights' centres: about 1.4x
    assert 1.2 < last / first < 1.7
    assert np.polyfit(np.arange(len(heights)), heights, 1)[0] > 0

    engagement = _whole_days(metrics.engagement(simulated.sessions))
    ax = plots.plot_active_users(engagement)
    dau = next(line for line in ax.get_lines() if line.get_label() == "DAU").get_ydata()
    assert dau[-14:].mean() > 1.1 * dau[14:28].mean()


def test_weekly_cycle(simulated: SimpleNamespace) -> None:
    engagement = _whole_days(metrics.engagement(simulated.sessions))
    ax = plots.plot_active_users(engagement)
    line = next(line for line in ax.get_lines() if line.get_label() == "DAU")
    dau = pd.Series(line.get_ydata(), index=pd.to_datetime(engagement["day"]))
    # detrend with a centred 7-day mean, then compare weekends with weekdays
    ratio = (dau / dau.rolling(7, center=True).mean()).dropna()
    weekend = ratio[ratio.index.day_of_week >= 5].mean()
    weekday = ratio[ratio.index.day_of_week < 5].mean()
    assert weekend > 1.1 * weekday


def test_retention_decays(simulated: SimpleNamespace) -> None:
    table = metrics.retention(simulated.sessions, max_periods=30)
    ax = plots.plot_retention_curves(table)
    average = ax.get_lines()[-1]
    curve = dict(zip(average.get_xdata().astype(int), average.get_ydata(), strict=True))
    assert curve[0] > 0.95
    assert 0.3 < curve[1] < 0.5
    assert 0.1 < curve[7] < 0.3
    assert 0.02 < curve[30] < curve[7] < curve[1]
    weekly_means = [np.mean([curve[d] for d in range(a, a + 7)]) for a in (1, 8, 15, 22)]
    assert weekly_means == sorted(weekly_means, reverse=True)

    weekly = metrics.retention(simulated.sessions, period="week", max_periods=6)
    heat = plots.plot_retention_heatmap(weekly)
    cells = heat.get_images()[0].get_array()
    assert cells is not None
    column_means = cells.mean(axis=0)
    assert column_means[0] > column_means[1] > column_means[4]


def test_experiment_effect_is_found_where_real(simulated: SimpleNamespace) -> None:
    described = simulated.gen.experiments()
    control = {
        e["id"]: next(v["id"] for v in e["variants"] if v["name"] in ("Control", "Short"))
        for e in described
    }
    names = {e["id"]: e["name"] for e in described}
    names.update({v["id"]: v["name"] for e in described for v in e["variants"]})
    lifts = {v["id"]: v["purchase_lift"] for e in described for v in e["variants"]}
    results = metrics.experiment_results(
        simulated.experiments, simulated.sessions, simulated.events, control=control
    )
    assert set(results["variantId"]) == set(lifts)
    ax = plots.plot_experiment(results, names=names)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    colors = [mpl.colors.to_hex(c.lines[0].get_color()) for c in bars]
    for i, row in enumerate(results.itertuples(index=False)):
        variant = int(row.variantId)
        if row.is_control:
            continue
        if lifts[variant] > 1:
            assert row.lift_low > 0, row  # real +30 %: the interval excludes zero
            assert 0.1 < row.lift < 0.6
            assert colors[i] == plots.PALETTE[2].lower()
        else:
            assert row.lift_low < 0 < row.lift_high, row  # no effect: it includes zero
    assert "Store Redesign · New Store" in [t.get_text() for t in ax.get_yticklabels()]


def test_session_lengths_leave_out_long_sessions(simulated: SimpleNamespace) -> None:
    sessions = simulated.sessions
    assert (sessions["duration"] > 8 * 3600).sum() > 0  # the generator makes some
    lengths = metrics.session_lengths(sessions)
    assert lengths.max() <= 8 * 3600
    ax = plots.plot_session_lengths(lengths)
    assert sum(p.get_height() for p in ax.patches) == len(lengths)


def test_funnel_messages_and_platforms(simulated: SimpleNamespace) -> None:
    steps = ["Open Store", "View Item", "Add To Cart", "Purchase"]
    funnel = metrics.funnel(simulated.events, simulated.sessions, steps)
    widths = [p.get_width() for p in plots.plot_funnel(funnel).patches]
    assert widths == sorted(widths, reverse=True) and widths[-1] > 0
    assert widths[-1] < 0.5 * widths[0]  # many start, few finish

    messages = metrics.message_stats(simulated.events)
    assert set(messages["messageId"]) == set(simulated.gen.message_ids())
    assert messages["open_rate"].between(0.05, 0.9).all()

    platforms = metrics.breakdown(simulated.sessions, "client")
    assert len(platforms) == 3 and platforms["share"].sum() == pytest.approx(1.0)


def test_overview_of_a_simulated_export(simulated: SimpleNamespace) -> None:
    fig = plots.plot_overview(simulated)
    titles = {ax.get_title(loc="left") for ax in fig.axes}
    assert {"Active users", "Revenue", "Experiments: purchase conversion"} <= titles
    revenue_ax = next(ax for ax in fig.axes if ax.get_title(loc="left") == "Revenue")
    purchases = simulated.events[simulated.events["eventName"] == "Purchase"]
    drawn = sum(p.get_height() for p in revenue_ax.patches)
    assert drawn == pytest.approx(purchases["value"].fillna(0).sum())


def test_overview_of_28_days_shows_only_complete_windows(simulated: SimpleNamespace) -> None:
    # the demo's export length: no complete 30-day window, and only a few cohorts reach the
    # last days, so the overview must neither draw MAU nor end its retention curve on a spike
    s = simulated.sessions
    cutoff = metrics.local_times(s["start"]).max().normalize() - pd.Timedelta(days=27)
    keep = (metrics.local_times(s["start"]) >= cutoff).to_numpy()
    short = SimpleNamespace(
        sessions=s.loc[keep], events=simulated.events, experiments=simulated.experiments.iloc[:0]
    )
    fig = plots.plot_overview(short)
    by_title = {ax.get_title(loc="left"): ax for ax in fig.axes}
    active = by_title["Active users"]
    assert [line.get_label() for line in active.get_lines()] == ["WAU (7 days)", "DAU"]
    wau = active.get_lines()[0].get_ydata()
    assert np.isnan(wau[:6]).all() and not np.isnan(wau[6:]).any()

    sticky = by_title["Stickiness (DAU / WAU)"]
    ratio = sticky.get_lines()[0].get_ydata()
    assert len(ratio) == 28 - 6
    # DAU / WAU of this generator sits far below the 100 % a partial window starts at
    assert ratio.min() > 0.1 and ratio.max() < 0.6

    curve = by_title["Daily retention"].get_lines()[-1]
    periods = curve.get_xdata().astype(int)
    table = metrics.retention(short.sessions, max_periods=30)
    seen = table.drop(columns="cohort_size").notna().sum()
    assert periods.max() < 27 and all(seen[p] >= 3 for p in periods)
    assert (curve.get_ydata()[1:] > 0.02).all()  # no drop to 0 on a lone cohort
