"""Fixtures of the Dask suite: one simulator export fetched over HTTP, shared by the module.

``dask_export`` runs the bundled simulator on 127.0.0.1 (small data, files of 256 KiB so a
part has several files, its S3 copy pointed at moto's server), fetches three weeks of
Pacific days in two calls (so the cache holds two parts with disjoint days) with the
pipeline's ``fetch``, and returns the ``Export``. The pandas tables of the same export are
``dask_export.load(progress=False)``; both engines read the same Parquet cache.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

SIM_NOW = datetime(2026, 6, 15, 20, 0, tzinfo=timezone.utc)
S3_BUCKET = "dask-export"
S3_KEY = "testing-key-id"
S3_SECRET = "testing-secret-never-logged"


@dataclass
class SimExport:
    """A simulator and what was fetched from it."""

    sim: Any
    cache_dir: Path
    export: Any

    def fetch_kw(self, **over: Any) -> dict[str, Any]:
        def sleep(seconds: float) -> None:
            time.sleep(min(seconds, 0.03))
            self.sim.clock.advance(seconds)

        kw: dict[str, Any] = {
            "app_id": self.sim.app_id,
            "export_key": self.sim.export_key,
            "api_url": self.sim.api_url,
            "cache_dir": self.cache_dir,
            "clock": self.sim.clock.now,
            "sleep": sleep,
            "progress": False,
        }
        kw.update(over)
        return kw


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )


def storage_options(endpoint: str) -> dict[str, Any]:
    """s3fs options for moto's server."""
    return {"key": S3_KEY, "secret": S3_SECRET, "client_kwargs": {"endpoint_url": endpoint}}


@pytest.fixture(scope="module")
def sim_export(tmp_path_factory: pytest.TempPathFactory, moto_s3: str) -> Iterator[SimExport]:
    from leanplum_notebook.export import fetch
    from leanplum_notebook.simulator import DataConfig, SimClock, Simulator

    data = DataConfig(seed=7, initial_users=300, new_users_per_day=12.0, history_days=45)
    with Simulator(
        seed=7,
        clock=SimClock(SIM_NOW, frozen=True),
        data=data,
        max_file_bytes=256 * 1024,
        pending_seconds=0.05,
        running_seconds=0.1,
        s3_endpoint_url=moto_s3,
    ) as sim:
        holder = SimExport(sim, tmp_path_factory.mktemp("dask-cache"), None)
        fetch("20260520", "20260601", **holder.fetch_kw())
        holder.export = fetch("20260520", "20260612", **holder.fetch_kw())
        yield holder


@pytest.fixture(scope="module")
def pandas_tables(sim_export: SimExport) -> Any:
    """The pandas loader's tables of the export (writes the Parquet cache)."""
    return sim_export.export.load(progress=False)
