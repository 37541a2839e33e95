"""The Dask engine on a distributed cluster, and reading the export's S3 copy (moto's server).

A ``LocalCluster`` of two worker processes (1 GiB each) stands in for a real cluster: the
workers parse the raw files into the Parquet cache, read the tables and compute the metrics
themselves, from a folder they share with the client or straight from S3.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leanplum_notebook import dask_engine as lde
from leanplum_notebook import metrics

from .conftest import S3_BUCKET, S3_SECRET, s3_client, storage_options
from .test_dask_engine import FUNNEL, assert_tables_equal

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=None,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.timeout(120)
def test_local_cluster_parses_and_computes_in_bounded_time(
    client: Any, sim_export: Any, pandas_tables: Any, tmp_path: Path
) -> None:
    # A folder of raw files without a cache: the workers write it, then read it.
    for part in sim_export.export.parts:
        for path in part.files:
            shutil.copy(path, tmp_path / path.name)
    began = time.monotonic()
    tables = lde.load_dask(tmp_path)
    caches = sorted((tmp_path / "parquet").glob("*/meta.json"))
    assert len(caches) == len(sim_export.export.parts)
    dau = lde.active_users(tables.sessions)
    retention = lde.retention(tables.sessions)
    steps = lde.funnel(tables.events, tables.sessions, FUNNEL)
    elapsed = time.monotonic() - began
    assert elapsed < 60, f"took {elapsed:.1f} s"
    # the folder holds the whole jobs; the export's parts hold the same sessions
    ps = pandas_tables.sessions
    pd.testing.assert_frame_equal(dau, metrics.active_users(ps))
    pd.testing.assert_frame_equal(retention, metrics.retention(ps))
    pd.testing.assert_frame_equal(steps, metrics.funnel(pandas_tables.events, ps, FUNNEL))
    pe, px = pandas_tables.events, pandas_tables.experiments
    pd.testing.assert_frame_equal(
        lde.experiment_results(tables.experiments, tables.sessions, tables.events),
        metrics.experiment_results(px, ps, pe),
    )
    pd.testing.assert_frame_equal(
        lde.top_events(tables.events, sessions=tables.sessions),
        metrics.top_events(pe, sessions=ps),
    )
    # the work ran on both workers, not in the test process
    tasks = client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
    assert len(tasks) == 2 and all(n > 0 for n in tasks.values())


@pytest.fixture(scope="module")
def s3_export(sim_export: Any, moto_s3: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A fetch whose files the simulator also copied (gzipped) to a bucket in moto."""
    from leanplum_notebook.export import fetch

    s3_client(moto_s3).create_bucket(Bucket=S3_BUCKET)
    return fetch(
        "20260608",
        "20260612",
        s3_bucket=S3_BUCKET,
        s3_access_id="AKIDTESTING",
        s3_access_key=S3_SECRET,
        s3_prefix="leanplum/raw/",
        compress=True,
        **sim_export.fetch_kw(cache_dir=tmp_path_factory.mktemp("s3-cache")),
    )


@pytest.mark.timeout(120)
def test_workers_read_the_export_s3_copy(client: Any, s3_export: Any, moto_s3: str) -> None:
    keys = [o["Key"] for o in s3_client(moto_s3).list_objects_v2(Bucket=S3_BUCKET)["Contents"]]
    assert any(k.endswith(".gz") for k in keys) and any(k.endswith("-manifest") for k in keys)
    expected = s3_export.load(progress=False)
    # raw files are parsed once per table and partition: three tables keep the test short
    tables = lde.load_dask(
        f"s3://{S3_BUCKET}/leanplum/raw/",
        tables=["sessions", "events", "experiments"],
        storage_options=storage_options(moto_s3),
    )
    assert {u.kind for u in tables.units} == {"json"}
    assert all(u.paths[0].startswith("s3://") for u in tables.units)
    assert tables.npartitions == len([k for k in keys if k.endswith(".gz")])
    assert_tables_equal(expected, tables.compute())
    pd.testing.assert_frame_equal(
        lde.revenue(tables.events, tables.sessions),
        metrics.revenue(expected.events, expected.sessions),
    )
    # the secret is in no task's repr the scheduler keeps for the user
    assert S3_SECRET not in repr(tables) and S3_SECRET not in repr(tables.units)


@pytest.mark.timeout(120)
def test_parquet_cache_copied_to_s3(
    client: Any, sim_export: Any, pandas_tables: Any, moto_s3: str
) -> None:
    s3 = s3_client(moto_s3)
    for part in sim_export.export.parts:
        folder = Path(part.entry_dir) / "parquet"
        for path in folder.iterdir():
            if path.is_file():
                s3.upload_file(str(path), S3_BUCKET, f"cache/{part.job_id}/parquet/{path.name}")
    tables = lde.load_dask(f"s3://{S3_BUCKET}/cache", storage_options=storage_options(moto_s3))
    assert {u.kind for u in tables.units} == {"parquet"}
    # meta.json carries no day list: every session of the two jobs is read, and the jobs
    # hold exactly the fetched days
    got = tables.compute()
    days_of_parts = {d for p in sim_export.export.parts for d in p.days}
    on_days = (
        got["sessions"]["start"].dt.tz_convert("America/Los_Angeles").dt.date.isin(days_of_parts)
    )
    assert on_days.all()
    assert len(got["sessions"]) == len(pandas_tables.sessions)
    assert_tables_equal(pandas_tables, got)
