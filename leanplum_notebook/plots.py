"""Ready-made charts of the metrics (object-oriented matplotlib, static images).

Each ``plot_x(data, *, ax=None, **kw) -> Axes`` draws one metric from
:mod:`leanplum_notebook.metrics` on ``ax``; it creates a figure (``plt.subplots``) only when
``ax`` is None, draws on no other Axes (except a twin it creates itself), and leaves
pyplot's global state alone: the house style (:data:`STYLE`) is applied with
``matplotlib.rc_context`` inside each call. Computation stays in ``metrics``; these functions
only draw. Empty data gives an Axes saying "no data" rather than an error.

Common keywords: ``title`` (str) replaces the default title; ``color`` the main colour.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Mapping
from typing import Any, Literal, ParamSpec, Protocol, TypeVar, cast

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator, PercentFormatter

from leanplum_notebook.analysis import metrics
from leanplum_notebook.redaction import get_logger

logger = get_logger(__name__)

__all__ = [
    "PALETTE",
    "STYLE",
    "plot_active_users",
    "plot_breakdown",
    "plot_experiment",
    "plot_funnel",
    "plot_new_users",
    "plot_overview",
    "plot_retention_curves",
    "plot_retention_heatmap",
    "plot_revenue",
    "plot_session_lengths",
    "plot_stickiness",
    "plot_top_events",
]

#: Colour-blind-safe palette (Okabe-Ito), in the order series are drawn.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
_GREY = "#8C8C8C"

#: The house style, applied with ``rc_context`` inside every plotting call (never globally).
STYLE: dict[str, Any] = {
    "figure.figsize": (8.0, 4.5),
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.edgecolor": "#444444",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 10,
    "axes.labelsize": 10,
    "axes.labelcolor": "#333333",
    "axes.prop_cycle": cycler(color=PALETTE),
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 1.8,
    "font.size": 10,
    "savefig.dpi": 100,
    "savefig.facecolor": "white",
}

P = ParamSpec("P")
R = TypeVar("R")


def _styled(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` under the house style without touching global rcParams."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context(cast(Any, STYLE)):
            return func(*args, **kwargs)

    return wrapper


def _axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize or STYLE["figure.figsize"], layout="constrained")
    # an Axes made elsewhere did not get the style at creation: set the visible parts here
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.set_axisbelow(True)
    return ax


def _ygrid(ax: Axes, axis: Literal["x", "y"] = "y") -> None:
    ax.grid(False)
    ax.grid(True, axis=axis, color=STYLE["grid.color"], linewidth=STYLE["grid.linewidth"])


class _DayFormatter(Formatter):
    """Day ticks that name their month ("08 Nov", "01 Dec"), the year once in the offset.

    Matplotlib's concise formatter writes only the day under most ticks and the month only
    where one begins, so a range from mid-November read "08 15 22 Dec" over "2026-Dec".
    """

    def __call__(self, x: float, pos: int | None = None) -> str:
        lo, hi = self.axis.get_view_interval() if self.axis is not None else (x, x)
        day = mdates.num2date(x)
        return day.strftime("%b %Y" if hi - lo > 120 else "%d %b")

    def get_offset(self) -> str:
        if self.axis is None:
            return ""
        lo, hi = sorted(self.axis.get_view_interval())
        years = sorted({mdates.num2date(lo).year, mdates.num2date(hi).year})
        return "" if hi - lo > 120 else "-".join(str(y) for y in years)


def _date_axis(ax: Axes, xlabel: str) -> None:
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
    ax.xaxis.set_major_formatter(_DayFormatter())
    ax.set_xlabel(xlabel)


def _no_data(ax: Axes, title: str, message: str = "no data") -> Axes:
    ax.set_title(title, loc="left")
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=_GREY)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _headroom(ax: Axes, factor: float = 1.15) -> None:
    """y from 0 with room above the data for a legend in the top corner."""
    top = ax.dataLim.y1 if np.isfinite(ax.dataLim.y1) else 1.0
    ax.set_ylim(0, max(top, 1e-9) * factor)


def _percent_axis(target: Any) -> None:
    """Fractions shown as whole percents, ticked only where a whole percent is exact.

    The default locator may tick every 2.5 %, which a 0-decimal formatter prints as "8%"
    for 7.5 %: ticks on steps of 1, 2, 5 or 10 (in percent) avoid that.
    """
    target.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 5, 10], min_n_ticks=3))
    target.set_major_formatter(PercentFormatter(xmax=1, decimals=0))


def _int_axis(ax: Axes, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(integer=True))
    target.set_major_formatter(_HumanTicks())


_UNITS = ((1e9, "G"), (1e6, "M"), (1e3, "k"))


def _human(v: float, decimals: int = 1) -> str:
    """1234 -> '1.2k', 2500000 -> '2.5M' (``decimals`` after the point, trailing zeros cut)."""
    a = abs(v)
    for div, suffix in _UNITS:
        if a >= div:
            text = f"{v / div:.{decimals}f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{v:g}"


class _HumanTicks(Formatter):
    """Ticks in k/M/G with as many decimals as the ticks need to be exact: 1,250 and 1,350
    read '1.25k' and '1.35k' (one decimal printed them '1.2k' and '1.4k', beside a '1.2k'
    for 1,200)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.decimals = 1

    def set_locs(self, locs: Any) -> None:
        # matplotlib calls this with every tick before it formats them
        super().set_locs(locs)
        self.decimals = _tick_decimals([float(v) for v in locs])

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.prefix + _human(x, self.decimals)


