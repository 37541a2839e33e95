"""``python -m leanplum_notebook.cli``: the command line of :mod:`leanplum_notebook.ui.cli`."""

import sys

from leanplum_notebook.ui.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
