"""The six tables by name and as attributes, for every object that holds them.

``Tables`` (pandas), ``DaskTables`` (Dask) and ``Export`` (loads on first use) share these
accessors; each says how a table is found (``_get``). No import of pandas or Dask here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from leanplum_notebook import schema

FrameT = TypeVar("FrameT")


class TableAttributes(Generic[FrameT]):
    """The six tables as attributes; subclasses implement ``_get(name)``."""

    def _get(self, name: str) -> FrameT:
        raise NotImplementedError

    @property
    def sessions(self) -> FrameT:
        """One row per session (key ``sessionId``)."""
        return self._get("sessions")

    @property
    def states(self) -> FrameT:
        """One row per named state (key ``sessionId, stateId``)."""
        return self._get("states")

    @property
    def events(self) -> FrameT:
        """One row per event (key ``sessionId, stateId, eventId``)."""
        return self._get("events")

    @property
    def event_parameters(self) -> FrameT:
        """One row per event parameter: ``eventId, name, value`` (value as text)."""
        return self._get("event_parameters")

    @property
    def user_attributes(self) -> FrameT:
        """One row per session and user attribute: ``sessionId, name, value`` (text)."""
        return self._get("user_attributes")

    @property
    def experiments(self) -> FrameT:
        """One row per session and experiment: ``experimentId, sessionId, variantId``."""
        return self._get("experiments")


class TableSet(TableAttributes[FrameT]):
    """The loaded tables by name (``tables["events"]``, ``"events" in tables``, ``keys()``)."""

    #: The call to name in the error for a table that was not loaded.
    _loader = "load()"

    def __init__(self, frames: dict[str, FrameT]) -> None:
        self._frames = frames

    def _get(self, name: str) -> FrameT:
        try:
            return self._frames[name]
        except KeyError:
            if name in schema.TABLES:
                raise LookupError(
                    f"table {name!r} was not loaded; pass tables=[..., {name!r}] to {self._loader}"
                ) from None
            raise KeyError(
                f"unknown table {name!r}; expected one of {list(schema.TABLES)}"
            ) from None

    def __getitem__(self, name: str) -> FrameT:
        return self._get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._frames

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def keys(self) -> list[str]:
        """Names of the loaded tables."""
        return list(self._frames)
