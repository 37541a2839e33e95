"""Load Leanplum raw-data exports (JSON or CSV) into six typed pandas tables.

``from leanplum_notebook.load import load`` is the documented path; the loader itself is
:mod:`leanplum_notebook.load.loader`, with the parsers beside it (``json_fast`` on DuckDB,
``json_exact`` in Python, ``csv``), the Parquet cache (``parquet``) and the tables (``tables``).
"""

from leanplum_notebook.errors import LoadError
from leanplum_notebook.load.loader import (
    LoadReport,
    SessionCountMismatch,
    Tables,
    load,
    load_tables,
)

__all__ = ["LoadError", "LoadReport", "SessionCountMismatch", "Tables", "load", "load_tables"]
