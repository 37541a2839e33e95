"""The documented path of :mod:`leanplum_notebook.analysis.metrics`; kept for notebooks."""

from leanplum_notebook.analysis.metrics import *  # noqa: F403
from leanplum_notebook.analysis.metrics import __all__ as __all__
