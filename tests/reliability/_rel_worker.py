"""Worker of the concurrency test: importable by name, so multiprocessing's spawn can run it.

(The test puts this folder on ``sys.path``; spawned children inherit the path.)
"""

from __future__ import annotations

import time
from typing import Any

from leanplum_notebook.export import fetch


def fetch_and_load(job: dict[str, Any]) -> dict[str, Any]:
    """Wait for the common start time, fetch a range, load it; a picklable summary."""
    now = float(job["now"])
    while time.time() < job["go"]:
        time.sleep(0.002)
    got = fetch(
        job["start"],
        job["end"],
        app_id=job["app_id"],
        export_key=job["export_key"],
        api_url=job["api_url"],
        cache_dir=job["cache_dir"],
        clock=lambda: now,
        progress=False,
        timeout=120.0,
    )
    tables = got.load(progress=False)
    return {
        "name": job["name"],
        "spent": got.exports_spent,
        "days": [d.isoformat() for d in got.days],
        "files": [str(p) for p in got.files],
        "session_ids": sorted(int(s) for s in tables.sessions["sessionId"]),
        "events": len(tables.events),
        "mismatches": len(tables.report.mismatches),
    }