def _tick_decimals(locs: list[float]) -> int:
    """The fewest decimals (1 to 3) at which every tick's k/M/G figure is exact."""
    for decimals in (1, 2, 3):
        exact = True
        for v in locs:
            div = next((d for d, _ in _UNITS if abs(v) >= d), 1.0)
            scaled = v / div * 10**decimals
            exact = exact and abs(scaled - round(scaled)) < 1e-6
        if exact:
            return decimals
    return 3


def _dates(col: pd.Series) -> np.ndarray:
    return pd.to_datetime(col).to_numpy()


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; got {list(df.columns)}")


# --------------------------------------------------------------------------- activity


def _data_days(data: pd.DataFrame) -> np.ndarray:
    """Days of data each row's trailing window can see (``engagement``'s ``data_days``).

    A frame without the column (built by hand) is taken to start on the data's first day.
    """
    if "data_days" in data.columns:
        return data["data_days"].to_numpy(dtype="int64")
    return np.arange(1, len(data) + 1, dtype="int64")


@_styled
def plot_active_users(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "day (Pacific)",
    skip_partial: bool = True,
    **kw: Any,
) -> Axes:
    """Daily, weekly and monthly active users over time.

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.engagement` output (``day``, ``dau``, ``wau``, ``mau``, optionally
        ``data_days``), or :func:`metrics.active_users` output (``period``,
        ``active_users``).
    ax : Axes, optional
        Where to draw; a new figure when None.
    title, xlabel : str
        Title and x-axis label.
    skip_partial : bool
        Draw WAU (MAU) only on days whose 7 (30) day window lies inside the data
        (``data_days``; without it, from the 7th (30th) row): an earlier window reaches back
        before the data and undercounts. With less than 30 days of data there is no MAU line,
        and the legend says so.
    **kw
        Passed to ``Axes.plot``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    title = title or "Active users"
    if data.empty:
        return _no_data(ax, title)
    if "dau" in data.columns:
        x = _dates(data["day"])
        seen = _data_days(data)
        series = [
            ("mau", "MAU (30 days)", PALETTE[2], 30),
            ("wau", "WAU (7 days)", PALETTE[1], 7),
            ("dau", "DAU", PALETTE[0], 1),
        ]
        handles: list[Any] = []
        for col, label, color, window in series:
            values = data[col].to_numpy(dtype=float)
            if skip_partial:
                complete = seen >= window
                if not complete.any():
                    # nothing honest to draw: say why in the legend instead of a line
                    handles.append(
                        Line2D(
                            [],
                            [],
                            linestyle="none",
                            label=f"{col.upper()}: needs {window} days of data",
                        )
                    )
                    continue
                values = np.where(complete, values, np.nan)
            (line,) = ax.plot(x, values, label=label, color=color, **kw)
            handles.append(line)
        ax.legend(handles=handles, loc="upper left", ncols=3)
    else:
        _require(data, ("period", "active_users"), "plot_active_users")
        ax.plot(
            _dates(data["period"]),
            data["active_users"].to_numpy(dtype=float),
            label="active users",
            color=kw.pop("color", PALETTE[0]),
            **kw,
        )
    _headroom(ax)
    ax.set_title(title, loc="left")
    ax.set_ylabel("users")
    _int_axis(ax)
    _date_axis(ax, xlabel)
    _ygrid(ax)
    return ax


@_styled
def plot_stickiness(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "day (Pacific)",
    skip_partial: bool = True,
    **kw: Any,
) -> Axes:
    """Stickiness (DAU / MAU) over time, in percent.

    Only days whose window lies inside the data are drawn: DAU / MAU from the 30th day of
    data. With less than 30 days (no complete 30-day window), the chart shows DAU / WAU over
    complete 7-day windows instead, and its title and legend say so; with less than 7 days
    it says there is not enough data.

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.engagement` output (``day``, ``stickiness``; ``dau_wau`` and
        ``data_days`` for the fallback and the window check; a frame without ``data_days``
        is taken to start on the data's first day).
    skip_partial : bool
        Leave out days whose window reaches back before the data (``False``: draw DAU / MAU
        on every day, partial windows included).
    **kw
        Passed to ``Axes.plot``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    if data.empty:
        return _no_data(ax, title or "Stickiness (DAU / MAU)")
    _require(data, ("day", "stickiness"), "plot_stickiness")
    seen = _data_days(data)
    column, name, window = "stickiness", "DAU / MAU", 30
    if skip_partial and not (seen >= 30).any():
        if "dau_wau" not in data.columns:
            # a hand-made frame without the DAU / WAU column: nothing honest to fall back on
            message = "not enough data: DAU / MAU needs 30 days"
            return _no_data(ax, title or "Stickiness (DAU / MAU)", message)
        if not (seen >= 7).any():
            return _no_data(ax, title or "Stickiness (DAU / WAU)", "not enough data: needs 7 days")
        column, name, window = "dau_wau", "DAU / WAU", 7
    title = title or f"Stickiness ({name})"
    if skip_partial:
        data = data.loc[seen >= window]
    values = data[column].to_numpy(dtype=float)
    label = name if window == 30 else f"{name} (7-day windows; < 30 days of data)"
    ax.plot(_dates(data["day"]), values, color=kw.pop("color", PALETTE[3]), label=label, **kw)
    mean = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    if np.isfinite(mean):
        ax.axhline(mean, color=_GREY, linestyle="--", linewidth=1, label=f"mean {mean:.1%}")
    _percent_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_title(title, loc="left")
    ax.set_ylabel(f"{name} (%)")
    ax.legend(loc="lower right")
    _date_axis(ax, xlabel)
    _ygrid(ax)
    return ax


@_styled
def plot_new_users(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "day of first run (Pacific)",
    **kw: Any,
) -> Axes:
    """New users per day (bars), by first run.

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.new_users` output (``day``, ``new_users``).
    **kw
        Passed to ``Axes.bar``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    title = title or "New users"
    if data.empty:
        return _no_data(ax, title)
    _require(data, ("day", "new_users"), "plot_new_users")
    ax.bar(
        _dates(data["day"]),
        data["new_users"].to_numpy(dtype=float),
        width=0.8,
        color=kw.pop("color", PALETTE[2]),
        **kw,
    )
    ax.set_title(title, loc="left")
    ax.set_ylabel("new users")
    _int_axis(ax)
    _date_axis(ax, xlabel)
    _ygrid(ax)
    return ax


