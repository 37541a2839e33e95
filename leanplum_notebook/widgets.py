"""The documented path of :mod:`leanplum_notebook.ui.widgets`; kept for notebooks."""

from leanplum_notebook.ui.widgets import *  # noqa: F403
from leanplum_notebook.ui.widgets import __all__ as __all__
