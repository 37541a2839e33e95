"""The ``export``, ``quota`` and ``cache`` subcommands (wired by :mod:`leanplum_notebook.cli`).

The export key is never an option (it would show in the process list and shell history):
it comes from ``LEANPLUM_EXPORT_KEY`` or a ``.env`` file, and is never printed.
"""

from __future__ import annotations

import argparse
from datetime import date

from leanplum_notebook.errors import LeanplumError
from leanplum_notebook.ui.console import say, warn

__all__ = [
    "add_cache_arguments",
    "add_export_arguments",
    "add_quota_arguments",
    "run_cache",
    "run_export",
    "run_quota",
]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--app-id", help="Leanplum app id (default: LEANPLUM_APP_ID or .env)")
    p.add_argument("--cache-dir", help="cache folder (default: LEANPLUM_CACHE_DIR or platform)")


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``leanplum-notebook export``."""
    p.add_argument("start", help="first Pacific day, YYYYmmdd")
    p.add_argument("end", nargs="?", help="last Pacific day, YYYYmmdd (default: start)")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--start-time", type=int, help="availability window start, Unix seconds")
    p.add_argument("--end-time", type=int, help="availability window end, Unix seconds")
    p.add_argument("--refresh", action="store_true", help="re-export provisional cached days")
    p.add_argument("--api-url", help="API endpoint (default: LEANPLUM_API_URL or Leanplum's)")
    p.add_argument(
        "--method",
        choices=("post", "get"),
        help="HTTP method of API calls (default: LEANPLUM_API_METHOD or post)",
    )
    _common(p)
    p.add_argument("--timeout", type=float, default=1800.0, help="overall deadline, seconds")
    p.add_argument("--dry-run", action="store_true", help="show the plan; export nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_export(args: argparse.Namespace) -> int:
    """Run ``leanplum-notebook export``: prints the plan, then the files' folder per part."""
    from leanplum_notebook.sources.export import fetch, plan

    try:
        if args.dry_run:
            p = plan(
                args.start,
                args.end,
                format=args.format,
                start_time=args.start_time,
                end_time=args.end_time,
                refresh=args.refresh,
                app_id=args.app_id,
                cache_dir=args.cache_dir,
            )
            say(str(p))
            for d in p.days:
                say(f"{d.day:%Y%m%d}  {d.status}")
            return 0
        result = fetch(
            args.start,
            args.end,
            format=args.format,
            start_time=args.start_time,
            end_time=args.end_time,
            refresh=args.refresh,
            app_id=args.app_id,
            api_url=args.api_url,
            method=args.method,
            cache_dir=args.cache_dir,
            progress=not args.no_progress,
            timeout=args.timeout,
        )
    except LeanplumError as exc:
        warn(f"error: {exc}")
        return 1
    say(str(result.plan))
    say(f"exports spent: {result.exports_spent}")
    for part in result.parts:
        days = f"{part.days[0]:%Y%m%d}..{part.days[-1]:%Y%m%d}"
        say(f"{days}  {len(part.files)} file(s)  {part.num_sessions} sessions  {part.entry_dir}")
    prov = [f"{d:%Y%m%d}" for d in result.provisional_days]
    if prov:
        say(f"provisional (may still gain late sessions): {', '.join(prov)}")
    return 0


def add_quota_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``leanplum-notebook quota``."""
    _common(p)


def run_quota(args: argparse.Namespace) -> int:
    """Run ``leanplum-notebook quota``: exports used and left today (this machine's ledger)."""
    from leanplum_notebook.store.quota import quota

    try:
        status = quota(args.app_id, cache_dir=args.cache_dir)
    except LeanplumError as exc:
        warn(f"error: {exc}")
        return 1
    say(str(status))
    return 0


def add_cache_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``leanplum-notebook cache list|clear``."""
    sub = p.add_subparsers(dest="cache_action", required=True)
    ls = sub.add_parser("list", help="list cached days")
    ls.add_argument("--app", help="only this app id")
    ls.add_argument("--cache-dir", help="cache folder")
    clear = sub.add_parser("clear", help="remove cached days (the quota ledger is kept)")
    clear.add_argument("--app", help="only this app id")
    clear.add_argument("--before", help="only days before this Pacific day, YYYYmmdd")
    clear.add_argument("--cache-dir", help="cache folder")


def run_cache(args: argparse.Namespace) -> int:
    """Run ``leanplum-notebook cache list|clear``."""
    from leanplum_notebook.dates import parse_day
    from leanplum_notebook.settings import resolve_cache_dir
    from leanplum_notebook.store.cache import clear_cache, list_cache

    try:
        root = resolve_cache_dir(args.cache_dir)
        if args.cache_action == "list":
            rows = list_cache(root, app_id=args.app)
            if not rows:
                say(f"no cached days in {root}")
                return 0
            say(f"{'app':<24} {'format':<6} {'window':<12} {'day':<8} {'status':<11} size")
            for r in rows:
                say(
                    f"{r.app_id[:24]:<24} {r.format:<6} {r.window:<12} {r.day:%Y%m%d} "
                    f"{r.status:<11} {r.bytes / 1e6:.1f} MB"
                )
            return 0
        before: date | None = parse_day(args.before, "--before") if args.before else None
        n = clear_cache(root, app_id=args.app, before=before)
        say(f"removed {n} cached day(s) from {root}")
        return 0
    except LeanplumError as exc:
        warn(f"error: {exc}")
        return 1
