"""The documented path of :mod:`leanplum_notebook.sources.connect`; kept for notebooks."""

from leanplum_notebook.sources.connect import *  # noqa: F403
from leanplum_notebook.sources.connect import __all__ as __all__