@_styled
def plot_session_lengths(
    data: pd.Series,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    bins: int = 40,
    log: bool = True,
    **kw: Any,
) -> Axes:
    """Histogram of session lengths, in minutes.

    Parameters
    ----------
    data : Series
        :func:`metrics.session_lengths` output (seconds).
    bins : int
        Number of bins.
    log : bool
        Log-spaced bins on a log x axis (session lengths are roughly log-normal); sessions
        shorter than 1 s are counted in the first bin.
    **kw
        Passed to ``Axes.hist``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    title = title or "Session length"
    minutes = pd.to_numeric(data, errors="coerce").dropna().to_numpy(dtype=float) / 60.0
    if minutes.size == 0:
        return _no_data(ax, title)
    if log:
        low = 1.0 / 60.0
        high = max(float(minutes.max()), low * 10)
        edges = np.geomspace(low, high, bins + 1)
        ax.hist(
            np.clip(minutes, low, None), bins=list(edges), color=kw.pop("color", PALETTE[0]), **kw
        )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("session length (minutes, log scale)")
    else:
        ax.hist(minutes, bins=bins, color=kw.pop("color", PALETTE[0]), **kw)
        ax.set_xlabel("session length (minutes)")
    median = float(np.median(minutes))
    ax.axvline(
        median, color=PALETTE[5], linestyle="--", linewidth=1.2, label=f"median {median:.1f} min"
    )
    ax.legend(loc="upper right")
    ax.set_title(title, loc="left")
    ax.set_ylabel("sessions")
    _int_axis(ax)
    _ygrid(ax)
    return ax


# --------------------------------------------------------------------------- retention


def _period_word(index: pd.Index) -> str:
    if len(index) < 2:
        return "days"
    step = pd.Series(pd.to_datetime(index)).diff().dropna().min()
    if step >= pd.Timedelta(days=28):
        return "months"
    return "weeks" if step >= pd.Timedelta(days=7) else "days"


def _period_columns(table: pd.DataFrame) -> list[Any]:
    return [c for c in table.columns if c != "cohort_size"]


@_styled
def plot_retention_heatmap(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    annotate: bool | None = None,
    cmap: str = "Blues",
    colorbar: bool = True,
    **kw: Any,
) -> Axes:
    """Cohort retention heatmap: one row per cohort, one column per period N.

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.retention` output (index ``cohort``, ``cohort_size``, ``0..N``).
    annotate : bool, optional
        Write the percentage in each cell; default when the table is at most 16 x 16.
    cmap : str
        Colormap of the cells (0 % to 100 %, NaN cells left blank).
    colorbar : bool
        Add a colorbar (taking room from this Axes only).
    **kw
        Passed to ``Axes.imshow``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax, (9.0, 5.5))
    title = title or "Retention by cohort"
    if data.empty:
        return _no_data(ax, title)
    _require(data, ("cohort_size",), "plot_retention_heatmap")
    cols = _period_columns(data)
    values = data[cols].to_numpy(dtype=float)
    # periods no cohort has reached yet would only be empty columns
    seen_cols = np.flatnonzero(~np.isnan(values).all(axis=0))
    if seen_cols.size == 0:
        return _no_data(ax, title)
    cols = cols[: seen_cols[-1] + 1]
    values = values[:, : seen_cols[-1] + 1]
    word = _period_word(data.index)
    # period 0 is 100 % by definition: scaled to it, every later cell is washed out
    later = values[:, 1:]
    top = float(np.nanmax(later)) if later.size and not np.isnan(later).all() else 1.0
    image = ax.imshow(
        np.ma.masked_invalid(values),
        aspect="auto",
        cmap=cmap,
        vmin=0.0,
        vmax=max(top, 0.01),
        interpolation="nearest",
        **kw,
    )
    n_rows, n_cols = values.shape
    if annotate is None:
        annotate = n_rows <= 16 and n_cols <= 16
    if annotate:
        for i in range(n_rows):
            for j in range(n_cols):
                v = values[i, j]
                if np.isnan(v):
                    continue
                ax.text(
                    j,
                    i,
                    f"{v:.0%}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v > 0.55 else "#222222",
                )
    fmt = "%Y-%m" if word == "months" else "%b %d"
    labels = [
        f"{pd.Timestamp(c).strftime(fmt)} (n={int(s):,})"
        for c, s in zip(data.index, data["cohort_size"], strict=True)
    ]
    step = max(1, int(np.ceil(n_rows / 16)))
    ax.set_yticks(range(0, n_rows, step), labels[::step])
    xstep = max(1, int(np.ceil(n_cols / 16)))
    ax.set_xticks(range(0, n_cols, xstep), [str(c) for c in cols[::xstep]])
    ax.grid(False)
    ax.spines[["left", "bottom"]].set_visible(False)
    ax.tick_params(length=0)
    ax.set_title(title, loc="left")
    ax.set_xlabel(f"{word} since first run")
    ax.set_ylabel("cohort (size)")
    if colorbar:
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        bar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        bar.outline.set_visible(False)
    return ax


@_styled
def plot_retention_curves(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    cohorts: int = 8,
    **kw: Any,
) -> Axes:
    """Retention curves: the cohort-weighted average (bold) and the latest cohorts (thin).

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.retention` output, or :func:`metrics.retention_curve` output
        (``period``, ``retention``) for the average alone.
    cohorts : int
        How many of the most recent cohorts with at least two observed periods to draw
        thinly behind the average (0 for none).
    **kw
        Passed to ``Axes.plot`` for the average.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    title = title or "Retention"
    if data.empty:
        return _no_data(ax, title)
    if "cohort_size" in data.columns:
        curve = metrics.retention_curve(data)
        word = _period_word(data.index)
        cols = _period_columns(data)
        shown = 0
        for cohort in data.index[::-1]:
            if shown >= cohorts:
                break
            row = data.loc[cohort, cols].to_numpy(dtype=float)
            seen = ~np.isnan(row)
            if seen.sum() < 2:
                continue
            ax.plot(
                np.asarray(cols, dtype=float)[seen],
                row[seen],
                color=PALETTE[4],
                alpha=0.35,
                linewidth=1,
                label="single cohorts" if shown == 0 else None,
            )
            shown += 1
    else:
        _require(data, ("period", "retention"), "plot_retention_curves")
        curve, word = data, "periods"
    ax.plot(
        curve["period"].to_numpy(dtype=float),
        curve["retention"].to_numpy(dtype=float),
        color=kw.pop("color", PALETTE[0]),
        linewidth=kw.pop("linewidth", 2.5),
        marker="o",
        markersize=3,
        label="all cohorts (weighted)",
        **kw,
    )
    _percent_axis(ax.yaxis)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, loc="left")
    ax.set_xlabel(f"{word} since first run")
    ax.set_ylabel("users retained (%)")
    ax.legend(loc="upper right")
    _ygrid(ax)
    return ax


