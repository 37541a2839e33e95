"""Dask engine: the same tables and the same metrics as pandas, on one simulator export.

Every comparison runs the pandas function on the pandas tables and the Dask function on the
Dask tables of the same export (fetched over HTTP from the bundled simulator), and checks
the results with ``assert_frame_equal``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import dask
import pandas as pd
import pytest

from leanplum_notebook import dask_engine as lde
from leanplum_notebook import metrics, schema
from leanplum_notebook.dask import engine as impl
from leanplum_notebook.dask.read import sort_categories
from leanplum_notebook.errors import ValidationError
from leanplum_notebook.load import load

FUNNEL = ["Open Store", "View Item", "Add To Cart", "Purchase"]


@pytest.fixture(autouse=True)
def _threads() -> Any:
    # The non-distributed tests use the threaded scheduler (the default for DataFrames).
    with dask.config.set(scheduler="threads"):
        yield


@pytest.fixture(scope="module")
def dask_tables(sim_export: Any, pandas_tables: Any) -> lde.DaskTables:
    # pandas_tables first: the pandas loader has written the Parquet cache
    return lde.load_dask(sim_export.export, sessions_per_partition=600)


def sort_table(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Rows in key order (then by every other sortable column) with a fresh index."""
    keys = [c for c in schema.KEYS[table] if c in frame.columns]
    rest = [
        c
        for c in frame.columns
        if c not in keys and not isinstance(frame[c].dtype, pd.CategoricalDtype)
    ]
    return frame.sort_values(keys + rest, ignore_index=True, kind="stable")


def assert_tables_equal(pandas_tables: Any, computed: Any) -> None:
    for name in computed:
        # The pandas loader keeps categories of rows its day filter dropped (they come from
        # the Parquet dictionary); a computed Dask table has the categories of its rows.
        expected = sort_categories(sort_table(pandas_tables[name], name).copy())
        got = sort_table(computed[name], name)
        assert len(got) > 0, name
        pd.testing.assert_frame_equal(got, expected, obj=name)


def test_six_tables_match_the_pandas_loader(
    sim_export: Any, pandas_tables: Any, dask_tables: lde.DaskTables
) -> None:
    assert len(sim_export.export.parts) == 2
    # several partitions per cache entry, every table split the same way
    assert dask_tables.npartitions > len(sim_export.export.parts)
    for name in schema.TABLES:
        frame = dask_tables[name]
        assert frame.npartitions == dask_tables.npartitions
        assert {c: str(t) for c, t in frame.dtypes.items()} == schema.pandas_dtypes(name)
    computed = dask_tables.compute()
    assert set(computed) == set(schema.TABLES)
    assert computed.report.parquet_used and len(computed.sessions) > 0
    assert_tables_equal(pandas_tables, computed)
    for name in computed:
        frame = computed[name]
        assert {c: str(t) for c, t in frame.dtypes.items()} == schema.pandas_dtypes(name)


def test_partitions_hold_whole_sessions(dask_tables: lde.DaskTables) -> None:
    # partition i of events has only events of sessions in partition i of sessions
    sessions = dask_tables.sessions.partitions[1].compute()
    events = dask_tables.events.partitions[1].compute()
    assert len(events) > 0
    assert set(events["sessionId"]) <= set(sessions["sessionId"])


def _graph_names(frame: Any) -> set[str]:
    return {str(k[0] if isinstance(k, tuple) else k) for k in dict(frame.__dask_graph__())}


def test_aligned_tables_join_without_a_shuffle(dask_tables: lde.DaskTables) -> None:
    events, sessions = dask_tables.events, dask_tables.sessions
    aligned = impl.co_partitioned(events, sessions)[0]
    assert not any("shuffle" in name for name in _graph_names(aligned))
    # after a filter the engine cannot know the partitions still line up: it shuffles
    filtered = impl.co_partitioned(events, sessions[sessions["userBucket"] < 500])[0]
    assert any("shuffle" in name for name in _graph_names(filtered))


S = "sessions"
E = "events"
X = "experiments"

