"""leanplum-notebook: Leanplum's raw-data export in Jupyter.

Export (``fetch``), cache, typed pandas tables (``load``), joins, metrics, charts,
reports, and a bundled simulator of the export API.

Importing the package does no I/O, starts no thread and reads no environment variable;
the public names below are imported lazily on first use, so ``import leanplum_notebook``
stays cheap and the pandas path never pulls in Dask.

The layers, each importing only those above it::

    errors redaction                               the error tree; the one redaction layer
    settings dates models schema engines           pure; each rule defined once
    api/        client (HTTP, retries), polling, download
    store/      cache (per-day entries, the planner), quota (ledger), files (atomic I/O)
    sources/    export (fetch, plan, Export), connect, feed (the automated export feed)
    load/       loader, json_fast (DuckDB), json_exact (Python), csv, parquet, tables
    analysis/   reductions (one definition per metric, run on pandas), metrics, joins
    plots       matplotlib charts of the small results
    dask/       the Dask engine: partitions, the reduction runner, DaskTables
    ui/         widgets, report, demo, cli (printing only there)
    simulator/  the other side of the wire; shares no code with the client

Some public functions share their name with the module that documents them
(``from leanplum_notebook.load import load``): on the package, such a name is always the
function, whatever was imported before (:class:`_Facade`). For the same reason
``import leanplum_notebook.load as m`` gives the function: import the module's names
instead (``from leanplum_notebook.load import load, Tables``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# Public name -> (module, attribute or None for the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "fetch": ("leanplum_notebook.sources.export", "fetch"),
    "plan": ("leanplum_notebook.sources.export", "plan"),
    "Export": ("leanplum_notebook.sources.export", "Export"),
    "connect": ("leanplum_notebook.sources.connect", "connect"),
    "feed": ("leanplum_notebook.sources.feed", "feed"),
    "Feed": ("leanplum_notebook.sources.feed", "Feed"),
    "Connection": ("leanplum_notebook.sources.connect", "Connection"),
    "Client": ("leanplum_notebook.api.client", "Client"),
    "Settings": ("leanplum_notebook.settings", "Settings"),
    "quota": ("leanplum_notebook.store.quota", "quota"),
    "load": ("leanplum_notebook.load.loader", "load"),
    "Tables": ("leanplum_notebook.load.loader", "Tables"),
    "LoadReport": ("leanplum_notebook.load.loader", "LoadReport"),
    "load_dask": ("leanplum_notebook.dask.engine", "load_dask"),
    "DaskTables": ("leanplum_notebook.dask.engine", "DaskTables"),
    "Simulator": ("leanplum_notebook.simulator", "Simulator"),
    "ExportForm": ("leanplum_notebook.ui.widgets", "ExportForm"),
    "render_report": ("leanplum_notebook.ui.report", "render_report"),
    "LeanplumError": ("leanplum_notebook.errors", "LeanplumError"),
    "ValidationError": ("leanplum_notebook.errors", "ValidationError"),
    "LoadError": ("leanplum_notebook.errors", "LoadError"),
    "errors": ("leanplum_notebook.errors", None),
    # the documented modules (thin re-exports), so lpn.metrics is one object in any order
    "metrics": ("leanplum_notebook.metrics", None),
    "plots": ("leanplum_notebook.plots", None),
    "joins": ("leanplum_notebook.joins", None),
    "schema": ("leanplum_notebook.schema", None),
}

__all__ = ["__version__", *sorted(_LAZY)]


def _resolve(name: str) -> Any:
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attr is None else getattr(module, attr)


class _Facade(types.ModuleType):
    """The package module: a public name always resolves to its public object.

    Importing ``leanplum_notebook.load`` makes Python bind the submodule on the package
    under ``load``, over the function of that name; this class refuses that binding for the
    public names, so ``lpn.load`` and ``lpn.quota`` stay the functions in any import order.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType) and _LAZY[name][1] is not None:
            return
        super().__setattr__(name, value)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'leanplum_notebook' has no attribute {name!r}")
    value = _resolve(name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


sys.modules[__name__].__class__ = _Facade