# --------------------------------------------------------------------------- events


def _barh_labels(ax: Axes, values: np.ndarray, texts: list[str]) -> None:
    """A label after each bar, every label inside the axes (a long one would otherwise run
    past the axes to the edge of the image)."""
    top = float(np.nanmax(values)) if values.size else 0.0
    if not top > 0:
        top = 1.0
    labels = [
        ax.text(v + top * 0.01, y, text, va="center", ha="left", fontsize=9, color="#333333")
        for y, (v, text) in enumerate(zip(values, texts, strict=True))
    ]
    ax.set_xlim(0, top * 1.18)
    figure = ax.get_figure(root=True)
    if figure is None or not labels:
        return
    figure.draw_without_rendering()  # lays the figure out: the axes' width in pixels
    width = ax.get_window_extent().width
    margin = 0.02  # of the axes, between the longest label and the frame
    need = 1.18
    for v, label in zip(values, labels, strict=True):
        share = label.get_window_extent().width / width if width > 0 else 0.0
        # xmax such that (v + offset) / xmax + share <= 1 - margin
        room = 1 - margin - share
        if room > 0.2:
            need = max(need, (float(v) + top * 0.01) / (room * top))
    ax.set_xlim(0, top * need)


def _finish_hbars(ax: Axes, labels: Any, *, title: str, xlabel: str) -> Axes:
    """Labels, order (first row on top), title and axis of a horizontal bar chart."""
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    _int_axis(ax, "x")
    _ygrid(ax, "x")
    return ax


