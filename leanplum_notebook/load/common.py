"""Shared pieces of the JSON and CSV loaders: the Arrow layout of the six tables, value rules.

Both loaders turn raw values into the same Arrow arrays through the functions here, so a
JSON export and a CSV export of the same sessions give identical tables:

- ids: exact int64 (ints, or decimal strings ``-?[0-9]+``); never through float;
- times: float seconds (numbers, Java-style ``1.591474962721E9`` or numeric strings) ->
  ``round(seconds * 1000)`` ms -> ``timestamp[ms, UTC]``;
- text: JSON strings as they are, ``true``/``false`` for booleans, ``str(int)``,
  ``repr(float)`` for numbers (the CSV writer's rule); an empty string is a missing value;
- ``isDeveloper``/``isSession``: Leanplum omits false fields, so missing means False.

Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from leanplum_notebook import schema

#: Bumped whenever the Parquet layout or a value rule changes: cached tables are re-parsed.
LOADER_VERSION: Final[int] = 1

#: Hidden column of the stored ``event_parameters`` table: the session of the event, so days
#: and duplicates can be filtered (the public table has no sessionId, as in Leanplum's CSV).
PARAM_SESSION: Final[str] = "_sessionId"

#: Boolean columns where a missing value means False (Leanplum omits false fields).
FALSE_IF_MISSING: Final[frozenset[str]] = frozenset({"isDeveloper", "isSession"})

INT64_MIN: Final[int] = -(2**63)
INT64_MAX: Final[int] = 2**63 - 1

_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "id": pa.int64(),
    "nullable_id": pa.int64(),
    "time": pa.timestamp("ms", tz="UTC"),
    "seconds": pa.float64(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "category": pa.string(),
    "text": pa.string(),
}

_ID_TEXT = re.compile(r"-?[0-9]+")


def arrow_schema(table: str) -> pa.Schema:
    """Return the stored Arrow schema of ``table`` (``event_parameters`` has ``_sessionId``)."""
    fields = [pa.field(name, _ARROW_TYPES[kind]) for name, kind in schema.TABLES[table].items()]
    if table == "event_parameters":
        fields.append(pa.field(PARAM_SESSION, pa.int64()))
    return pa.schema(fields)


ARROW_SCHEMAS: Final[dict[str, pa.Schema]] = {name: arrow_schema(name) for name in schema.TABLES}

#: Logical type of every stored column (including the hidden one).
STORED_KINDS: Final[dict[str, dict[str, str]]] = {
    name: {**cols, **({PARAM_SESSION: "nullable_id"} if name == "event_parameters" else {})}
    for name, cols in schema.TABLES.items()
}


# ---------------------------------------------------------------------------------------
# Python-level value rules (slow paths and the rare odd value)


def text_of(value: Any) -> str | None:
    """Return the text form of an attribute or parameter value (the CSV export's rule)."""
    if value is None or type(value) is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return str(value)
    # Nested JSON (never seen in exports): keep it as compact JSON text rather than drop it.
    return orjson.dumps(value).decode()


def py_id(value: Any) -> int | None:
    """Parse an id exactly: an int or a decimal string in the signed 64-bit range."""
    if value is None:
        return None
    if type(value) is int:
        number = value
    elif type(value) is str and _ID_TEXT.fullmatch(value):
        number = int(value)
    else:
        raise ValueError(f"id {value!r} is not a 64-bit integer")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"id {value!r} is outside the signed 64-bit range")
    return number


def py_float(value: Any) -> float | None:
    """Parse a number given as a JSON number or numeric text; '' and None are missing."""
    if value is None or value == "":
        return None
    if type(value) is bool:
        raise ValueError(f"{value!r} is not a number")
    if type(value) is str:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise ValueError(f"{value!r} is not a number")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def py_int(value: Any) -> int | None:
    """Parse a count: an int, an integral float or decimal text."""
    if value is None or value == "":
        return None
    if type(value) is int:
        number = value
    elif (type(value) is float and value.is_integer()) or (
        type(value) is str and _ID_TEXT.fullmatch(value.strip())
    ):
        number = int(value)
    else:
        raise ValueError(f"{value!r} is not an integer")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{value!r} is outside the signed 64-bit range")
    return number


