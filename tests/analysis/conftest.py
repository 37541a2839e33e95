"""Shared fixtures for the analysis tests: frames with the exact schema dtypes, Agg figures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from leanplum_notebook import schema

Builder = Callable[..., pd.DataFrame]


def build_table(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A table with exactly the schema's columns and dtypes; absent fields are missing."""
    dtypes = schema.pandas_dtypes(table)
    data: dict[str, pd.Series] = {}
    for column, dtype in dtypes.items():
        values = [row.get(column) for row in rows]
        if dtype.startswith("datetime64"):
            series = pd.Series(pd.to_datetime(values, utc=True), dtype=dtype)
        elif dtype == "category":
            series = pd.Series(values, dtype="object").astype("category")
        else:
            series = pd.Series(values, dtype="object").astype(dtype)
        data[column] = series
    return pd.DataFrame(data)


@pytest.fixture
def build() -> Builder:
    """``build("sessions", [{...}, ...])`` -> a typed table."""
    return build_table


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


# ---------------------------------------------------------------- simulator data


def _seconds(value: Any) -> float:
    return float(value)  # numbers, Java-style floats and numeric strings alike (spec 7.6)


def tables_from_lines(lines: list[dict[str, Any]]) -> SimpleNamespace:
    """Minimal JSON-lines -> sessions/events/experiments converter, for these tests only.

    Used when the loader (``leanplum_notebook.load``) is not available; it maps the JSON
    names onto the schema's columns (spec 5.2) and applies the schema dtypes.
    """
    s_rows: dict[str, list[Any]] = {c: [] for c in schema.SESSIONS}
    e_rows: dict[str, list[Any]] = {c: [] for c in schema.EVENTS}
    x_rows: dict[str, list[Any]] = {c: [] for c in schema.EXPERIMENTS}
    renamed = {v: k for k, v in schema.JSON_TO_COLUMN.items()}
    for line in lines:
        sid = int(line["sessionId"])
        for column in schema.SESSIONS:
            value = line.get(renamed.get(column, column))
            if column == "sessionId":
                value = sid
            elif column in ("start", "userStart") and value is not None:
                value = _seconds(value)
            elif column in ("lat", "lon") and value is not None:
                value = float(value)
            elif column in ("isSession", "isDeveloper"):
                value = bool(value) if value is not None else column == "isSession"
            s_rows[column].append(value)
        for exp in line.get("experiments") or []:
            x_rows["experimentId"].append(int(exp["id"]))
            x_rows["sessionId"].append(sid)
            x_rows["variantId"].append(int(exp["variantId"]))
        for state in line.get("states") or []:
            for event in state.get("events") or []:
                e_rows["eventId"].append(int(event["eventId"]))
                e_rows["stateId"].append(int(state["stateId"]))
                e_rows["sessionId"].append(sid)
                e_rows["eventName"].append(event.get("name"))
                e_rows["start"].append(_seconds(event["time"]))
                e_rows["value"].append(float(event.get("value", 0.0)))
                e_rows["info"].append(event.get("info"))
                e_rows["timeUntilFirstForUser"].append(event.get("timeUntilFirstForUser"))

    def typed(table: str, rows: dict[str, list[Any]]) -> pd.DataFrame:
        out = {}
        for column, dtype in schema.pandas_dtypes(table).items():
            values = rows[column]
            if dtype.startswith("datetime64"):
                secs = pd.array(values, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
                millis = pd.array(np.round(secs * 1000), dtype="Float64").astype("Int64")
                out[column] = pd.Series(pd.to_datetime(millis, unit="ms", utc=True), dtype=dtype)
            elif dtype == "category":
                out[column] = pd.Series(values, dtype="object").astype("category")
            else:
                out[column] = pd.Series(values, dtype="object").astype(dtype)
        return pd.DataFrame(out)

    return SimpleNamespace(
        sessions=typed("sessions", s_rows),
        events=typed("events", e_rows),
        experiments=typed("experiments", x_rows),
    )


SIM_END = datetime(2026, 3, 1, 7, 59, tzinfo=timezone.utc).timestamp()  # Feb 28, 23:59 Pacific
SIM_APP = 4727756026281984


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """50 days of simulator data as tables, with the generator that made them (``.gen``).

    The generator's lines go through the JSON writer and the package's loader, as a real
    export would; the minimal converter above stands in only if the loader is missing.
    """
    from leanplum_notebook.simulator.generator import DataConfig, Generator

    gen = Generator(DataConfig(seed=5, history_days=50), SIM_APP, SIM_END)
    lines = [record.line for day in gen.days for record in gen.sessions_for_day(day)]
    try:
        from leanplum_notebook.load import load
        from leanplum_notebook.simulator.writers import write_json
    except ImportError:
        tables = tables_from_lines(lines)
        source = "converter"
    else:
        folder = tmp_path_factory.mktemp("export")
        write_json(lines, folder, f"export-{SIM_APP}-0000-analysis", 64 * 2**20)
        loaded = load(folder, tables=["sessions", "events", "experiments"], progress=False)
        tables = SimpleNamespace(
            sessions=loaded.sessions, events=loaded.events, experiments=loaded.experiments
        )
        source = "loader"
    tables.gen = gen
    tables.source = source
    tables.lines = len(lines)
    return tables