@_styled
def plot_funnel(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    **kw: Any,
) -> Axes:
    """Funnel bars: users reaching each step, with conversion and drop-off.

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.funnel` output (``step``, ``users``, ``conversion``, ``drop_off``).
    **kw
        Passed to ``Axes.barh``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    title = title or "Funnel"
    if data.empty:
        return _no_data(ax, title)
    _require(data, ("step", "users", "conversion", "drop_off"), "plot_funnel")
    users = data["users"].to_numpy(dtype=float)
    labels = [f"{i + 1}. {s}" for i, s in enumerate(data["step"].astype(str))]
    ax.barh(range(len(users)), users, color=kw.pop("color", PALETTE[0]), height=0.6, **kw)
    texts = []
    for i, (u, c, d) in enumerate(zip(users, data["conversion"], data["drop_off"], strict=True)):
        conv = "" if pd.isna(c) else f" · {c:.0%} of step 1"
        drop = "" if i == 0 or pd.isna(d) else f" · {d:.0%} fewer than step {i}"
        texts.append(f"{_human(u)}{conv}{drop}")
    _barh_labels(ax, users, texts)
    return _finish_hbars(ax, labels, title=title, xlabel="users")


@_styled
def plot_top_events(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    **kw: Any,
) -> Axes:
    """Most frequent events as horizontal bars, the largest on top.

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.top_events` output (``eventName``, ``count``, ``users``).
    **kw
        Passed to ``Axes.barh``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    title = title or "Top events"
    if data.empty:
        return _no_data(ax, title)
    _require(data, ("eventName", "count"), "plot_top_events")
    counts = data["count"].to_numpy(dtype=float)
    ax.barh(range(len(counts)), counts, color=kw.pop("color", PALETTE[1]), height=0.6, **kw)
    has_users = "users" in data.columns and data["users"].notna().all()
    texts = [
        _human(c) + (f" · {_human(float(u))} users" if has_users else "")
        for c, u in zip(counts, data["users"] if has_users else counts, strict=True)
    ]
    _barh_labels(ax, counts, texts)
    return _finish_hbars(ax, [str(n) for n in data["eventName"]], title=title, xlabel="events")


@_styled
def plot_breakdown(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    **kw: Any,
) -> Axes:
    """Users (or sessions) per group as horizontal bars with their share.

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.breakdown` output (``<by>``, ``users`` or ``sessions``, ``share``).
    **kw
        Passed to ``Axes.barh``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax)
    if data.empty or len(data.columns) < 3:
        return _no_data(ax, title or "Breakdown")
    by, metric = str(data.columns[0]), str(data.columns[1])
    title = title or f"{metric.capitalize()} by {by}"
    values = data[metric].to_numpy(dtype=float)
    ax.barh(range(len(values)), values, color=kw.pop("color", PALETTE[2]), height=0.6, **kw)
    texts = [f"{_human(v)} · {s:.0%}" for v, s in zip(values, data["share"], strict=True)]
    _barh_labels(ax, values, texts)
    return _finish_hbars(ax, [str(v) for v in data[by]], title=title, xlabel=metric)


