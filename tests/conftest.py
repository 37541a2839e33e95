"""Shared fixtures: a small simulator on 127.0.0.1, and moto's S3 server.

``simulator``: a function-scoped :class:`~leanplum_notebook.simulator.Simulator` with small data
(a few hundred sessions a day), small files (``max_file_bytes`` = 64 KiB, so exports have several
files), quick jobs, and a frozen clock at ``SIM_NOW`` (2026-06-15T20:00Z, 13:00 in Pacific
daylight time). ``moto_s3``: the endpoint URL of a session-scoped ``ThreadedMotoServer``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI stays reproducible);
# HYPOTHESIS_PROFILE=explore draws new ones each run, to look for more.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: the simulator fixture's frozen "now"
SIM_NOW = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)
#: the simulator fixture's file split size
SIM_MAX_FILE_BYTES = 64 * 1024


def small_data(seed: int = 0, **overrides: Any) -> Any:
    """A DataConfig small enough for fast tests (a few hundred sessions a day)."""
    from leanplum_notebook.simulator import DataConfig

    settings: dict[str, Any] = {
        "seed": seed,
        "initial_users": 300,
        "new_users_per_day": 10.0,
        "history_days": 70,
    }
    settings.update(overrides)
    return DataConfig(**settings)


@pytest.fixture
def simulator() -> Iterator[Any]:
    """A running Simulator with small data and a frozen clock at ``SIM_NOW``."""
    from leanplum_notebook.simulator import SimClock, Simulator

    with Simulator(
        seed=0,
        clock=SimClock(SIM_NOW, frozen=True),
        data=small_data(0),
        max_file_bytes=SIM_MAX_FILE_BYTES,
        pending_seconds=0.05,
        running_seconds=0.15,
    ) as sim:
        yield sim


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """Endpoint URL of moto's real S3 server on 127.0.0.1 (any credentials are accepted)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def make_simulator() -> Iterator[Any]:
    """A factory: ``make_simulator(**kwargs)`` starts a Simulator (defaults as ``simulator``,
    any keyword overrides them) and closes it at the end of the test."""
    from leanplum_notebook.simulator import SimClock, Simulator

    started: list[Any] = []

    def make(**kwargs: Any) -> Any:
        settings: dict[str, Any] = {
            "seed": 0,
            "data": small_data(kwargs.get("seed", 0)),
            "max_file_bytes": SIM_MAX_FILE_BYTES,
            "pending_seconds": 0.05,
            "running_seconds": 0.15,
        }
        settings.update(kwargs)
        if "clock" not in settings:
            settings["clock"] = SimClock(SIM_NOW, frozen=True)
        sim = Simulator(**settings).start()
        started.append(sim)
        return sim

    try:
        yield make
    finally:
        for sim in started:
            sim.close()