# (test id, pandas function, tables it takes, keyword arguments)
CASES: list[tuple[str, Callable[..., pd.DataFrame], tuple[str, ...], dict[str, Any]]] = [
    ("dau-pacific", metrics.active_users, (S,), {}),
    ("dau-utc", metrics.active_users, (S,), {"tz": "utc"}),
    ("dau-local", metrics.active_users, (S,), {"tz": "local"}),
    ("wau-local", metrics.active_users, (S,), {"freq": "W", "tz": "local"}),
    ("mau", metrics.active_users, (S,), {"freq": "M"}),
    ("engagement", metrics.engagement, (S,), {}),
    ("engagement-local", metrics.engagement, (S,), {"tz": "local"}),
    ("new-users", metrics.new_users, (S,), {}),
    ("new-users-local", metrics.new_users, (S,), {"tz": "local"}),
    ("retention", metrics.retention, (S,), {}),
    ("retention-utc-10", metrics.retention, (S,), {"tz": "utc", "max_periods": 10}),
    (
        "retention-week-rolling-local",
        metrics.retention,
        (S,),
        {"period": "week", "kind": "rolling", "tz": "local"},
    ),
    ("retention-first-session", metrics.retention, (S,), {"cohort_by": "first_session"}),
    ("funnel", metrics.funnel, (E, S), {"steps": FUNNEL}),
    ("funnel-1h", metrics.funnel, (E, S), {"steps": FUNNEL[:3], "within": "1h"}),
    ("funnel-repeat", metrics.funnel, (E, S), {"steps": ["View Item", "View Item"]}),
    ("revenue", metrics.revenue, (E, S), {}),
    ("revenue-local", metrics.revenue, (E, S), {"tz": "local"}),
    ("revenue-by-event-local", metrics.revenue, (E, S), {"by": "event", "tz": "local"}),
    ("revenue-other-event", metrics.revenue, (E, S), {"event": "Add To Cart", "tz": "utc"}),
    ("experiments", metrics.experiment_results, (X, S, E), {}),
    (
        "experiments-cart-90",
        metrics.experiment_results,
        (X, S, E),
        {"conversion_event": "Add To Cart", "confidence": 0.9},
    ),
    ("sessions-per-user", metrics.sessions_per_user, (S,), {}),
    ("sessions-per-user-local", metrics.sessions_per_user, (S,), {"tz": "local"}),
    ("event-counts", metrics.event_counts, (E,), {}),
    (
        "event-counts-week-names",
        metrics.event_counts,
        (E,),
        {"freq": "W", "tz": "utc", "names": ["Purchase", "Share", "No Such Event"]},
    ),
    ("message-stats", metrics.message_stats, (E,), {}),
    ("breakdown-client", metrics.breakdown, (S,), {"by": "client"}),
    (
        "breakdown-country-sessions-top3",
        metrics.breakdown,
        (S,),
        {"by": "country", "metric": "sessions", "top": 3},
    ),
    ("top-events", metrics.top_events, (E,), {}),
    ("top-events-all", metrics.top_events, (E,), {"n": 40, "exclude_messages": False}),
]