# --------------------------------------------------------------------------- money


@_styled
def plot_revenue(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "day (Pacific)",
    currency: str = "$",
    arpdau: bool = True,
    **kw: Any,
) -> Axes:
    """Revenue per day (bars) and ARPDAU (line on a twin axis).

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.revenue` output (``day``, ``revenue``, ``arpdau``).
    currency : str
        Unit shown on the axes.
    arpdau : bool
        Draw ARPDAU on a twin y axis created on ``ax``.
    **kw
        Passed to ``Axes.bar``.

    Returns
    -------
    Axes
        The revenue Axes (the twin, if any, is ``ax.arpdau_axes``).
    """
    ax = _axes(ax)
    title = title or "Revenue"
    if data.empty:
        return _no_data(ax, title)
    _require(data, ("day", "revenue"), "plot_revenue")
    x = _dates(data["day"])
    ax.bar(
        x,
        data["revenue"].to_numpy(dtype=float),
        width=0.8,
        color=kw.pop("color", PALETTE[2]),
        label="revenue",
        **kw,
    )
    _headroom(ax, 1.2)
    ax.set_title(title, loc="left")
    ax.set_ylabel(f"revenue per day ({currency})")
    ax.yaxis.set_major_formatter(_HumanTicks(prefix=currency))
    _date_axis(ax, xlabel)
    _ygrid(ax)
    if arpdau and "arpdau" in data.columns:
        twin = ax.twinx()
        twin.plot(x, data["arpdau"].to_numpy(dtype=float), color=PALETTE[5], label="ARPDAU")
        twin.set_ylabel(f"ARPDAU ({currency})", color=PALETTE[5])
        twin.tick_params(axis="y", colors=PALETTE[5])
        _headroom(twin, 1.2)
        twin.grid(False)
        twin.spines["top"].set_visible(False)
        ax.arpdau_axes = twin  # type: ignore[attr-defined]
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="upper left", ncols=2)
    return ax


def _signed_pct(value: float) -> str:
    """+13%, -7%; one decimal below 0.5 % so an interval bound never reads "-0%" or "+0%"."""
    if value != 0 and abs(value) < 0.005:
        return f"{value:+.1%}"
    return f"{value:+.0%}"


def _id_tail(value: int, digits: int) -> str:
    text = str(abs(value))
    sign = "-" if value < 0 else ""
    # an ellipsis standing for a single digit would save nothing
    return sign + text if len(text) <= digits + 1 else f"{sign}…{text[-digits:]}"


def _id_texts(ids: np.ndarray, short: bool = True, digits: int = 6) -> dict[int, str]:
    """Display text of each id: its last ``digits`` digits, more where two would collide."""
    unique = sorted({int(v) for v in ids})
    if not short:
        return {v: str(v) for v in unique}
    while True:
        texts = {v: _id_tail(v, digits) for v in unique}
        if len(set(texts.values())) == len(unique):
            return texts
        digits += 1  # ends at the full id (at most 19 digits), which is unique


_EXPERIMENT_METRICS = {
    "conversion": ("conversion", "conversion_low", "conversion_high", "conversion rate (%)"),
    "revenue_per_user": ("revenue_per_user", "rpu_low", "rpu_high", "revenue per user"),
    "lift": ("lift", "lift_low", "lift_high", "conversion lift vs control (%)"),
    "rpu_lift": ("rpu_lift", "rpu_lift_low", "rpu_lift_high", "revenue per user lift (%)"),
}


