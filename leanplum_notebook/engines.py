"""Which engine runs a computation: pandas, or Dask (looked up by name, never imported here).

``load``, the metrics and the joins call :func:`engine_of` on their arguments and hand Dask
input to :func:`engine` ``("dask")``. This is the only place that names the Dask engine's
module, and it does so as a string: the pandas path never imports Dask.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, ParamSpec, TypeVar, cast

__all__ = ["ENGINES", "dask_aware", "engine", "engine_of", "is_dask"]

#: Engine name -> the module that implements it (``run_reduction``, ``load_dask``...).
ENGINES = {"dask": "leanplum_notebook.dask.engine"}

P = ParamSpec("P")
R = TypeVar("R")


def is_dask(obj: Any) -> bool:
    """Return whether ``obj`` is a Dask collection (DataFrame, Series, Bag, Array...).

    Parameters
    ----------
    obj : object
        Anything; pandas objects, ``None`` and plain values give ``False``.

    Returns
    -------
    bool
        ``True`` for objects whose class is defined in the ``dask`` package (or a
        subclass of one). Never imports Dask.
    """
    for cls in type(obj).__mro__:
        module = cls.__module__ or ""
        if module == "dask" or module.startswith("dask."):
            return True
    return False


def engine_of(*values: Any) -> str:
    """``"dask"`` if any of ``values`` is a Dask collection, else ``"pandas"``."""
    return "dask" if any(is_dask(v) for v in values) else "pandas"


def engine(name: str) -> ModuleType:
    """The module implementing engine ``name`` (imported on first use).

    Parameters
    ----------
    name : str
        A key of :data:`ENGINES` (``"dask"``).

    Returns
    -------
    module
        The engine's module.

    Raises
    ------
    ValueError
        For an unknown engine name.
    """
    try:
        module_name = ENGINES[name]
    except KeyError:
        raise ValueError(f"engine must be one of {sorted(ENGINES)}, not {name!r}") from None
    return importlib.import_module(module_name)


def dask_aware(func: Callable[P, R]) -> Callable[P, R]:
    """Run the Dask engine's function of the same name when an argument is a Dask frame.

    For the functions that are not reductions (joins): they keep one pandas definition and
    the Dask engine applies it partition by partition.
    """
    name = func.__name__

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        kind = engine_of(*args, *kwargs.values())
        if kind != "pandas":
            return cast(R, getattr(engine(kind), name)(*args, **kwargs))
        return func(*args, **kwargs)

    return wrapper
