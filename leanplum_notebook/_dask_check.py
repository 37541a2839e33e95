"""Tell Dask collections apart from pandas objects without importing Dask.

``load`` and ``metrics`` call :func:`is_dask` to decide whether to hand a call to
:mod:`leanplum_notebook.dask_engine`; the pandas path must never import Dask, so this test
looks at the object's type only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_dask"]


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