@_styled
def _variant_labels(
    exp_ids: np.ndarray,
    var_ids: np.ndarray,
    controls: np.ndarray,
    names: Mapping[int, str],
    short_ids: bool,
    wrap: int | None,
) -> list[str]:
    """``<experiment> · <variant>`` per row, named from ``names`` or by (short) id."""
    exp_text = _id_texts(exp_ids, short_ids)
    var_text = _id_texts(var_ids, short_ids)
    labels = []
    for i in range(len(exp_ids)):
        exp = names.get(int(exp_ids[i]), f"exp {exp_text[int(exp_ids[i])]}")
        var = names.get(int(var_ids[i]), f"var {var_text[int(var_ids[i])]}")
        text = f"{exp} · {var}" + (" (control)" if controls[i] else "")
        labels.append(textwrap.fill(text, wrap, break_on_hyphens=False) if wrap else text)
    return labels


def plot_experiment(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    metric: str = "conversion",
    confidence: float = 0.95,
    names: dict[int, str] | None = None,
    short_ids: bool = True,
    wrap: int = 30,
    **kw: Any,
) -> Axes:
    """Variants of each experiment with confidence intervals (error bars).

    Each variant is a point with its interval; a variant whose lift interval excludes zero
    is drawn in a strong colour (green up, red down) and labelled with its lift, controls
    in grey.

    Parameters
    ----------
    data : DataFrame
        :func:`metrics.experiment_results` output.
    metric : {"conversion", "revenue_per_user", "lift", "rpu_lift"}
        What to show on the x axis.
    confidence : float
        The confidence the intervals were computed at (for the axis label only).
    names : dict of int to str, optional
        Display names of experiment and variant ids. Ids without a name show as their last
        6 digits (``"exp …498755"``, more digits where two would look the same), since the
        19-digit ids would take half the figure's width; ``short_ids=False`` shows them whole.
    short_ids : bool
        Shorten unnamed ids as above.
    wrap : int
        Labels longer than this many characters wrap onto a second line.
    **kw
        Passed to ``Axes.errorbar``.

    Returns
    -------
    Axes
    """
    ax = _axes(ax, (8.0, 1.5 + 0.45 * max(len(data), 1)))
    try:
        col, low, high, label = _EXPERIMENT_METRICS[metric]
    except KeyError:
        raise ValueError(f"metric must be one of {sorted(_EXPERIMENT_METRICS)}") from None
    title = title or "Experiments"
    if data.empty:
        return _no_data(ax, title)
    _require(data, ("experimentId", "variantId", col, low, high), "plot_experiment")
    lift_col = "rpu_lift" if metric in ("revenue_per_user", "rpu_lift") else "lift"
    rows = data.reset_index(drop=True)
    y = np.arange(len(rows), dtype=float)
    # a gap between experiments
    exp_codes = pd.factorize(rows["experimentId"])[0]
    y = y + exp_codes * 0.6
    value = rows[col].to_numpy(dtype=float)
    err = np.vstack(
        [value - rows[low].to_numpy(dtype=float), rows[high].to_numpy(dtype=float) - value]
    )
    n_rows = len(rows)

    def floats(name: str) -> np.ndarray:
        if name not in rows.columns:
            return np.full(n_rows, np.nan)
        return rows[name].to_numpy(dtype=float)

    lift, lift_lo, lift_hi = floats(lift_col), floats(f"{lift_col}_low"), floats(f"{lift_col}_high")
    controls = (
        rows["is_control"].to_numpy(dtype=bool)
        if "is_control" in rows.columns
        else np.zeros(n_rows, dtype=bool)
    )
    # ids pass 2**53: read them as int64 arrays, never through a float row
    exp_ids = rows["experimentId"].to_numpy(dtype="int64")
    var_ids = rows["variantId"].to_numpy(dtype="int64")
    colors = []
    for i in range(n_rows):
        if controls[i]:
            colors.append(_GREY)
        elif lift_lo[i] > 0:
            colors.append(PALETTE[2])
        elif lift_hi[i] < 0:
            colors.append(PALETTE[5])
        else:
            colors.append(PALETTE[0])
        ax.errorbar(
            value[i : i + 1],
            y[i : i + 1],
            xerr=err[:, i : i + 1],
            fmt="o",
            color=colors[i],
            capsize=4,
            markersize=6,
            **kw,
        )
    labels = _variant_labels(exp_ids, var_ids, controls, names or {}, short_ids, wrap)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    if metric in ("lift", "rpu_lift"):
        ax.axvline(0, color=_GREY, linewidth=1)
    if metric != "revenue_per_user":
        _percent_axis(ax.xaxis)
    highs = floats(high)
    for i in range(n_rows):
        if controls[i] or np.isnan(lift_lo[i]):
            continue
        ax.annotate(
            f"lift {_signed_pct(lift[i])} [{_signed_pct(lift_lo[i])}, {_signed_pct(lift_hi[i])}]",
            (highs[i], y[i]),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=colors[i],
        )
    left, right = ax.get_xlim()
    ax.set_xlim(left, right + (right - left) * 0.35)
    ax.set_title(title, loc="left")
    ax.set_xlabel(f"{label}, {confidence:.0%} interval")
    _ygrid(ax, "x")
    return ax


