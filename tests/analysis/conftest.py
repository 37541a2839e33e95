"""Shared fixtures for the analysis tests: frames with the exact schema dtypes, Agg figures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
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
