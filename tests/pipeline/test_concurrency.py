"""Two processes fetching the same days at once spend one export and both get complete data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

CHILD = """
import json, sys, time
from leanplum_notebook.export import fetch
api, app, cache, now, go = sys.argv[1:]
while time.time() < float(go):
    time.sleep(0.002)
e = fetch("20260601", "20260604", app_id=app, api_url=api, cache_dir=cache,
          clock=lambda: float(now), progress=False, timeout=60)
print(json.dumps({"spent": e.exports_spent, "files": [str(p) for p in e.files],
                  "bytes": sum(p.stat().st_size for p in e.files),
                  "sessions": sum(p.num_sessions or 0 for p in e.parts)}))
"""


@pytest.mark.slow
def test_two_processes_spend_one_export(simulator: Any, tmp_path: Path) -> None:
    env = {**os.environ, "LEANPLUM_EXPORT_KEY": simulator.export_key}
    go = time.time() + 1.5  # both start together, after the interpreters are up
    args = [
        sys.executable,
        "-c",
        CHILD,
        simulator.api_url,
        simulator.app_id,
        str(tmp_path / "cache"),
        str(simulator.clock.now()),
        str(go),
    ]
    procs = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert simulator.stats.calls["exportData"] == 1
    assert sorted(r["spent"] for r in results) == [0, 1]
    a, b = results
    assert a["files"] == b["files"] and a["bytes"] == b["bytes"] > 0
    assert a["sessions"] == b["sessions"] > 0
    lines = sum(1 for f in a["files"] for line in Path(f).read_bytes().splitlines() if line.strip())
    assert lines == a["sessions"]
