"""Hand Dask DataFrames to :mod:`leanplum_notebook.dask_engine`, pandas ones to pandas.

The check (``_dask_check.is_dask``) looks at the argument's type only, so the pandas
path never imports Dask.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from ._dask_check import is_dask

P = ParamSpec("P")
R = TypeVar("R")


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