# --------------------------------------------------------------------------- overview


class _TablesLike(Protocol):
    @property
    def sessions(self) -> pd.DataFrame: ...  # pragma: no cover

    @property
    def events(self) -> pd.DataFrame: ...  # pragma: no cover

    @property
    def experiments(self) -> pd.DataFrame: ...  # pragma: no cover


_TZ_NAMES = {"pacific": "Pacific", "utc": "UTC", "local": "local time"}


@_styled
def plot_overview(
    tables: _TablesLike,
    *,
    tz: metrics.TimeZone = "pacific",
    figsize: tuple[float, float] = (16.0, 13.0),
    title: str | None = None,
    control: int | dict[int, int] | None = None,
    names: dict[int, str] | None = None,
) -> Figure:
    """One figure with the main charts of an export.

    Panels: active users, new users, stickiness; weekly retention heatmap, daily retention
    curves, session lengths; revenue with ARPDAU, experiments (conversion with intervals),
    users by platform.

    Parameters
    ----------
    tables : object
        Anything with ``sessions``, ``events`` and ``experiments`` DataFrames (a loaded
        ``Tables`` or an ``Export``).
    tz : {"pacific", "utc", "local"}
        Calendar for every daily metric.
    figsize : tuple of float
        Figure size in inches.
    title : str, optional
        Figure title; default names the days covered.
    control : int or dict, optional
        Control variant(s) for the experiment panel (see
        :func:`metrics.experiment_results`).
    names : dict of int to str, optional
        Display names of experiment and variant ids.

    Returns
    -------
    Figure
    """
    sessions, events, experiments = tables.sessions, tables.events, tables.experiments
    fig = plt.figure(figsize=figsize, layout="constrained")
    # one subfigure per row, each with its own constrained layout: long tick labels in one
    # panel (experiment or cohort names) then take room from their own row only, instead of
    # widening a grid column for all three rows
    axes: list[Axes] = []
    rows = cast(np.ndarray, fig.subfigures(3, 1))
    for row, widths in zip(rows, ([1, 1, 1], [1, 1, 1], [1, 1.25, 0.85]), strict=True):
        axes.extend(row.subplots(1, 3, width_ratios=widths))
    xlabel = f"day ({_TZ_NAMES[tz]})"
    eng = metrics.engagement(sessions, tz=tz)
    plot_active_users(eng, ax=axes[0], xlabel=xlabel)
    plot_new_users(
        metrics.new_users(sessions, tz=tz), ax=axes[1], xlabel=f"day of first run ({_TZ_NAMES[tz]})"
    )
    plot_stickiness(eng, ax=axes[2], xlabel=xlabel)
    plot_retention_heatmap(
        metrics.retention(sessions, period="week", max_periods=8, tz=tz),
        ax=axes[3],
        title="Weekly retention by cohort",
        colorbar=False,
    )
    plot_retention_curves(
        metrics.retention(sessions, max_periods=30, tz=tz), ax=axes[4], title="Daily retention"
    )
    plot_session_lengths(metrics.session_lengths(sessions), ax=axes[5])
    plot_revenue(metrics.revenue(events, sessions, tz=tz), ax=axes[6], xlabel=xlabel)
    plot_experiment(
        metrics.experiment_results(experiments, sessions, events, control=control),
        ax=axes[7],
        names=names,
        title="Experiments: purchase conversion",
    )
    plot_breakdown(metrics.breakdown(sessions, "client"), ax=axes[8], title="Users by platform")
    if title is None:
        days = eng["day"]
        title = "Leanplum export overview"
        if len(days):
            first, last = days.iloc[0], days.iloc[-1]
            title += f": {first:%b %d, %Y} to {last:%b %d, %Y} ({_TZ_NAMES[tz]} days)"
    fig.suptitle(title, fontsize=15, fontweight="bold", x=0.01, ha="left")
    return fig
