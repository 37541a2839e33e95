"""Pipeline test helpers: fetch() pointed at a running simulator with the clocks aligned."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class Harness:
    """A simulator plus the keyword arguments that point ``fetch`` at it.

    ``clock`` is the simulator's clock (so "today", the 8-day and 60-day windows and the
    quota day agree on both sides); ``sleep`` sleeps a little for real (the simulator's jobs
    run on real time) and moves the simulator's frozen clock by the full amount, so
    deadlines expire quickly.
    """

    def __init__(self, sim: Any, cache_dir: Path) -> None:
        self.sim = sim
        self.cache_dir = cache_dir
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        time.sleep(min(seconds, 0.03))
        self.sim.clock.advance(seconds)

    def kw(self, **over: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "app_id": self.sim.app_id,
            "export_key": self.sim.export_key,
            "api_url": self.sim.api_url,
            "cache_dir": self.cache_dir,
            "clock": self.sim.clock.now,
            "sleep": self.sleep,
            "progress": False,
        }
        out.update(over)
        return out

    @property
    def exports(self) -> int:
        return int(self.sim.stats.calls["exportData"])


@pytest.fixture
def harness(make_simulator: Callable[..., Any], tmp_path: Path) -> Callable[..., Harness]:
    """``harness(**simulator_kwargs)`` -> a Harness over a fresh simulator."""

    def make(**kwargs: Any) -> Harness:
        return Harness(make_simulator(**kwargs), tmp_path / "cache")

    return make
