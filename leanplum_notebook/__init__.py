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

# Public name -> (module relative to this package, attribute or None for the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "fetch": (".export", "fetch"),
    "plan": (".export", "plan"),
    "Export": (".export", "Export"),
    "Client": (".client", "Client"),
    "Settings": (".settings", "Settings"),
    "quota": (".quota", "quota"),
    "connect": (".connect", "connect"),
    "load": (".load", "load"),
    "Tables": (".load", "Tables"),
    "Simulator": (".simulator", "Simulator"),
    "ExportForm": (".widgets", "ExportForm"),
    "LeanplumError": (".errors", "LeanplumError"),
    "render_report": (".report", "render_report"),
    "metrics": (".metrics", None),
    "plots": (".plots", None),
    "joins": (".joins", None),
    "schema": (".schema", None),
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'leanplum_notebook' has no attribute {name!r}")
    module_name, attr = target
    module = importlib.import_module(module_name, __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
