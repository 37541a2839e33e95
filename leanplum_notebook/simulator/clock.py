"""The simulator's injectable notion of "now" (spec 7.15).

Tests move this clock to cross the 24 h file expiry, the 60-day window and Pacific midnight
without waiting. Job durations are *not* measured with it: they use real monotonic time, so a
frozen clock never stalls a job.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

__all__ = ["SimClock", "to_timestamp"]


def to_timestamp(t: float | datetime) -> float:
    """Unix seconds for a float or a datetime (a naive datetime is taken as UTC)."""
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return t.timestamp()
    return float(t)


class SimClock:
    """A clock that is real time plus an offset, or frozen at an instant.

    Parameters
    ----------
    start : float or datetime, optional
        The instant "now" starts at (Unix seconds, or a datetime; naive means UTC). ``None``
        means the real current time.
    frozen : bool
        If true, time stands still until :meth:`advance` or :meth:`set` moves it; otherwise it
        runs with the real clock from ``start``.
    """

    def __init__(self, start: float | datetime | None = None, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen = frozen
        real = time.time()
        begin = real if start is None else to_timestamp(start)
        # frozen: _value is "now"; running: _offset is added to the real time.
        self._value = begin
        self._offset = begin - real

    @property
    def frozen(self) -> bool:
        """Whether time stands still between explicit moves."""
        return self._frozen

    def now(self) -> float:
        """Current simulated time, Unix seconds UTC."""
        with self._lock:
            if self._frozen:
                return self._value
            return time.time() + self._offset

    def now_datetime(self) -> datetime:
        """Current simulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value) by ``seconds``."""
        with self._lock:
            self._value += seconds
            self._offset += seconds

    def set(self, t: float | datetime) -> None:
        """Jump to the instant ``t`` (keeps running from there unless frozen)."""
        target = to_timestamp(t)
        with self._lock:
            self._value = target
            self._offset = target - time.time()

    def __repr__(self) -> str:
        state = "frozen" if self._frozen else "running"
        return f"SimClock({self.now_datetime().isoformat()}, {state})"
