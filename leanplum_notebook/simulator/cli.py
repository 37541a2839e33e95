"""``leanplum-notebook simulator``: serve the bundled export API until Ctrl-C.

Printing is allowed here (a CLI module). It prints the simulator's own *fake* export key on
purpose, so the user can paste it into a client or a curl line; it is no real credential.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import timedelta

from .api import is_loopback_url, pacific_day
from .generator import DataConfig
from .server import Simulator

__all__ = ["add_arguments", "run"]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8765


def _say(text: str) -> None:
    # The CLI's output is its job; flush so a reader on a pipe sees it before serving starts.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulator`` subcommand's options to ``parser``."""
    defaults = DataConfig()
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free one)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of ids, keys and data")
    parser.add_argument(
        "--days", type=int, default=defaults.history_days, help="days of history ending today"
    )
    parser.add_argument(
        "--users",
        type=int,
        default=defaults.initial_users,
        help="users who exist when history starts",
    )
    parser.add_argument(
        "--new-users-per-day",
        type=float,
        default=defaults.new_users_per_day,
        help="new users on the first day (grows over time)",
    )
    parser.add_argument("--apps", type=int, default=1, help="number of apps to serve")
    parser.add_argument(
        "--max-file-mb", type=float, default=256.0, help="split export files at this size (MB)"
    )
    parser.add_argument(
        "--pending-seconds", type=float, default=0.3, help="seconds a job stays PENDING"
    )
    parser.add_argument(
        "--running-seconds", type=float, default=0.7, help="minimum seconds a job stays RUNNING"
    )
    parser.add_argument(
        "--s3-endpoint-url", default=None, help="S3-compatible endpoint for s3BucketName copies"
    )
    parser.add_argument(
        "--allow-remote-callbacks",
        action="store_true",
        help="let callbackUrl reach non-loopback hosts",
    )


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Start the simulator, print how to use it, and serve until Ctrl-C (or ``stop`` is set)."""
    for name in ("days", "users", "apps"):
        if getattr(args, name) < 1:
            _say(f"error: --{name} must be at least 1")
            return 2
    if args.max_file_mb <= 0:
        _say("error: --max-file-mb must be positive")
        return 2
    data = DataConfig(
        seed=args.seed,
        initial_users=args.users,
        new_users_per_day=args.new_users_per_day,
        history_days=args.days,
    )
    sim = Simulator(
        seed=args.seed,
        n_apps=args.apps,
        host=args.host,
        port=args.port,
        data=data,
        max_file_bytes=int(args.max_file_mb * 2**20),
        pending_seconds=args.pending_seconds,
        running_seconds=args.running_seconds,
        s3_endpoint_url=args.s3_endpoint_url,
        allow_remote_callbacks=args.allow_remote_callbacks,
    )
    try:
        sim.start()
    except OSError as exc:
        _say(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return 1
    try:
        day = (pacific_day(sim.clock.now()) - timedelta(days=1)).strftime("%Y%m%d")
        _say(f"Leanplum export API simulator at {sim.api_url}")
        for app in sim.apps:
            _say(f"  appId:     {app.app_id}")
            _say(f"  clientKey: {app.export_key}   (the simulator's own fake export key)")
        _say("Export yesterday (Pacific) with:")
        _say(
            f'  curl -s "{sim.api_url}?appId={sim.app_id}&clientKey={sim.export_key}'
            f'&apiVersion=1.0.6&action=exportData&startDate={day}"'
        )
        if not is_loopback_url(sim.api_url):
            _say(f"warning: listening on {args.host}, reachable from other machines")
        _say("Press Ctrl-C to stop.")
        waiter = stop or threading.Event()
        previous = None
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (e.g. from a process manager) stops cleanly, deleting the temp files.
            previous = signal.signal(signal.SIGTERM, lambda *_: waiter.set())
        try:
            while not waiter.wait(0.5):
                pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    except KeyboardInterrupt:
        _say("\nstopped")
    finally:
        sim.close()
    return 0
