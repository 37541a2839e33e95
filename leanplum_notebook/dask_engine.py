"""The documented path of :mod:`leanplum_notebook.dask.engine`; kept for notebooks."""

from leanplum_notebook.dask.engine import *  # noqa: F403
from leanplum_notebook.dask.engine import __all__ as __all__
