"""Which days, tables, columns and sessions a load keeps: one definition for both loaders.

The pandas loader (:mod:`leanplum_notebook.load.loader`) and the Dask reader
(:mod:`leanplum_notebook.dask.read`) check their arguments and filter sessions by Pacific
day with these functions, so the two can never disagree on what a load returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from leanplum_notebook import schema
from leanplum_notebook.dates import PACIFIC_NAME, parse_day
from leanplum_notebook.errors import ValidationError

__all__ = [
    "check_columns",
    "check_days",
    "check_tables",
    "intersect",
    "pacific_days",
    "session_mask",
]


def check_days(days: Any) -> frozenset[date] | None:
    """The Pacific days asked for (``None``: all), parsed by :func:`dates.parse_day`.

    Raises
    ------
    ValidationError
        Naming ``days`` for a value that is not a day or an iterable of days.
    """
    if days is None:
        return None
    if isinstance(days, (str, date)):
        return frozenset({parse_day(days, "days")})
    if not isinstance(days, Iterable):
        raise ValidationError("days", f"expected a date or dates, not {type(days).__name__}")
    return frozenset(parse_day(day, "days") for day in days)


def check_tables(tables: Any) -> list[str]:
    """The tables asked for, in :data:`schema.TABLES` order (``None``: all six).

    Raises
    ------
    ValidationError
        Naming ``tables`` for an unknown name or an empty list.
    """
    if tables is None:
        return list(schema.TABLES)
    names = [tables] if isinstance(tables, str) else list(tables)
    unknown = [name for name in names if name not in schema.TABLES]
    if unknown or not names:
        raise ValidationError(
            "tables", f"unknown table(s) {unknown}; expected some of {list(schema.TABLES)}"
        )
    return [name for name in schema.TABLES if name in names]


def check_columns(columns: Any, tables: list[str]) -> dict[str, list[str]]:
    """Columns to return per table: all, a list for every table, or a dict per table.

    Raises
    ------
    ValidationError
        Naming ``columns`` for an unknown table or column.
    """
    if columns is None:
        return {name: list(schema.TABLES[name]) for name in tables}
    if isinstance(columns, Mapping):
        out = {name: list(schema.TABLES[name]) for name in tables}
        for table, cols in columns.items():
            if table not in schema.TABLES:
                raise ValidationError("columns", f"unknown table {table!r}")
            if table not in tables:
                raise ValidationError("columns", f"table {table!r} is not in tables={tables}")
            cols = [cols] if isinstance(cols, str) else list(cols)
            bad = [c for c in cols if c not in schema.TABLES[table]]
            if bad:
                raise ValidationError(
                    "columns",
                    f"{table} has no column(s) {bad}; its columns are {list(schema.TABLES[table])}",
                )
            out[table] = cols
        return out
    cols = [columns] if isinstance(columns, str) else list(columns)
    known = {c for name in tables for c in schema.TABLES[name]}
    bad = [c for c in cols if c not in known]
    if bad:
        raise ValidationError("columns", f"no loaded table has column(s) {bad}")
    return {name: [c for c in cols if c in schema.TABLES[name]] for name in tables}


def intersect(a: frozenset[date] | None, b: frozenset[date] | None) -> frozenset[date] | None:
    """Days in both sets, where ``None`` means every day."""
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def pacific_days(start: pa.ChunkedArray | pa.Array) -> Any:
    """The Pacific calendar day (date32) of each UTC ``start``."""
    local = pc.local_timestamp(start.cast(pa.timestamp("ms", tz=PACIFIC_NAME)))
    return local.cast(pa.date32())


def session_mask(sessions: pa.Table, days: Iterable[date]) -> pa.Array:
    """Sessions to keep: those starting on one of ``days`` (Pacific).

    A session without a start cannot be placed on a day: it is kept.

    Parameters
    ----------
    sessions : pyarrow.Table
        Needs a ``start`` column (timestamp, UTC).
    days : iterable of date
        The Pacific days wanted.

    Returns
    -------
    pyarrow.BooleanArray
        One flag per session, no nulls.
    """
    start = sessions.column("start")
    on_day = pc.is_in(pacific_days(start), value_set=pa.array(sorted(days), pa.date32()))
    return pc.fill_null(pc.or_kleene(on_day, pc.is_null(start)), False)
