"""leanplum-notebook: Leanplum's raw-data export in Jupyter.

Export (``fetch``), cache, typed pandas tables (``load``), joins, metrics, charts,
reports, and a bundled simulator of the export API.

Importing the package does no I/O, starts no thread and reads no environment variable;
the public names below are imported lazily on first use, so ``import leanplum_notebook``
stays cheap and the pandas path never pulls in Dask.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it (relative to this package).
_LAZY: dict[str, str] = {
    "fetch": ".export",
    "Export": ".export",
    "Client": ".client",
    "Settings": ".settings",
    "quota": ".quota",
    "load": ".load",
    "load_tables": ".load",
    "Simulator": ".simulator",
    "ExportForm": ".widgets",
    "LeanplumError": ".errors",
    "metrics": ".metrics",
    "plots": ".plots",
    "joins": ".joins",
    "schema": ".schema",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'leanplum_notebook' has no attribute {name!r}")
    module = importlib.import_module(module_name, __name__)
    value = module if module_name == f".{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
