"""A simulated app whose automated export feed goes to a local folder or moto's S3 server.

``feed_world(kind, **config)`` starts a simulator (the small data of the other suites, the
clock frozen at SIM_NOW) and a FeedWriter of its app, a job every 4 hours from 12 days
before SIM_NOW, so that the last job starts at SIM_NOW exactly and the feed holds every
session the API would export at that moment.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

PACIFIC = ZoneInfo("America/Los_Angeles")
S3_ID = "AKIAFEEDTEST00000001"
S3_SECRET = "feed/Secret+Key=abcdefghijklmnop0123456789"


@dataclass
class World:
    sim: Any
    writer: Any
    url: str
    storage_options: dict[str, Any]
    cache: Path
    now: float

    def feed(self, **kw: Any) -> Any:
        from leanplum_notebook.sources.feed import Feed

        args = {"cache_dir": self.cache, "storage_options": self.storage_options}
        return Feed(self.url, **{**args, **kw})

    def day(self, days_before: int) -> str:
        return (
            datetime.fromtimestamp(self.now, PACIFIC).date() - timedelta(days=days_before)
        ).strftime("%Y%m%d")

    def days(self, first_before: int, last_before: int) -> list[str]:
        """The Pacific days from ``first_before`` to ``last_before`` days before now."""
        return [self.day(n) for n in range(first_before, last_before - 1, -1)]

    def api_tables(self, first: str, last: str, **kw: Any) -> Any:
        """The API export of the same days, at the same moment, through fetch()."""
        from leanplum_notebook import fetch

        sim = self.sim

        def sleep(seconds: float) -> None:  # the jobs run on real time; the clock stays
            time.sleep(min(seconds, 0.05))

        export = fetch(
            first,
            last,
            app_id=sim.app_id,
            export_key=sim.export_key,
            api_url=sim.api_url,
            cache_dir=self.cache / "api",
            clock=sim.clock.now,
            sleep=sleep,
            progress=False,
            **kw,
        )
        return export.load(progress=False)


@pytest.fixture
def feed_world(
    make_simulator: Callable[..., Any], moto_s3: str, tmp_path: Path
) -> Iterator[Callable[..., World]]:
    from leanplum_notebook.simulator.feed import FeedConfig, FeedWriter, LocalBucket, S3Bucket

    def make(kind: str = "local", **config: Any) -> World:
        sim = make_simulator(pending_seconds=0.02, running_seconds=0.05)
        now = sim.clock.now()
        if kind == "s3":
            bucket_name = f"feed-{uuid.uuid4().hex[:12]}"
            bucket: Any = S3Bucket(
                bucket_name, endpoint_url=moto_s3, access_id=S3_ID, access_key=S3_SECRET
            ).create()
            url = f"s3://{bucket_name}/leanplum/"
            options = {
                "key": S3_ID,
                "secret": S3_SECRET,
                "client_kwargs": {"endpoint_url": moto_s3},
            }
        else:
            root = tmp_path / "bucket"
            bucket = LocalBucket(root)
            url, options = str(root / "leanplum"), {}
        writer = FeedWriter(
            sim.generators[sim.app_id],
            bucket,
            "leanplum/",
            start=now - 12 * 86400,
            config=FeedConfig(**config),
        )
        return World(sim, writer, url, options, tmp_path / "cache", now)

    yield make
