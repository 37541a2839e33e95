"""Join and reshape the loader's tables (pure: DataFrames in, DataFrames out).

- :func:`events_with_sessions`: each event with its session's user, device, start...
- :func:`sessions_with_attributes`: each session with one column per user attribute.
- :func:`events_with_parameters`: each event with one column per parameter.
- :func:`pivot_attributes`: the long ``user_attributes`` table made wide, typed.
- :func:`local_time`: the user's local wall-clock time from a UTC time and an offset.

Every function keeps the rows of its left table in their order (left joins) and never
changes the input frames.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from leanplum_notebook.engines import dask_aware

__all__ = [
    "DEFAULT_SESSION_COLUMNS",
    "events_with_parameters",
    "events_with_sessions",
    "local_time",
    "pivot_attributes",
    "pivot_parameters",
    "sessions_with_attributes",
]

#: Session columns :func:`events_with_sessions` adds by default.
DEFAULT_SESSION_COLUMNS: tuple[str, ...] = (
    "userId",
    "deviceId",
    "start",
    "timezoneOffset",
    "client",
    "osName",
    "appVersion",
    "country",
    "isSession",
)
#: Session columns whose name clashes with an event column get this prefix style:
#: ``start`` -> ``sessionStart``.
_CLASH_PREFIX = "session"

_INTEGER = re.compile(r"-?[0-9]+")
_TRUE_FALSE = {"True": True, "False": False, "true": True, "false": False}


def _unique_key(frame: pd.DataFrame, key: str, what: str) -> pd.DataFrame:
    if key not in frame.columns:
        raise ValueError(f"{what} has no {key!r} column")
    if frame[key].duplicated().any():
        raise ValueError(f"{what} has repeated {key} values; deduplicate it before joining")
    return frame


def _clash_name(column: str) -> str:
    return _CLASH_PREFIX + column[:1].upper() + column[1:]


@dask_aware
def events_with_sessions(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    *,
    columns: Sequence[str] = DEFAULT_SESSION_COLUMNS,
) -> pd.DataFrame:
    """Add session (and user) columns to every event.

    Parameters
    ----------
    events : DataFrame
        The ``events`` table (needs ``sessionId``).
    sessions : DataFrame
        The ``sessions`` table (``sessionId`` unique).
    columns : sequence of str
        Session columns to add. A column that the events already have is renamed with a
        ``session`` prefix: ``start`` -> ``sessionStart``, ``duration`` ->
        ``sessionDuration``.

    Returns
    -------
    DataFrame
        The event columns, then the session columns (``userId``, ``deviceId``,
        ``sessionStart``, ``timezoneOffset``, ``client``, ``osName``, ``appVersion``,
        ``country``, ``isSession`` by default); one row per event in the events' order;
        session columns missing (NA) for an event whose session is not in ``sessions``.
    """
    _unique_key(sessions, "sessionId", "sessions")
    missing = [c for c in columns if c not in sessions.columns]
    if missing:
        raise ValueError(f"sessions has no column(s) {missing}")
    if "sessionId" not in events.columns:
        raise ValueError("events has no 'sessionId' column")
    wanted = [c for c in columns if c != "sessionId"]
    lookup = sessions.set_index("sessionId")[wanted]
    added = lookup.reindex(pd.Index(events["sessionId"].to_numpy(), name="sessionId"))
    added = added.rename(columns={c: _clash_name(c) for c in wanted if c in events.columns})
    added.index = events.index
    return pd.concat([events, added], axis=1)


def _infer_dtype(values: pd.Series) -> pd.Series:
    """Typed column from text: booleans, Int64, float64, else string."""
    present = values.dropna()
    if present.empty:
        return values.astype("string")
    texts = present.astype(str)
    unique = pd.unique(texts.to_numpy())
    if all(u in _TRUE_FALSE for u in unique):
        return values.map(_TRUE_FALSE, na_action="ignore").astype("boolean")
    integers = all(_INTEGER.fullmatch(u) for u in unique)
    if integers and all(-(2**63) <= int(u) < 2**63 for u in unique):
        # Arrow's exact text -> int64 parse: large ids never pass through float.
        text = pa.array(list(values.astype(object).where(values.notna(), None)), pa.string())
        ints = text.cast(pa.int64()).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        return pd.Series(ints.array, index=values.index, name=values.name)
    try:
        as_float = pd.to_numeric(texts, errors="raise")
    except (ValueError, TypeError):
        return values.astype("string")
    out = pd.Series(np.nan, index=values.index, name=values.name, dtype="float64")
    out.loc[present.index] = as_float.astype("float64").to_numpy()
    return out


def _pivot(
    long: pd.DataFrame, key: str, *, names: Iterable[str] | None, infer_types: bool
) -> pd.DataFrame:
    for column in (key, "name", "value"):
        if column not in long.columns:
            raise ValueError(f"expected a long table with {key!r}, 'name', 'value' columns")
    data = long[[key, "name", "value"]]
    wanted = list(dict.fromkeys(names)) if names is not None else None
    if wanted is not None:
        data = data[data["name"].isin(wanted)]
    # The same name twice for one key (possible for a repeated eventId): keep the last.
    data = data.drop_duplicates([key, "name"], keep="last")
    names_found = sorted({str(n) for n in data["name"].dropna().unique()})
    columns = wanted if wanted is not None else names_found
    keys = pd.unique(data[key].to_numpy())
    wide = pd.DataFrame({key: keys})
    if len(data):
        codes = pd.Index(keys).get_indexer(data[key].to_numpy())
        for name in columns:
            mask = (data["name"] == name).to_numpy(dtype=bool, na_value=False)
            values = pd.Series(pd.NA, index=range(len(keys)), dtype="string", name=name)
            values.iloc[codes[mask]] = data["value"].to_numpy()[mask]
            wide[name] = _infer_dtype(values) if infer_types else values
    else:
        for name in columns:
            wide[name] = pd.Series(pd.NA, index=range(len(keys)), dtype="string")
    return wide


def pivot_attributes(
    user_attributes: pd.DataFrame,
    *,
    names: Iterable[str] | None = None,
    infer_types: bool = True,
) -> pd.DataFrame:
    """Make the long ``user_attributes`` table wide: one column per attribute.

    Parameters
    ----------
    user_attributes : DataFrame
        The ``user_attributes`` table (``sessionId``, ``name``, ``value``).
    names : iterable of str, optional
        Attributes to keep, in this column order (a name never seen gives an all-NA
        column). Default: every attribute, sorted by name.
    infer_types : bool
        Type each column from its values: only ``True``/``False`` (either case) ->
        ``boolean``; only integers in the int64 range -> ``Int64``; only numbers ->
        ``float64``; else ``string``. False keeps every column as ``string``.

    Returns
    -------
    DataFrame
        ``sessionId`` (int64), then one column per attribute; one row per session that has
        at least one of the attributes.
    """
    return _pivot(user_attributes, "sessionId", names=names, infer_types=infer_types)


def pivot_parameters(
    event_parameters: pd.DataFrame,
    *,
    names: Iterable[str] | None = None,
    infer_types: bool = True,
) -> pd.DataFrame:
    """Make the long ``event_parameters`` table wide: ``eventId`` + one column per parameter.

    Same rules as :func:`pivot_attributes`. A repeated ``eventId`` (rare, and ambiguous in
    Leanplum's export) keeps the last value of each parameter.

    Returns
    -------
    DataFrame
        ``eventId``, then one column per parameter name.
    """
    return _pivot(event_parameters, "eventId", names=names, infer_types=infer_types)


def sessions_with_attributes(
    sessions: pd.DataFrame,
    user_attributes: pd.DataFrame,
    *,
    names: Iterable[str] | None = None,
    infer_types: bool = True,
) -> pd.DataFrame:
    """Add one column per user attribute to every session.

    Parameters
    ----------
    sessions : DataFrame
        The ``sessions`` table.
    user_attributes : DataFrame
        The ``user_attributes`` table.
    names, infer_types
        As in :func:`pivot_attributes`.

    Returns
    -------
    DataFrame
        The session columns, then one column per attribute (an attribute named like a
        session column gets an ``attr_`` prefix); one row per session, in order; NA where a
        session lacks the attribute.
    """
    wide = pivot_attributes(user_attributes, names=names, infer_types=infer_types)
    return _left_join(sessions, wide, "sessionId", prefix="attr_")


def events_with_parameters(
    events: pd.DataFrame,
    event_parameters: pd.DataFrame,
    *,
    names: Iterable[str] | None = None,
    infer_types: bool = True,
) -> pd.DataFrame:
    """Add one column per event parameter to every event.

    Parameters
    ----------
    events : DataFrame
        The ``events`` table.
    event_parameters : DataFrame
        The ``event_parameters`` table.
    names, infer_types
        As in :func:`pivot_attributes`.

    Returns
    -------
    DataFrame
        The event columns, then one column per parameter (a parameter named like an event
        column gets a ``param_`` prefix); one row per event, in order. Events sharing an
        ``eventId`` get the same parameters.
    """
    wide = pivot_parameters(event_parameters, names=names, infer_types=infer_types)
    return _left_join(events, wide, "eventId", prefix="param_")


def _left_join(left: pd.DataFrame, wide: pd.DataFrame, key: str, *, prefix: str) -> pd.DataFrame:
    if key not in left.columns:
        raise ValueError(f"the left table has no {key!r} column")
    added = wide.set_index(key).reindex(pd.Index(left[key].to_numpy(), name=key))
    added = added.rename(columns={c: prefix + c for c in added.columns if c in left.columns})
    added.index = left.index
    return pd.concat([left, added], axis=1)


def local_time(times: pd.Series, offsets_seconds: pd.Series) -> pd.Series:
    """The user's local wall-clock time: a UTC time shifted by the session's offset.

    Parameters
    ----------
    times : Series
        Timezone-aware (UTC) or naive UTC datetimes, e.g. ``sessions.start``.
    offsets_seconds : Series
        Offsets from UTC in seconds, e.g. ``sessions.timezoneOffset`` (aligned by index).

    Returns
    -------
    Series
        Naive datetimes (same resolution as ``times``) of the local time; NaT where the
        time or the offset is missing.
    """
    if not pd.api.types.is_datetime64_any_dtype(times):
        raise TypeError(f"times must be datetimes, not {times.dtype}")
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None) if times.dt.tz is not None else times
    offsets = pd.to_numeric(offsets_seconds, errors="raise").astype("Float64")
    shift = pd.to_timedelta(offsets.astype("float64"), unit="s")
    result = (naive + shift).astype(naive.dtype)
    result.name = times.name
    return result
