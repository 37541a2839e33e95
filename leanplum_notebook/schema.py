"""The six tables of a Leanplum export: names, columns, order and dtypes.

This module is the contract between the loaders (which build the tables from JSON or CSV
files), the Parquet cache, the joins, the metrics and the plots. Column names are the
ones of Leanplum's CSV export (spec section 5.2), in the same order, so a user who knows
the CSV files knows the tables. The JSON export is mapped onto the same names
(``time`` -> ``start``, ``firstRun`` -> ``userStart``, ``systemName`` -> ``osName``...).

Logical types (pandas dtype in brackets):

- ``id``: exact signed 64-bit integer, never through float (``int64``; ``Int64`` where a
  value may be missing).
- ``time``: instant, timezone-aware UTC at millisecond precision (``datetime64[ms, UTC]``).
- ``seconds``: duration or offset in seconds (``float64``).
- ``float``: other numbers (``float64``).
- ``int``: counts and small integers (``Int64``, nullable).
- ``bool``: nullable boolean (``boolean``).
- ``category``: low-cardinality text (``category``, categories sorted).
- ``text``: free text or high-cardinality identifiers (``string``).

Pure data; importing it does no I/O.
"""

from __future__ import annotations

import re
from typing import Final, Literal

LogicalType = Literal[
    "id", "nullable_id", "time", "seconds", "float", "int", "bool", "category", "text"
]

#: pandas dtype for each logical type.
PANDAS_DTYPES: Final[dict[str, str]] = {
    "id": "int64",
    "nullable_id": "Int64",
    "time": "datetime64[ms, UTC]",
    "seconds": "float64",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
    "category": "category",
    "text": "string",
}

SESSIONS: Final[dict[str, LogicalType]] = {
    "sessionId": "id",
    "userId": "text",
    "userBucket": "int",
    "userStart": "time",
    "country": "category",
    "region": "category",
    "city": "category",
    "start": "time",
    "duration": "seconds",
    "lat": "float",
    "lon": "float",
    "locale": "category",
    "timezone": "category",
    "timezoneOffset": "int",
    "appVersion": "category",
    "client": "category",
    "sdkVersion": "category",
    "osName": "category",
    "osVersion": "category",
    "deviceModel": "category",
    "browserName": "category",
    "browserVersion": "category",
    "deviceId": "text",
    "priorEvents": "int",
    "priorSessions": "int",
    "priorTimeSpentInApp": "seconds",
    "priorStates": "int",
    "isDeveloper": "bool",
    "isSession": "bool",
    "sourcePublisherId": "category",
    "sourcePublisher": "category",
    "sourceSubPublisher": "category",
    "sourceSite": "category",
    "sourceCampaign": "category",
    "sourceAdGroup": "category",
    "sourceAd": "category",
}

STATES: Final[dict[str, LogicalType]] = {
    "stateId": "id",
    "sessionId": "id",
    "stateName": "category",
    "start": "time",
    "duration": "seconds",
    "info": "text",
    "timeUntilFirstForUser": "seconds",
}

EVENTS: Final[dict[str, LogicalType]] = {
    "eventId": "id",
    "stateId": "id",
    "sessionId": "id",
    "eventName": "category",
    "start": "time",
    "value": "float",
    "info": "text",
    "timeUntilFirstForUser": "seconds",
}

EVENT_PARAMETERS: Final[dict[str, LogicalType]] = {
    "eventId": "id",
    "name": "category",
    "value": "text",
}

USER_ATTRIBUTES: Final[dict[str, LogicalType]] = {
    "sessionId": "id",
    "name": "category",
    "value": "text",
}

EXPERIMENTS: Final[dict[str, LogicalType]] = {
    "experimentId": "id",
    "sessionId": "id",
    "variantId": "id",
}

#: Table name -> columns in order with their logical type.
TABLES: Final[dict[str, dict[str, LogicalType]]] = {
    "sessions": SESSIONS,
    "states": STATES,
    "events": EVENTS,
    "event_parameters": EVENT_PARAMETERS,
    "user_attributes": USER_ATTRIBUTES,
    "experiments": EXPERIMENTS,
}

#: Table name -> the ``output<type>`` part of a CSV export file name.
CSV_FILE_KINDS: Final[dict[str, str]] = {
    "sessions": "sessions",
    "states": "states",
    "events": "events",
    "event_parameters": "eventparameters",
    "user_attributes": "userattributes",
    "experiments": "experiments",
}

# Export file names (spec 3): the one definition of them, for the loaders and the Dask
# reader. A manifest (``...-output-manifest``) or a partial download matches neither.
#: A JSON-lines export file: ``<stem>-output-<shard>``, optionally ``.gz``.
JSON_FILE: Final = re.compile(r"(?P<stem>.+)-output-(?P<shard>[0-9]+)(?:\.gz)?")
#: A CSV export file: ``<stem>-output<kind>-<shard>``, ``kind`` a value of CSV_FILE_KINDS.
CSV_FILE: Final = re.compile(
    r"(?P<stem>.+)-output(?P<kind>" + "|".join(CSV_FILE_KINDS.values()) + r")-(?P<shard>[0-9]+)"
    r"(?:\.gz)?"
)

#: A feed manifest (spec 3.3): ``<stem>-output-manifest`` (JSON) or
#: ``<stem>-output<kind>-manifest`` (CSV), written last, listing the job's files.
MANIFEST_FILE: Final = re.compile(r"(?P<stem>.+)-output(?P<kind>[a-z]*)-manifest")

#: Key columns of each table (spec 5.2). ``event_parameters`` rows are keyed by
#: (eventId, name); a repeated eventId inside a session makes that key ambiguous, as in
#: Leanplum's own CSV export.
KEYS: Final[dict[str, tuple[str, ...]]] = {
    "sessions": ("sessionId",),
    "states": ("sessionId", "stateId"),
    "events": ("sessionId", "stateId", "eventId"),
    "event_parameters": ("eventId", "name"),
    "user_attributes": ("sessionId", "name"),
    "experiments": ("sessionId", "experimentId"),
}

#: JSON session field -> table column, where the names differ (spec 5.2).
JSON_TO_COLUMN: Final[dict[str, str]] = {
    "time": "start",
    "firstRun": "userStart",
    "systemName": "osName",
    "systemVersion": "osVersion",
    "timezoneOffsetSeconds": "timezoneOffset",
}


def pandas_dtypes(table: str) -> dict[str, str]:
    """Return the pandas dtype of every column of ``table``, in column order.

    Parameters
    ----------
    table : str
        One of ``TABLES``.

    Returns
    -------
    dict of str to str
        Column name -> pandas dtype string.
    """
    try:
        columns = TABLES[table]
    except KeyError:
        raise ValueError(f"unknown table {table!r}; expected one of {sorted(TABLES)}") from None
    return {name: PANDAS_DTYPES[kind] for name, kind in columns.items()}
