"""The package imports cheaply and exposes its public names lazily."""

import subprocess
import sys

import pytest

from leanplum_notebook import schema


def test_import_does_not_pull_heavy_modules() -> None:
    code = (
        "import sys, leanplum_notebook; "
        "bad = [m for m in ('pandas', 'requests', 'dask', 'matplotlib') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_schema_dtypes_cover_every_column() -> None:
    for table, columns in schema.TABLES.items():
        dtypes = schema.pandas_dtypes(table)
        assert list(dtypes) == list(columns)
        for key in schema.KEYS[table]:
            assert key in columns
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        schema.pandas_dtypes("nope")
