"""``load(engine="dask")`` and the pandas metric functions given Dask DataFrames.

:mod:`leanplum_notebook.load`, ``metrics`` and ``joins`` hand Dask input to
:mod:`leanplum_notebook.dask_engine`; the dispatched result must equal the pandas one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from leanplum_notebook import dask_engine as lde
from leanplum_notebook.load import load

from .test_dask_engine import CASES, assert_tables_equal


def test_load_engine_dask(sim_export: Any, pandas_tables: Any) -> None:
    tables = load(sim_export.export, engine="dask", tables=["sessions", "experiments"])
    assert isinstance(tables, lde.DaskTables)
    assert_tables_equal(pandas_tables, tables.compute())


@pytest.mark.parametrize(
    ("func", "tables", "kwargs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_metrics_take_dask_frames(
    pandas_tables: Any,
    sim_export: Any,
    func: Callable[..., pd.DataFrame],
    tables: tuple[str, ...],
    kwargs: dict[str, Any],
) -> None:
    dask_tables = lde.load_dask(sim_export.export)
    kwargs = dict(kwargs)
    steps = [kwargs.pop("steps")] if "steps" in kwargs else []
    expected = func(*(pandas_tables[t] for t in tables), *steps, **kwargs)
    got = func(*(dask_tables[t] for t in tables), *steps, **kwargs)
    pd.testing.assert_frame_equal(got, expected)
