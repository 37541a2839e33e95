"""Hand Dask DataFrames to :mod:`leanplum_notebook.dask_engine`, pandas ones to pandas.

The check looks at the argument's type name only, so the pandas path never imports Dask.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

P = ParamSpec("P")
R = TypeVar("R")


def is_dask(obj: object) -> bool:
    """Whether ``obj`` is a Dask collection (checked without importing Dask)."""
    return type(obj).__module__.split(".", 1)[0] in ("dask", "dask_expr")


def dask_aware(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``dask_engine.<same name>`` when any argument is a Dask DataFrame.

    The Dask versions take the same arguments and return the same pandas results, reducing
    the data in parallel first (see :mod:`leanplum_notebook.dask_engine`).
    """
    name = func.__name__

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if any(is_dask(value) for value in (*args, *kwargs.values())):
            engine: Any = importlib.import_module("leanplum_notebook.dask_engine")
            return cast(R, getattr(engine, name)(*args, **kwargs))
        return func(*args, **kwargs)

    return wrapper
