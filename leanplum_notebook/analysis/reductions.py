"""The Reduction type every metric is written as, and the pandas engine that runs it.

A metric is defined once, in three steps (the contract of dask's ``Aggregation(chunk, agg,
finalize)``):

``reduce(*frames) -> partial``
    Runs on pandas frames holding whole sessions: the entire tables, or partition ``i`` of
    each table on Dask (an event's session is always in the same partition as the event).
    A partial is a dict of named *pieces*, each small next to the data (distinct
    ``(userId, day)`` pairs, counts per day, each user's first run...).
``combine[piece](list of pieces) -> piece``
    Merges the pieces of several partials; associative, so Dask can combine in a tree, and
    order-keeping (earlier partitions first), so ties break by table order as in pandas.
``finalize(partial) -> result``
    Turns the one remaining partial into the metric's DataFrame.

The pandas engine (:func:`run`) calls ``finalize(reduce(*frames))``; the Dask engine maps
``reduce`` over aligned partitions, combines and finalizes. A metric that needs all the rows
of a user together (a funnel) also has ``prepare(*frames, part=i) -> rows with userId``: the
Dask engine shuffles those rows by ``userId`` before ``reduce``.

The combiners of the usual pieces live here, so each is written once: :func:`distinct`,
:func:`total`, :func:`stacked`, :func:`earliest`, :func:`bounds`, :func:`added`. They
work on integer codes of the key columns (:func:`first_rows`): the pieces of a large
export reach a million rows, and a Dask worker merging them has a fraction of a GB.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leanplum_notebook.engines import engine, engine_of

__all__ = [
    "Partial",
    "Reduction",
    "added",
    "bounds",
    "combine",
    "distinct",
    "earliest",
    "earliest_rows",
    "first_rows",
    "run",
    "stacked",
    "total",
    "value_bounds",
]

#: A reduced partition: piece name -> piece (DataFrame, Series, array, tuple...).
Partial = dict[str, Any]


@dataclass(frozen=True)
class Reduction:
    """One metric as reduce, combine and finalize (see the module docstring).

    Attributes
    ----------
    reduce : callable
        ``reduce(*frames) -> Partial`` on pandas frames of whole sessions (or, with
        ``prepare``, on the prepared rows of whole users).
    combine : mapping of str to callable
        For every piece of the partial, how a list of them merges into one.
    finalize : callable
        ``finalize(partial) -> result`` (a DataFrame or Series).
    columns : tuple of tuple of str
        For each input frame, the columns ``reduce`` (or ``prepare``) may read; an engine
        may read only these (those absent from a frame are simply not read).
    prepare : callable, optional
        ``prepare(*frames, part=i) -> DataFrame`` with a ``userId`` column, for metrics
        that need every row of a user in one ``reduce`` call; ``part`` numbers the
        partition so the rows can carry their table order.
    name : str
        The metric's name (for task names and messages).
    """

    reduce: Callable[..., Partial]
    combine: Mapping[str, Callable[[list[Any]], Any]]
    finalize: Callable[[Partial], Any]
    columns: tuple[tuple[str, ...], ...] = field(default=())
    prepare: Callable[..., pd.DataFrame] | None = None
    name: str = "metric"


def combine(reduction: Reduction, partials: Sequence[Partial]) -> Partial:
    """Merge partials piece by piece with the reduction's combiners.

    Parameters
    ----------
    reduction : Reduction
        Whose ``combine`` mapping to use.
    partials : sequence of Partial
        In table order (earlier partitions first).

    Returns
    -------
    Partial
        One partial with the same pieces.
    """
    if len(partials) == 1:
        return partials[0]
    return {name: merge([p[name] for p in partials]) for name, merge in reduction.combine.items()}


def run(reduction: Reduction, *frames: Any) -> Any:
    """Run a reduction on pandas frames, or hand it to the engine of the frames given.

    Parameters
    ----------
    reduction : Reduction
        The metric.
    *frames : pandas or Dask DataFrame
        The input tables, in the order ``reduction.reduce`` takes them.

    Returns
    -------
    DataFrame or Series
        What ``reduction.finalize`` returns (always pandas).
    """
    kind = engine_of(*frames)
    if kind != "pandas":
        return engine(kind).run_reduction(reduction, *frames)
    if reduction.prepare is not None:
        frames = (reduction.prepare(*frames, part=0),)
    return reduction.finalize(reduction.reduce(*frames))


# --------------------------------------------------------------------------- combiners


def distinct(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows seen in any part, once each (first occurrence kept, in part order)."""
    parts = _non_empty(parts)
    if len(parts) == 1:
        return parts[0]
    frame = pd.concat(parts, ignore_index=True)
    return frame[first_rows(frame, list(frame.columns))].reset_index(drop=True)


