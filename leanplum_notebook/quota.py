"""The documented path of :mod:`leanplum_notebook.store.quota`; kept for notebooks."""

from leanplum_notebook.store.quota import *  # noqa: F403
from leanplum_notebook.store.quota import __all__ as __all__