@pytest.mark.parametrize(
    ("func", "tables", "kwargs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_metric_agrees_with_pandas(
    pandas_tables: Any,
    dask_tables: lde.DaskTables,
    func: Callable[..., pd.DataFrame],
    tables: tuple[str, ...],
    kwargs: dict[str, Any],
) -> None:
    dask_func = getattr(lde, func.__name__)
    if func.__name__ == "funnel":
        kwargs = dict(kwargs)
        steps = kwargs.pop("steps")
        expected = func(*(pandas_tables[t] for t in tables), steps, **kwargs)
        got = dask_func(*(dask_tables[t] for t in tables), steps, **kwargs)
    else:
        expected = func(*(pandas_tables[t] for t in tables), **kwargs)
        got = dask_func(*(dask_tables[t] for t in tables), **kwargs)
    assert isinstance(got, pd.DataFrame)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(got, expected)


def test_session_lengths_and_local_event_counts(
    pandas_tables: Any, dask_tables: lde.DaskTables
) -> None:
    ps, pe = pandas_tables.sessions, pandas_tables.events
    ds, de = dask_tables.sessions, dask_tables.events
    expected = metrics.session_lengths(ps, max_duration=3600)
    assert 0 < len(expected) < len(ps)
    pd.testing.assert_series_equal(lde.session_lengths(ds, max_duration=3600), expected)
    pd.testing.assert_frame_equal(
        lde.event_counts(de, tz="local", sessions=ds),
        metrics.event_counts(pe, tz="local", sessions=ps),
    )


def test_top_events_with_users(pandas_tables: Any, dask_tables: lde.DaskTables) -> None:
    expected = metrics.top_events(pandas_tables.events, sessions=pandas_tables.sessions, n=15)
    got = lde.top_events(dask_tables.events, sessions=dask_tables.sessions, n=15)
    assert expected["users"].notna().all()
    pd.testing.assert_frame_equal(got, expected)


def test_metrics_on_frames_that_lost_alignment(
    pandas_tables: Any, dask_tables: lde.DaskTables
) -> None:
    # A filter on sessions gives a frame the engine cannot prove aligned: it shuffles on
    # sessionId, and the answers still match pandas on the same filtered data.
    ps = pandas_tables.sessions
    ds = dask_tables.sessions
    p_sub = ps[ps["userBucket"] < 600].reset_index(drop=True)
    d_sub = ds[ds["userBucket"] < 600]
    assert not impl.aligned(d_sub, dask_tables.events)
    pe, de = pandas_tables.events, dask_tables.events
    pd.testing.assert_frame_equal(lde.revenue(de, d_sub), metrics.revenue(pe, p_sub))
    pd.testing.assert_frame_equal(lde.funnel(de, d_sub, FUNNEL), metrics.funnel(pe, p_sub, FUNNEL))
    pd.testing.assert_frame_equal(
        lde.experiment_results(dask_tables.experiments, d_sub, de),
        metrics.experiment_results(pandas_tables.experiments, p_sub, pe),
    )


def test_tables_columns_and_days_like_the_loader(sim_export: Any) -> None:
    days = [date(2026, 5, 25), date(2026, 6, 3), date(2026, 6, 4)]
    kw: dict[str, Any] = {
        "tables": ["sessions", "events", "event_parameters"],
        "columns": {
            "sessions": ["sessionId", "userId", "start"],
            "events": ["sessionId", "eventName"],
        },
        "days": days,
    }
    expected = load(sim_export.export, progress=False, **kw)
    tables = lde.load_dask(sim_export.export, **kw)
    assert tables.keys() == ["sessions", "events", "event_parameters"]
    with pytest.raises(LookupError, match="experiments"):
        _ = tables.experiments
    computed = tables.compute()
    assert list(computed["sessions"].columns) == ["sessionId", "userId", "start"]
    assert_tables_equal(expected, computed)
    starts = computed["sessions"]["start"].dt.tz_convert("America/Los_Angeles").dt.date
    assert set(starts) == set(days)


def test_raw_files_without_the_parquet_cache(sim_export: Any, pandas_tables: Any) -> None:
    # every table re-parses the files it needs: three tables keep the test short
    tables = lde.load_dask(
        sim_export.export, use_parquet=False, tables=["sessions", "events", "user_attributes"]
    )
    files = [f for part in sim_export.export.parts for f in part.files]
    assert tables.npartitions == len(files)  # one partition per raw JSON file
    assert {u.kind for u in tables.units} == {"json"}
    assert_tables_equal(pandas_tables, tables.compute())


def test_folder_of_files_writes_the_cache_like_the_loader(sim_export: Any, tmp_path: Path) -> None:
    part = sim_export.export.parts[0]
    for path in part.files:
        shutil.copy(path, tmp_path / path.name)
    tables = lde.load_dask(tmp_path, tables=["sessions", "experiments"])
    # the pandas loader's cache location for a folder: <folder>/parquet/<stem>
    assert list((tmp_path / "parquet").glob("*/meta.json"))
    expected = load(tmp_path, tables=["sessions", "experiments"], progress=False)
    assert expected.report.parquet_used
    assert_tables_equal(expected, tables.compute())


@pytest.mark.parametrize("use_parquet", [True, False], ids=["parquet", "raw"])
def test_duplicate_sessions_across_parts_like_the_loader(
    sim_export: Any, tmp_path: Path, use_parquet: bool
) -> None:
    part = sim_export.export.parts[0]
    for path in part.files[:4]:
        shutil.copy(path, tmp_path / path.name)
    # a newer job holding some of the same sessions again (as a re-exported day would)
    for shard, path in enumerate(part.files[1:3]):
        copy = tmp_path / f"export-1-refresh-output-{shard}"
        shutil.copy(path, copy)
        os.utime(copy, (time.time() + 60, time.time() + 60))
    kw: dict[str, Any] = {"tables": ["sessions", "events", "event_parameters"]}
    expected = load(tmp_path, progress=False, use_parquet=use_parquet, **kw)
    assert expected.report.duplicates_removed["sessions"] > 0
    tables = lde.load_dask(tmp_path, use_parquet=use_parquet, **kw)
    assert any(unit.drop for unit in tables.units)
    assert_tables_equal(expected, tables.compute())
    # without the pass, the duplicates stay: the pass is what makes the tables agree
    raw = lde.load_dask(tmp_path, use_parquet=use_parquet, dedupe=False, tables=["sessions"])
    n = len(raw.sessions)
    assert n == len(expected.sessions) + expected.report.duplicates_removed["sessions"]


def test_bad_lines_raise_or_are_skipped_like_the_loader(sim_export: Any, tmp_path: Path) -> None:
    from leanplum_notebook.load import LoadError

    for path in sim_export.export.parts[0].files[:2]:
        shutil.copy(path, tmp_path / path.name)
    broken = sorted(tmp_path.iterdir())[0]
    with broken.open("ab") as handle:
        handle.write(b'{"sessionId": "12", "states": [\n')
    with pytest.raises(LoadError, match=broken.name):
        lde.load_dask(tmp_path, use_parquet=False, tables=["sessions"]).sessions.compute()
    with pytest.raises(LoadError, match=broken.name):  # writing the cache fails the same way
        lde.load_dask(tmp_path, tables=["sessions"])
    expected = load(tmp_path, tables=["sessions"], on_bad_line="skip", progress=False)
    assert expected.report.bad_lines_skipped == 1
    tables = lde.load_dask(tmp_path, tables=["sessions"], on_bad_line="skip")
    assert_tables_equal(expected, tables.compute())


GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


@pytest.mark.parametrize("kind", ["json", "csv"])
@pytest.mark.parametrize("use_parquet", [True, False], ids=["parquet", "raw"])
def test_golden_files_with_every_quirk(kind: str, use_parquet: bool, tmp_path: Path) -> None:
    # int64 extremes, string and Java-style times, omitted fields, unicode and newlines...
    source = GOLDEN / kind
    if not source.is_dir() or not any(source.iterdir()):
        pytest.skip(f"no golden {kind} files")
    for path in source.iterdir():
        if path.is_file():
            shutil.copy(path, tmp_path / path.name)  # the cache goes next to the files
    expected = load(tmp_path, progress=False, use_parquet=False)
    tables = lde.load_dask(tmp_path, use_parquet=use_parquet)
    assert_tables_equal(expected, tables.compute())


def test_csv_export(sim_export: Any, tmp_path: Path) -> None:
    from leanplum_notebook.export import fetch

    export = fetch("20260605", "20260607", format="csv", **sim_export.fetch_kw(cache_dir=tmp_path))
    expected = export.load(progress=False)
    tables = lde.load_dask(export)
    # CSV caches are written table by table: one partition per part
    assert tables.npartitions == len(export.parts)
    assert_tables_equal(expected, tables.compute())
    pd.testing.assert_frame_equal(
        lde.retention(tables.sessions, max_periods=3),
        metrics.retention(expected.sessions, max_periods=3),
    )


def test_events_with_sessions(pandas_tables: Any, dask_tables: lde.DaskTables) -> None:
    joins = pytest.importorskip("leanplum_notebook.joins")
    expected = joins.events_with_sessions(pandas_tables.events, pandas_tables.sessions)
    got = lde.events_with_sessions(dask_tables.events, dask_tables.sessions).compute()
    keys = ["sessionId", "stateId", "eventId"]
    pd.testing.assert_frame_equal(
        sort_table(got.reset_index(drop=True), "events")[expected.columns],
        sort_table(expected, "events"),
        check_categorical=False,
    )
    assert keys


def test_bad_arguments_fail_before_reading(sim_export: Any) -> None:
    export = sim_export.export
    with pytest.raises(ValidationError, match="tables"):
        lde.load_dask(export, tables=["sessions", "nope"])
    with pytest.raises(ValidationError, match="columns"):
        lde.load_dask(export, columns={"sessions": ["notAColumn"]})
    with pytest.raises(ValidationError, match="days"):
        lde.load_dask(export, days="2026-13-45")
    with pytest.raises(ValidationError, match="sessions_per_partition"):
        lde.load_dask(export, sessions_per_partition=0)
    with pytest.raises(ValidationError, match="storage_options"):
        lde.load_dask(export, storage_options={"anon": True})
    with pytest.raises(ValidationError, match="source"):
        lde.load_dask(Path("/nonexistent/leanplum/export"))


def test_is_dask(dask_tables: lde.DaskTables, pandas_tables: Any) -> None:
    assert lde.is_dask(dask_tables.sessions)
    assert lde.is_dask(dask_tables.sessions["userId"])
    assert not lde.is_dask(pandas_tables.sessions)
    assert not lde.is_dask(None)


def test_the_pandas_path_does_not_import_dask() -> None:
    code = (
        "import sys\n"
        "import leanplum_notebook, leanplum_notebook.load, leanplum_notebook.metrics\n"
        "import leanplum_notebook.export, leanplum_notebook.engines\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m == 'dask' or m.startswith(('dask.', 'distributed')))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_same_names_and_arguments_as_the_pandas_metrics() -> None:
    import inspect

    names = {c[1].__name__ for c in CASES} | {"session_lengths"}
    for name in sorted(names):
        pandas_params = inspect.signature(getattr(metrics, name)).parameters
        dask_params = inspect.signature(getattr(lde, name)).parameters
        assert list(dask_params) == list(pandas_params), name
        for key, param in pandas_params.items():
            assert dask_params[key].default == param.default, (name, key)