def first_rows(frame: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """Mask of the first row of each distinct value of ``keys`` (missing values equal).

    What ``~frame.duplicated(keys)`` gives, on integer codes: each key column is factorized
    once (text through Arrow's dictionary encoding), so no hash table of Python strings is
    built. On the 1.4 million (userId, day) pairs of a 5 GB export, pandas' ``duplicated``
    peaked 60-100 MB higher, which a 512 MiB Dask worker combining them cannot spare.

    Parameters
    ----------
    frame : DataFrame
    keys : sequence of str
        Columns of ``frame``.

    Returns
    -------
    ndarray of bool
        True on the first row of each distinct combination, in row order.
    """
    if not len(frame):
        return np.ones(0, dtype=bool)
    key = np.zeros(len(frame), dtype=np.int64)
    for name in keys:
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=True)
        # missing values are one more value (code 0); the combined key is factorized again
        # after each column, so it stays below len(frame) * (cardinality + 1)
        key, _ = pd.factorize(key * (len(uniques) + 1) + (codes.astype(np.int64) + 1))
        key = key.astype(np.int64, copy=False)
    mask: np.ndarray = ~pd.Series(key).duplicated(keep="first").to_numpy()
    return mask


def total(parts: list[pd.Series]) -> pd.Series:
    """Sums per index label (counts per day, per name...), sorted by label."""
    parts = _non_empty(parts)
    if len(parts) == 1:
        return parts[0]
    joined = pd.concat(parts)
    return joined.groupby(level=list(range(joined.index.nlevels)), sort=True).sum()


def stacked(parts: list[Any]) -> Any:
    """Parts one after the other (frames get a fresh index; Series keep theirs)."""
    parts = _non_empty(parts)
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, ignore_index=isinstance(parts[0], pd.DataFrame))


def earliest(keys: Sequence[str], by: str) -> Callable[[list[pd.DataFrame]], pd.DataFrame]:
    """A combiner keeping, per ``keys``, the row with the smallest ``by`` (ties: first seen).

    ``reduce`` makes the piece with :func:`earliest_rows`, so both engines apply the same
    rule.
    """
    key_list = list(keys)

    def merge(parts: list[pd.DataFrame]) -> pd.DataFrame:
        parts = _non_empty(parts)
        frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        return earliest_rows(frame, key_list, by)

    return merge


def earliest_rows(frame: pd.DataFrame, keys: Sequence[str], by: str) -> pd.DataFrame:
    """Per ``keys``, the row with the smallest ``by`` (missing ``by`` last; ties by row order).

    Parameters
    ----------
    frame : DataFrame
        Rows holding ``keys`` and ``by``.
    keys : sequence of str
        Columns identifying a group.
    by : str
        Column ordering the rows of a group.

    Returns
    -------
    DataFrame
        One row per group, sorted by ``by``, with a fresh index.
    """
    ordered = frame.sort_values(by, kind="stable", na_position="last")
    return ordered[first_rows(ordered, list(keys))].reset_index(drop=True)


def bounds(parts: list[tuple[Any, Any] | None]) -> tuple[Any, Any] | None:
    """Smallest first and largest second item of the parts (``None`` parts are empty)."""
    found = [p for p in parts if p is not None]
    if not found:
        return None
    return min(p[0] for p in found), max(p[1] for p in found)


def value_bounds(values: pd.Series) -> tuple[Any, Any] | None:
    """The piece :func:`bounds` combines: (min, max) of the non-missing values, or None."""
    present = values.dropna()
    if present.empty:
        return None
    return present.min(), present.max()


def added(parts: list[np.ndarray]) -> np.ndarray:
    """Element-wise sum of equally shaped arrays."""
    out = np.array(parts[0], copy=True)
    for part in parts[1:]:
        out += part
    return out


def _non_empty(parts: list[Any]) -> list[Any]:
    # Empty partitions give empty pieces whose index dtypes may differ (object against
    # datetime): leave them out so concatenation keeps the real dtypes.
    found = [p for p in parts if len(p)]
    return found or parts[:1]
