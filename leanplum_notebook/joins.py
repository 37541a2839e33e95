"""The documented path of :mod:`leanplum_notebook.analysis.joins`; kept for notebooks."""

from leanplum_notebook.analysis.joins import *  # noqa: F403
from leanplum_notebook.analysis.joins import __all__ as __all__
