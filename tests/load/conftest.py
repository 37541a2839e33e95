"""Helpers shared by the loader tests, handed to test modules by the ``lh`` fixture.

With ``--import-mode=importlib`` a conftest is not importable by name, hence the fixture.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from leanplum_notebook import schema

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


def copy_golden(tmp_path: Path, which: str) -> Path:
    """Copy a golden export folder (e.g. ``"json"``, ``"nostates/csv"``) under ``tmp_path``.

    Loading writes a Parquet cache next to the files: never into the repository.
    """
    target = tmp_path / which.replace("/", "-")
    shutil.copytree(GOLDEN / which, target)
    return target


def normalized(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by every column (keys first), fresh index: order-independent comparison."""
    return frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)


def assert_tables_equal(left: object, right: object) -> None:
    """Same tables, same rows (in any order), same columns and dtypes."""
    for name in schema.TABLES:
        a, b = left[name], right[name]  # type: ignore[index]
        pd.testing.assert_frame_equal(normalized(a), normalized(b), check_exact=True, obj=name)


def assert_schema_dtypes(tables: object) -> None:
    """Every table has exactly the schema's columns, in order, with its dtypes."""
    for name in schema.TABLES:
        frame = tables[name]  # type: ignore[index]
        expected = schema.pandas_dtypes(name)
        assert list(frame.columns) == list(expected), name
        for column, dtype in expected.items():
            assert frame[column].dtype == dtype, (name, column, frame[column].dtype)
        assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
        for column, kind in schema.TABLES[name].items():
            if kind == "category":
                cats = list(frame[column].cat.categories)
                assert cats == sorted(cats), (name, column)


@pytest.fixture
def lh() -> ModuleType:
    """This module: ``lh.copy_golden``, ``lh.assert_tables_equal``..."""
    return sys.modules[__name__]
