"""The documented path of the Dask engine, kept for notebooks.

``load_dask``, ``DaskTables`` and ``events_with_sessions`` come from
:mod:`leanplum_notebook.dask.engine`; the metric functions are those of
:mod:`leanplum_notebook.metrics`, which take pandas and Dask tables alike.
"""

from leanplum_notebook.analysis.metrics import (
    active_users,
    breakdown,
    engagement,
    event_counts,
    experiment_results,
    funnel,
    message_stats,
    new_users,
    retention,
    revenue,
    session_lengths,
    sessions_per_user,
    top_events,
)
from leanplum_notebook.dask.engine import DaskTables, events_with_sessions, is_dask, load_dask

__all__ = [
    "DaskTables",
    "active_users",
    "breakdown",
    "engagement",
    "event_counts",
    "events_with_sessions",
    "experiment_results",
    "funnel",
    "is_dask",
    "load_dask",
    "message_stats",
    "new_users",
    "retention",
    "revenue",
    "session_lengths",
    "sessions_per_user",
    "top_events",
]
