"""The package imports cheaply and exposes its public names lazily."""

import json
import subprocess
import sys
from pathlib import Path

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


# What every public name of the package must be, whatever was imported before it.
KINDS = {
    **dict.fromkeys(("errors", "metrics", "plots", "joins", "schema"), "module"),
    **dict.fromkeys(
        ("fetch", "plan", "connect", "feed", "quota", "load", "load_dask", "render_report"),
        "function",
    ),
    **dict.fromkeys(
        (
            "Client",
            "Connection",
            "DaskTables",
            "Export",
            "ExportForm",
            "Feed",
            "LeanplumError",
            "LoadError",
            "LoadReport",
            "Settings",
            "Simulator",
            "Tables",
            "ValidationError",
        ),
        "class",
    ),
}

# Import orders that used to bind a submodule over the function of the same name.
ORDERS = {
    "package first": "import leanplum_notebook as lpn",
    "quota module after a name": (
        "import leanplum_notebook as lpn; lpn.fetch; import leanplum_notebook.store.quota"
    ),
    "documented quota module first": (
        "import leanplum_notebook.quota; import leanplum_notebook as lpn"
    ),
    "load module first": "import leanplum_notebook.load; import leanplum_notebook as lpn",
    "from load import": (
        "from leanplum_notebook.load import load, Tables; import leanplum_notebook as lpn"
    ),
    "every documented module first": (
        "import leanplum_notebook.metrics, leanplum_notebook.joins, leanplum_notebook.export, "
        "leanplum_notebook.connect, leanplum_notebook.widgets, leanplum_notebook.quota, "
        "leanplum_notebook.load, leanplum_notebook.dask_engine; import leanplum_notebook as lpn"
    ),
}

PROBE = """
import inspect, json, types
{setup}
def kind(value):
    if isinstance(value, types.ModuleType):
        return "module"
    if inspect.isclass(value):
        return "class"
    if inspect.isfunction(value):
        return "function"
    return type(value).__name__
names = [n for n in lpn.__all__ if n != "__version__"]
print(json.dumps({{n: kind(getattr(lpn, n)) for n in names}}))
"""


@pytest.mark.parametrize("order", list(ORDERS), ids=list(ORDERS))
def test_every_public_name_has_its_kind_in_any_import_order(order: str) -> None:
    code = PROBE.format(setup=ORDERS[order])
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == KINDS


def test_quota_is_callable_after_its_module_is_imported(tmp_path: Path) -> None:
    # the regression: lpn.quota() raised "TypeError: 'module' object is not callable"
    code = (
        "import leanplum_notebook as lpn; lpn.fetch; import leanplum_notebook.store.quota\n"
        "import leanplum_notebook.load\n"
        f"status = lpn.quota(app_id='app_facade', cache_dir={str(tmp_path)!r})\n"
        "print(type(status).__name__, status.remaining)\n"
        "print(lpn.load.__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    first, second = out.stdout.split("\n")[:2]
    assert first.endswith(" 24") and second == "leanplum_notebook.load.loader"


def test_all_matches_what_is_exported() -> None:
    import leanplum_notebook as lpn

    assert sorted(lpn.__all__) == sorted(["__version__", *KINDS])
    assert sorted(dir(lpn)) == sorted(lpn.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = lpn.nope  # type: ignore[attr-defined]
    # the documented module paths reach the same objects as the package names
    from leanplum_notebook import metrics
    from leanplum_notebook.dask_engine import load_dask
    from leanplum_notebook.load import load

    assert lpn.metrics is metrics and lpn.load is load and lpn.load_dask is load_dask
