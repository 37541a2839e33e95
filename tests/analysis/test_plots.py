"""Each chart on the Agg backend: what was drawn (bar heights, line data, labels, titles)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from leanplum_notebook import metrics, plots


def days(n: int) -> pd.Series:
    return pd.Series(pd.date_range("2026-01-05", periods=n, freq="D"))


def bar_heights(ax: Axes) -> list[float]:
    return [float(p.get_height()) for p in ax.patches]


def bar_widths(ax: Axes) -> list[float]:
    return [float(p.get_width()) for p in ax.patches]


def texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def ytick_labels(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


@pytest.fixture
def engagement() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": days(3),
            "dau": [5, 7, 6],
            "wau": [5, 9, 10],
            "mau": [5, 9, 12],
            "stickiness": [1.0, 7 / 9, 0.5],
        }
    )


def test_active_users_lines(engagement: pd.DataFrame) -> None:
    ax = plots.plot_active_users(engagement, skip_partial=False)
    assert ax.get_title(loc="left") == "Active users"
    assert ax.get_ylabel() == "users"
    assert ax.get_xlabel() == "day (Pacific)"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"DAU", "WAU (7 days)", "MAU (30 days)"}
    assert lines["DAU"].get_ydata().tolist() == [5, 7, 6]
    assert lines["MAU (30 days)"].get_ydata().tolist() == [5, 9, 12]
    x = mdates.num2date(lines["DAU"].get_xdata(orig=False))
    assert [d.date().isoformat() for d in x] == ["2026-01-05", "2026-01-06", "2026-01-07"]
    ax.figure.canvas.draw()
    assert all(t.get_text().endswith(" Jan") for t in ax.get_xticklabels() if t.get_text())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "MAU (30 days)",
        "WAU (7 days)",
        "DAU",
    ]


def test_active_users_hide_partial_windows() -> None:
    n = 40
    data = pd.DataFrame(
        {"day": days(n), "dau": np.ones(n), "wau": np.full(n, 2.0), "mau": np.full(n, 3.0)}
    )
    lines = {line.get_label(): line.get_ydata() for line in plots.plot_active_users(data).lines}
    assert np.isnan(lines["WAU (7 days)"][:6]).all() and (lines["WAU (7 days)"][6:] == 2).all()
    assert np.isnan(lines["MAU (30 days)"][:29]).all() and (lines["MAU (30 days)"][29:] == 3).all()
    assert not np.isnan(lines["DAU"]).any()
    shown = plots.plot_active_users(data, skip_partial=False).lines
    assert not any(np.isnan(line.get_ydata()).any() for line in shown)


def test_active_users_without_a_complete_window_say_so(engagement: pd.DataFrame) -> None:
    # 3 days of data: no 7-day or 30-day window lies inside it, so only DAU is drawn
    ax = plots.plot_active_users(engagement)
    assert [line.get_label() for line in ax.get_lines()] == ["DAU"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "MAU: needs 30 days of data",
        "WAU: needs 7 days of data",
        "DAU",
    ]


def test_active_users_windows_follow_data_days() -> None:
    # the last 12 of 40 days (data_days 29..40): MAU is complete from the 2nd row, WAU on all
    n = 12
    data = pd.DataFrame(
        {
            "day": days(n),
            "dau": np.ones(n),
            "wau": np.full(n, 2.0),
            "mau": np.full(n, 3.0),
            "data_days": np.arange(29, 29 + n),
        }
    )
    lines = {line.get_label(): line.get_ydata() for line in plots.plot_active_users(data).lines}
    assert np.isnan(lines["MAU (30 days)"][0]) and (lines["MAU (30 days)"][1:] == 3).all()
    assert (lines["WAU (7 days)"] == 2).all()


def test_active_users_from_active_users_frame() -> None:
    data = pd.DataFrame({"period": days(2), "active_users": [3, 4]})
    ax = plots.plot_active_users(data)
    assert [line.get_ydata().tolist() for line in ax.get_lines()] == [[3, 4]]


def test_stickiness_percent_axis(engagement: pd.DataFrame) -> None:
    ax = plots.plot_stickiness(engagement, skip_partial=False)
    main = ax.get_lines()[0]
    np.testing.assert_allclose(main.get_ydata(), [1.0, 7 / 9, 0.5])
    mean_line = ax.get_lines()[1]
    assert mean_line.get_ydata()[0] == pytest.approx((1 + 7 / 9 + 0.5) / 3)
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    assert ax.get_ylabel() == "DAU / MAU (%)"
    long = pd.DataFrame({"day": days(40), "stickiness": np.linspace(0, 1, 40)})
    shown = plots.plot_stickiness(long).get_lines()[0].get_ydata()
    assert len(shown) == 11  # the 29 days with a partial 30-day window are left out
    np.testing.assert_allclose(shown, np.linspace(0, 1, 40)[29:])
    # 3 days: not even one complete week
    three = plots.plot_stickiness(engagement.assign(dau_wau=[1.0, 7 / 9, 0.6]))
    assert texts(three) == ["not enough data: needs 7 days"]
    assert texts(plots.plot_stickiness(engagement)) == ["not enough data: DAU / MAU needs 30 days"]


def test_stickiness_falls_back_to_dau_wau_before_30_days(build: Any) -> None:
    # 10 days; user u0 every day, u1 every other day, u2 on days 0 and 9 only
    t0 = pd.Timestamp("2026-01-05T18:00:00Z")
    active = {"u0": range(10), "u1": range(0, 10, 2), "u2": [0, 9]}
    rows = [
        {"sessionId": 100 * i + d, "userId": u, "start": (t0 + pd.Timedelta(days=d)).isoformat()}
        for i, (u, ds) in enumerate(active.items())
        for d in ds
    ]
    eng = metrics.engagement(build("sessions", rows))
    ax = plots.plot_stickiness(eng)
    assert ax.get_title(loc="left") == "Stickiness (DAU / WAU)"
    assert ax.get_ylabel() == "DAU / WAU (%)"
    main, mean_line = ax.get_lines()
    assert main.get_label() == "DAU / WAU (7-day windows; < 30 days of data)"
    # days 6..9 (complete weeks): DAU 2, 1, 2, 2 of WAU 3 (u2's day 0 still in), 2, 2, 3
    np.testing.assert_allclose(main.get_ydata(), [2 / 3, 0.5, 1.0, 2 / 3])
    x = mdates.num2date(main.get_xdata(orig=False))
    assert [d.date().isoformat() for d in x] == [
        "2026-01-11",
        "2026-01-12",
        "2026-01-13",
        "2026-01-14",
    ]
    assert mean_line.get_ydata()[0] == pytest.approx((2 / 3 + 0.5 + 1 + 2 / 3) / 4)
    assert [t.get_text() for t in ax.get_legend().get_texts()][1] == "mean 70.8%"


def test_new_users_bars() -> None:
    ax = plots.plot_new_users(pd.DataFrame({"day": days(4), "new_users": [3, 0, 8, 2]}))
    assert bar_heights(ax) == [3, 0, 8, 2]
    assert ax.get_title(loc="left") == "New users"
    assert ax.get_ylabel() == "new users"


def test_session_length_histogram() -> None:
    lengths = pd.Series([0.0, 30.0, 60.0, 120.0, 600.0, 3600.0], name="duration")
    ax = plots.plot_session_lengths(lengths)
    assert sum(bar_heights(ax)) == 6  # every session lands in a bin, the 0 s one included
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "session length (minutes, log scale)"
    assert ax.get_ylabel() == "sessions"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["median 1.5 min"]
    assert ax.get_lines()[0].get_xdata()[0] == pytest.approx(1.5)
    linear = plots.plot_session_lengths(lengths, log=False, bins=6)
    assert len(linear.patches) == 6 and linear.get_xscale() == "linear"


@pytest.fixture
def retention_table() -> pd.DataFrame:
    table = pd.DataFrame(
        [[2, 1.0, 0.5, 0.25], [4, 1.0, 0.75, np.nan]],
        index=pd.DatetimeIndex(["2026-01-05", "2026-01-06"], name="cohort"),
        columns=["cohort_size", 0, 1, 2],
    )
    table["cohort_size"] = table["cohort_size"].astype("int64")
    return table


def test_retention_heatmap(retention_table: pd.DataFrame) -> None:
    ax = plots.plot_retention_heatmap(retention_table)
    image = ax.get_images()[0]
    cells = image.get_array()
    assert cells is not None
    np.testing.assert_allclose(cells[0], [1.0, 0.5, 0.25])
    assert bool(np.ma.getmaskarray(cells)[1, 2])  # unseen cell left blank
    assert texts(ax) == ["100%", "50%", "25%", "100%", "75%"]
    assert ytick_labels(ax) == ["Jan 05 (n=2)", "Jan 06 (n=4)"]
    assert ax.get_xlabel() == "days since first run"
    assert ax.get_title(loc="left") == "Retention by cohort"
    assert len(ax.figure.axes) == 2  # the colorbar
    wider = retention_table.assign(**{"3": np.nan}).rename(columns={"3": 3})
    trimmed = plots.plot_retention_heatmap(wider, colorbar=False)
    image_cells = trimmed.get_images()[0].get_array()
    assert image_cells is not None and image_cells.shape == (2, 3)  # empty period 3 left out
    assert len(trimmed.figure.axes) == 1


def test_retention_curves(retention_table: pd.DataFrame) -> None:
    ax = plots.plot_retention_curves(retention_table)
    average = ax.get_lines()[-1]
    assert average.get_label() == "all cohorts (weighted)"
    # period 2 rests on the first cohort alone: left out of the average (metrics' floor)
    np.testing.assert_allclose(average.get_ydata(), [1.0, (1 + 3) / 6])
    singles = ax.get_lines()[:-1]
    assert [line.get_ydata().tolist() for line in singles] == [[1.0, 0.75], [1.0, 0.5, 0.25]]
    assert ax.get_ylabel() == "users retained (%)"
    curve_only = plots.plot_retention_curves(metrics.retention_curve(retention_table))
    assert len(curve_only.get_lines()) == 1


def test_funnel_bars() -> None:
    data = pd.DataFrame(
        {
            "step": ["A", "B", "C"],
            "users": [4, 3, 2],
            "conversion": [1.0, 0.75, 0.5],
            "drop_off": [0.0, 0.25, 1 / 3],
        }
    )
    ax = plots.plot_funnel(data)
    assert bar_widths(ax) == [4, 3, 2]
    assert ytick_labels(ax) == ["1. A", "2. B", "3. C"]
    assert texts(ax) == [
        "4 · 100% of step 1",
        "3 · 75% of step 1 · 25% fewer than step 1",
        "2 · 50% of step 1 · 33% fewer than step 2",
    ]
    assert ax.yaxis_inverted()
    assert ax.get_xlabel() == "users"


@pytest.mark.parametrize(
    "users", [[3127, 2790, 1917, 875], [3127, 3126, 3125, 3124], [10, 1, 1, 1]]
)
def test_bar_labels_end_inside_the_axes(users: list[int]) -> None:
    """The report's funnel: "2.8k · 89% of step 1 · 11% fewer than step 1" ran past the
    axes to the edge of the image. Each label must end inside the axes frame, on bars as
    long as the longest."""
    n = len(users)
    data = pd.DataFrame(
        {
            "step": ["Open Store", "View Item", "Add To Cart", "Purchase"][:n],
            "users": users,
            "conversion": [u / users[0] for u in users],
            "drop_off": [0.0] + [1 - b / a for a, b in itertools.pairwise(users)],
        }
    )
    for ax in (
        plots.plot_funnel(data),
        plots.plot_top_events(
            pd.DataFrame({"eventName": data["step"], "count": data["users"], "users": users})
        ),
    ):
        fig = ax.get_figure()
        assert fig is not None
        fig.canvas.draw()
        frame = ax.get_window_extent()
        for label in ax.texts:
            box = label.get_window_extent()
            assert box.x0 >= frame.x0 and box.x1 <= frame.x1 - 2, (label.get_text(), box, frame)
        # and the bars still use most of the width: the labels did not squash them
        assert max(bar_widths(ax)) / ax.get_xlim()[1] > 0.4
        plt.close(fig)


def test_top_events_bars() -> None:
    data = pd.DataFrame(
        {"eventName": ["Tap", "Buy"], "count": [1500, 20], "sessions": [9, 2], "users": [5, 2]}
    )
    ax = plots.plot_top_events(data)
    assert bar_widths(ax) == [1500, 20]
    assert ytick_labels(ax) == ["Tap", "Buy"]
    assert texts(ax) == ["1.5k · 5 users", "20 · 2 users"]
    assert ax.get_title(loc="left") == "Top events"


def test_breakdown_bars() -> None:
    data = pd.DataFrame({"client": ["ios", "web"], "users": [3, 1], "share": [0.75, 0.25]})
    ax = plots.plot_breakdown(data)
    assert bar_widths(ax) == [3, 1]
    assert ytick_labels(ax) == ["ios", "web"]
    assert texts(ax) == ["3 · 75%", "1 · 25%"]
    assert ax.get_title(loc="left") == "Users by client"
    assert ax.get_xlabel() == "users"


def test_revenue_bars_and_arpdau() -> None:
    data = pd.DataFrame(
        {
            "day": days(2),
            "revenue": [10.0, 1.0],
            "paying_users": [2, 1],
            "active_users": [4, 1],
            "arpdau": [2.5, 1.0],
            "arppu": [5.0, 1.0],
        }
    )
    ax = plots.plot_revenue(data)
    assert bar_heights(ax) == [10.0, 1.0]
    assert ax.get_ylabel() == "revenue per day ($)"
    twin = ax.arpdau_axes  # type: ignore[attr-defined]
    assert twin.get_lines()[0].get_ydata().tolist() == [2.5, 1.0]
    assert twin.get_ylabel() == "ARPDAU ($)"
    assert len(ax.figure.axes) == 2


def test_experiment_error_bars() -> None:
    data = pd.DataFrame(
        {
            "experimentId": [1, 1, 2, 2],
            "variantId": [10, 11, 20, 21],
            "is_control": [True, False, True, False],
            "users": [100] * 4,
            "converters": [10, 20, 10, 11],
            "conversion": [0.1, 0.2, 0.1, 0.11],
            "conversion_low": [0.05, 0.13, 0.05, 0.06],
            "conversion_high": [0.17, 0.29, 0.17, 0.19],
            "lift": [0.0, 1.0, 0.0, 0.1],
            "lift_low": [np.nan, 0.2, np.nan, -0.4],
            "lift_high": [np.nan, 2.3, np.nan, 1.2],
        }
    )
    ax = plots.plot_experiment(data)
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 4
    points = [float(c.lines[0].get_xdata()[0]) for c in bars]
    assert points == [0.1, 0.2, 0.1, 0.11]
    segments = bars[1].lines[2][0].get_segments()
    assert [float(v) for v in segments[0][:, 0]] == pytest.approx([0.13, 0.29])
    colors = [mpl.colors.to_hex(c.lines[0].get_color()) for c in bars]
    assert colors[1] == plots.PALETTE[2].lower()  # significant: green
    assert colors[3] == plots.PALETTE[0].lower()  # interval includes 0
    assert texts(ax) == ["lift +100% [+20%, +230%]", "lift +10% [-40%, +120%]"]
    assert ytick_labels(ax)[0] == "exp 1 · var 10 (control)"
    assert ax.get_xlabel() == "conversion rate (%), 95% interval"
    with pytest.raises(ValueError, match="metric must be"):
        plots.plot_experiment(data, metric="nope")


def experiment_rows(exp_ids: list[int], var_ids: list[int], controls: list[bool]) -> pd.DataFrame:
    n = len(exp_ids)
    return pd.DataFrame(
        {
            "experimentId": pd.Series(exp_ids, dtype="int64"),
            "variantId": pd.Series(var_ids, dtype="int64"),
            "is_control": controls,
            "conversion": [0.2] * n,
            "conversion_low": [0.15] * n,
            "conversion_high": [0.25] * n,
            "lift": [0.0 if c else 0.1 for c in controls],
            "lift_low": [np.nan if c else -0.003 for c in controls],
            "lift_high": [np.nan if c else 0.25 for c in controls],
        }
    )


def test_experiment_labels_shorten_long_ids() -> None:
    exp = 1069695192193498755
    a, b, c = 5042043274363176777, 7353085735960176777, -9223372036854775807
    data = experiment_rows([exp] * 3, [a, b, c], [True, False, False])
    ax = plots.plot_experiment(data)
    # a and b end in the same 6 digits (176777): every variant then shows 7 digits
    assert ytick_labels(ax) == [
        "exp …498755 · var …3176777\n(control)",
        "exp …498755 · var …0176777",
        "exp …498755 · var -…4775807",
    ]
    assert texts(ax)[0] == "lift +10% [-0.3%, +25%]"  # never "-0%"
    named = plots.plot_experiment(data, names={exp: "Store"}, wrap=0)
    assert ytick_labels(named)[0] == "Store · var …3176777 (control)"
    whole = plots.plot_experiment(data, short_ids=False, wrap=0)
    assert ytick_labels(whole)[2] == f"exp {exp} · var {c}"


def test_plots_draw_only_on_the_given_axes(engagement: pd.DataFrame) -> None:
    _fig, (left, right) = plt.subplots(1, 2)
    current = plt.gca()
    before_figs = plt.get_fignums()
    rc_before = dict(mpl.rcParams)
    returned = plots.plot_active_users(engagement, ax=left, title="Mine")
    assert returned is left
    assert left.get_title(loc="left") == "Mine"
    assert plt.get_fignums() == before_figs  # no new figure
    assert not right.lines and not right.patches and right.get_title(loc="left") == ""
    assert dict(mpl.rcParams) == rc_before  # the style did not leak
    assert plt.gca() is current  # pyplot's current Axes not replaced


def test_new_figure_only_without_ax(engagement: pd.DataFrame) -> None:
    count = len(plt.get_fignums())
    plots.plot_active_users(engagement)
    assert len(plt.get_fignums()) == count + 1


@pytest.mark.parametrize(
    "func",
    [
        plots.plot_active_users,
        plots.plot_stickiness,
        plots.plot_new_users,
        plots.plot_retention_heatmap,
        plots.plot_retention_curves,
        plots.plot_funnel,
        plots.plot_top_events,
        plots.plot_revenue,
        plots.plot_experiment,
        plots.plot_breakdown,
    ],
)
def test_empty_data_says_so(func: Any) -> None:
    ax = func(pd.DataFrame())
    assert "no data" in texts(ax)


def test_empty_session_lengths() -> None:
    assert "no data" in texts(plots.plot_session_lengths(pd.Series([], dtype="float64")))


def test_overview_on_small_tables(build: Any) -> None:
    t0 = pd.Timestamp("2026-01-05T18:00:00Z")
    sessions = build(
        "sessions",
        [
            {
                "sessionId": i,
                "userId": f"u{i % 3}",
                "start": (t0 + pd.Timedelta(days=i)).isoformat(),
                "userStart": t0.isoformat(),
                "duration": 60.0 * (i + 1),
                "isSession": True,
                "client": "ios" if i % 2 else "android",
            }
            for i in range(6)
        ],
    )
    events = build(
        "events",
        [
            {
                "eventId": 1,
                "stateId": 1,
                "sessionId": 1,
                "eventName": "Purchase",
                "start": (t0 + pd.Timedelta(days=1)).isoformat(),
                "value": 2.0,
            }
        ],
    )
    tables = SimpleNamespace(sessions=sessions, events=events, experiments=build("experiments", []))
    fig = plots.plot_overview(tables)
    assert isinstance(fig, Figure)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    for expected in (
        "Active users",
        "New users",
        "Weekly retention by cohort",
        "Daily retention",
        "Session length",
        "Revenue",
        "Users by platform",
    ):
        assert expected in titles
    assert fig.get_suptitle().startswith("Leanplum export overview: Jan 05, 2026 to Jan 10, 2026")
    revenue_ax = next(ax for ax in fig.axes if ax.get_title(loc="left") == "Revenue")
    assert sum(bar_heights(revenue_ax)) == 2.0


def test_overview_layout_survives_long_experiment_labels(build: Any) -> None:
    t0 = pd.Timestamp("2026-01-05T18:00:00Z")
    sessions = build(
        "sessions",
        [
            {
                "sessionId": i,
                "userId": f"u{i % 5}",
                "start": (t0 + pd.Timedelta(days=i % 10, hours=i % 7)).isoformat(),
                "userStart": t0.isoformat(),
                "duration": 60.0,
                "isSession": True,
                "client": "ios",
            }
            for i in range(40)
        ],
    )
    variants = [5042043274363176777, 7353085735960004700, 8207892956511066012]
    experiments = build(
        "experiments",
        [
            {"experimentId": 1069695192193498755, "sessionId": i, "variantId": variants[i % 3]}
            for i in range(40)
        ],
    )
    tables = SimpleNamespace(sessions=sessions, events=build("events", []), experiments=experiments)
    names = {v: f"a long descriptive variant name number {k}" for k, v in enumerate(variants)}
    for kw in ({}, {"names": names}):
        fig = plots.plot_overview(tables, **kw)
        fig.canvas.draw()
        by_title = {ax.get_title(loc="left"): ax for ax in fig.axes}
        width = {t: ax.get_position().width for t, ax in by_title.items()}
        # the top row keeps its panels about as wide as each other; the long labels of the
        # experiment panel (bottom row) do not take room from the active-users panel
        assert width["Active users"] > 0.8 * width["New users"], kw
        assert width["Active users"] > 0.2, kw
        experiment = by_title["Experiments: purchase conversion"]
        labels = [t.get_text() for t in experiment.get_yticklabels()]
        assert all(len(line) <= 30 for label in labels for line in label.split("\n")), labels
        plt.close(fig)


def test_percent_ticks_are_whole_percents() -> None:
    # on a 0-21 % range the default locator ticks every 2.5 %, which "0 decimals" would print
    # as 2%, 5%, 8%...: each label must be the exact value of its tick
    n = 40
    sticky = pd.DataFrame({"day": days(n), "stickiness": np.linspace(0.13, 0.205, n)})
    exp = experiment_rows([1] * 3, [10, 11, 12], [True, False, False])
    exp["conversion"] = [0.28, 0.32, 0.36]
    exp["conversion_low"] = [0.24, 0.27, 0.3]
    exp["conversion_high"] = [0.33, 0.38, 0.43]
    for ax, axis in ((plots.plot_stickiness(sticky), "y"), (plots.plot_experiment(exp), "x")):
        ax.figure.canvas.draw()
        target = ax.yaxis if axis == "y" else ax.xaxis
        low, high = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
        ticks = [t for t in target.get_major_ticks() if low <= t.get_loc() <= high]
        assert len(ticks) >= 3
        for tick in ticks:
            percent = tick.get_loc() * 100
            assert percent == pytest.approx(round(percent), abs=1e-9)
            assert tick.label1.get_text() == f"{round(percent)}%"


def test_day_axes_name_the_month_of_every_tick() -> None:
    """A range from mid-November read "08 15 22 Dec" over "2026-Dec" (issue 16)."""
    days = pd.date_range("2026-11-05", "2026-12-02")
    n = len(days)
    frame = pd.DataFrame(
        {"day": days, "dau": np.arange(n), "wau": np.arange(n), "mau": np.arange(n)}
    )
    ax = plots.plot_active_users(frame)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(len(label.split()) == 2 for label in labels), labels
    assert labels[0].endswith("Nov") and labels[-1].endswith("Dec")
    assert ax.xaxis.get_offset_text().get_text() == "2026"


def test_retention_colours_are_scaled_to_the_later_periods(retention_table: pd.DataFrame) -> None:
    """Period 0 is 100 % by definition; scaled to it, the heatmap was washed out."""
    ax = plots.plot_retention_heatmap(retention_table)
    later = retention_table[[c for c in retention_table.columns if c not in ("cohort_size", 0)]]
    top = float(np.nanmax(later.to_numpy(dtype=float)))
    assert ax.images[0].get_clim() == (0.0, pytest.approx(top))
    assert top < 1.0


def _tick_value(text: str) -> float:
    text = text.replace("\u2212", "-").lstrip("$")
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 1.0)
    return float(text[:-1] if scale != 1.0 else text) * scale


@pytest.mark.parametrize("top", [1300, 1340, 2_600, 17_500, 1_234_000])
def test_every_count_tick_reads_its_exact_value(top: int) -> None:
    """With one decimal, ticks at 1,050 / 1,200 / 1,350 read '1.1k 1.2k 1.4k' (and 1,250
    read '1.2k' on another chart): a label must parse back to the value it marks."""
    data = pd.DataFrame(
        {
            "country": ["US", "IN", "BR"],
            "users": [top, top // 4, top // 5],
            "share": [0.6, 0.2, 0.2],
        }
    )
    ax = plots.plot_breakdown(data)
    ax.get_figure(root=True).draw_without_rendering()  # type: ignore[union-attr]
    ticks = [(t.get_position()[0], t.get_text()) for t in ax.get_xticklabels() if t.get_text()]
    assert len(ticks) >= 3
    for value, text in ticks:
        assert _tick_value(text) == pytest.approx(value), (value, text)


def test_revenue_ticks_read_their_exact_value() -> None:
    # a top of 1,800 ticks every 250: 1,250 and 1,750 need two decimals
    data = pd.DataFrame(
        {"day": days(5), "revenue": [1260.0, 1800.0, 1620.0, 1440.0, 900.0], "arpdau": 0.5}
    )
    ax = plots.plot_revenue(data, arpdau=False)
    ax.get_figure(root=True).draw_without_rendering()  # type: ignore[union-attr]
    ticks = [(t.get_position()[1], t.get_text()) for t in ax.get_yticklabels() if t.get_text()]
    assert len(ticks) >= 3 and all(text.startswith("$") for _, text in ticks), ticks
    for value, text in ticks:
        assert _tick_value(text) == pytest.approx(value), (value, text)
