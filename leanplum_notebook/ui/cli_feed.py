"""The ``feed`` subcommand: ``leanplum-notebook feed sync|status URL``.

Credentials come from the usual places (the AWS chain: environment, profile, instance
role); none is ever an option, and none is printed.
"""

from __future__ import annotations

import argparse

from leanplum_notebook.errors import LeanplumError
from leanplum_notebook.ui.console import say, warn

__all__ = ["add_feed_arguments", "run_feed"]


def add_feed_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``leanplum-notebook feed``."""
    p.add_argument("action", choices=("sync", "status"), help="ingest new jobs, or show")
    p.add_argument("url", help="the feed: s3://bucket/prefix/, gs://..., or a local folder")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--cache-dir", help="cache folder (default: LEANPLUM_CACHE_DIR or platform)")
    p.add_argument("--endpoint-url", help="an S3-compatible endpoint (MinIO, a local S3)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_feed(args: argparse.Namespace) -> int:
    """Run ``leanplum-notebook feed``: prints what the bucket holds and what was synced."""
    from leanplum_notebook.sources.feed import Feed

    options = {"client_kwargs": {"endpoint_url": args.endpoint_url}} if args.endpoint_url else {}
    try:
        feed = Feed(args.url, format=args.format, cache_dir=args.cache_dir, storage_options=options)
        if args.action == "status":
            say(str(feed.scan()))
        else:
            say(str(feed.sync(progress=not args.no_progress)))
    except (LeanplumError, OSError) as exc:
        warn(f"error: {exc}")
        return 1
    return 0
