"""The documented path of :mod:`leanplum_notebook.sources.export`; kept for notebooks."""

from leanplum_notebook.sources.export import *  # noqa: F403
from leanplum_notebook.sources.export import __all__ as __all__