def py_bool(value: Any) -> bool | None:
    """Parse a boolean: JSON true/false or the CSV texts true/false (any case), 1/0."""
    if value is None or value == "":
        return None
    if type(value) is bool:
        return value
    if type(value) is str:
        low = value.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
    raise ValueError(f"{value!r} is not a boolean")


def py_text(value: Any) -> str | None:
    """Text column value: missing for None and ''."""
    text = text_of(value)
    return text or None


PY_PARSERS: Final[dict[str, Any]] = {
    "id": py_id,
    "nullable_id": py_id,
    "time": py_float,
    "seconds": py_float,
    "float": py_float,
    "int": py_int,
    "bool": py_bool,
    "category": py_text,
    "text": py_text,
}


# ---------------------------------------------------------------------------------------
# Vectorized conversion of one raw column to its stored Arrow type


def seconds_to_timestamp(seconds: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Float seconds -> ``timestamp[ms, UTC]`` with ``round(seconds * 1000)`` (half to even)."""
    millis = pc.round(pc.multiply(seconds, 1000.0))
    # safe cast: raises on values whose milliseconds do not fit int64 instead of wrapping.
    return millis.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC"))


def empty_to_null(array: pa.Array) -> pa.Array:
    """Empty strings as missing values (the CSV export writes a missing field as empty)."""
    if len(array) == 0 or array.null_count == len(array):
        return array
    # Byte lengths come from the offsets alone: no pass over the text.
    is_empty = pc.equal(pc.binary_length(array), 0)
    if not pc.any(is_empty).as_py():
        return array
    return pc.if_else(is_empty, pa.scalar(None, pa.string()), array)


def may_contain(array: pa.Array, *characters: str) -> bool:
    """False only if no value of a string ``array`` holds any of these ASCII characters.

    A scan of the raw data buffer (bytes of sliced-off values included: a true answer may
    be a false alarm, a false one is certain), several times faster than a string kernel.
    """
    if isinstance(array, pa.ChunkedArray):
        return any(may_contain(chunk, *characters) for chunk in array.chunks)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return True  # another layout (string views...): the caller's exact check decides
    data = array.buffers()[2] if len(array) else None
    if data is None or data.size == 0:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)
    return any(bool((raw == ord(c)).any()) for c in characters)


def _infer(values: Sequence[Any]) -> pa.Array | None:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return None


_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)


def _typed(values: Sequence[Any], typ: pa.DataType) -> pa.Array | None:
    try:
        return pa.array(values, type=typ)
    except _CONVERSION_ERRORS:
        return None


def _id_column(values: Sequence[Any]) -> pa.Array | None:
    # Type inference (not an explicit int64 type, which would accept floats silently): ints
    # or decimal strings only, never floats, so an id never passes through float.
    array = _infer(values)
    if array is None:
        return None
    typ = array.type
    if typ == pa.int64() or pa.types.is_null(typ) or pa.types.is_string(typ):
        return array.cast(pa.int64())
    return None


def _float_column(values: Sequence[Any]) -> pa.Array | None:
    # An explicit float64 type is ~50x faster than inference for floats.
    array = _typed(values, pa.float64())
    if array is not None:
        return array
    text = _typed(values, pa.string())  # all text, e.g. lat/lon
    if text is not None:
        return _float_from_text(text)
    try:  # numbers mixed with numeric strings (spec 7.6: ~1 % of lines quote their times)
        mixed = [float(v) if type(v) is str else v for v in values]
    except ValueError:
        return None
    return _typed(mixed, pa.float64())


def column_to_arrow(values: Sequence[Any], kind: str, name: str) -> pa.Array:
    """Convert raw JSON values of one column to the stored Arrow array.

    Fast vectorized paths handle the usual types; anything else goes value by value
    through ``PY_PARSERS``. Raises ``ValueError`` (or an Arrow error) when a value is bad,
    so the caller can locate the line.
    """
    out: pa.Array | None
    if kind in ("id", "nullable_id"):
        out = _id_column(values)
    elif kind in ("time", "seconds", "float"):
        out = _float_column(values)
    elif kind == "int":
        out = _typed(values, pa.int64())
    elif kind == "bool":
        out = _typed(values, pa.bool_())
    else:  # category, text
        out = _typed(values, pa.string())
        if out is not None:
            out = empty_to_null(out)
    if out is None:
        parser = PY_PARSERS[kind]
        parsed = [parser(v) for v in values]
        out = pa.array(parsed, type=pa.float64() if kind == "time" else _ARROW_TYPES[kind])
    return finish_column(out, kind, name)


def _float_from_text(array: pa.Array) -> pa.Array:
    # Empty strings are missing; arrow parses Java-style "1.591474962721E9" like float().
    return empty_to_null(array).cast(pa.float64())


def finish_column(array: pa.Array, kind: str, name: str) -> pa.Array:
    """Apply the rules common to both loaders once a column has its base type."""
    if kind == "time":
        if array.type != pa.float64():
            array = array.cast(pa.float64())
        if array.null_count < len(array) and not pc.all(pc.is_finite(array)).as_py():
            raise ValueError(f"column {name}: a time is not a finite number")
        return seconds_to_timestamp(array)
    finite_check = kind in ("seconds", "float") and array.null_count < len(array)
    if finite_check and not pc.all(pc.is_finite(array)).as_py():
        raise ValueError(f"column {name}: a value is not a finite number")
    if kind == "id" and array.null_count:
        raise ValueError(f"column {name}: a required id is missing")
    if kind == "bool" and name in FALSE_IF_MISSING and array.null_count:
        array = array.fill_null(False)
    return array


#: JSON fields held as text that become numbers (spec 5.1: ``lat``/``lon`` are strings).
TEXT_NUMBERS: Final[frozenset[str]] = frozenset({"lat", "lon"})

_RAW_TYPES: Final[dict[str, pa.DataType]] = {
    "id": pa.int64(),
    "nullable_id": pa.int64(),
    "time": pa.float64(),
    "seconds": pa.float64(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "category": pa.string(),
    "text": pa.string(),
}


def _raw_struct(table: str) -> pa.StructType:
    return pa.struct(
        [
            (name, pa.string() if name in TEXT_NUMBERS else _RAW_TYPES[kind])
            for name, kind in STORED_KINDS[table].items()
        ]
    )


#: The row tuples of each table as an Arrow struct of their usual JSON types.
RAW_STRUCTS: Final[dict[str, pa.StructType]] = {name: _raw_struct(name) for name in schema.TABLES}


def _finish_raw(array: pa.Array, kind: str, name: str) -> pa.Array:
    if name in TEXT_NUMBERS:
        return finish_column(_float_from_text(array), kind, name)
    if kind in ("category", "text"):
        array = empty_to_null(array)
    return finish_column(array, kind, name)


def rows_to_table(table: str, rows: list[tuple[Any, ...]]) -> pa.Table:
    """Turn per-row tuples (stored column order) into the stored Arrow table.

    Fast path: all rows at once as an Arrow struct of the usual JSON types (ids as ints,
    times as floats: the JSON parser normalizes both), ~5x faster than column by column.
    Anything unusual (a number where text is expected...) takes the column-by-column path,
    which accepts every documented form and raises on bad values.
    """
    arrow_schema_ = ARROW_SCHEMAS[table]
    kinds = STORED_KINDS[table]
    if not rows:
        return arrow_schema_.empty_table()
    try:
        struct = pa.array(rows, type=RAW_STRUCTS[table])
    except _CONVERSION_ERRORS:
        struct = None
    if struct is not None:
        arrays = [
            _finish_raw(child, kinds[name], name)
            for child, name in zip(struct.flatten(), arrow_schema_.names, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=arrow_schema_)
    columns = list(zip(*rows, strict=True))
    arrays = [
        column_to_arrow(values, kinds[name], name)
        for values, name in zip(columns, arrow_schema_.names, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=arrow_schema_)
