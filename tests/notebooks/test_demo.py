"""``leanplum-notebook demo`` from a clean environment: simulator -> report, in one command."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


def test_demo_command_writes_the_report_and_prints_headline_numbers(
    tmp_path: Path, no_credentials_env: Any
) -> None:
    out = tmp_path / "demo-out"
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "leanplum_notebook.cli",
            "demo",
            "--out",
            str(out),
            "--days",
            "7",
            "--no-progress",
        ],
        env=no_credentials_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out / "report.html"
    assert f"Report:         {report.resolve()}" in proc.stdout
    assert (out / "overview.png").stat().st_size > 20_000
    html = report.read_text(encoding="utf-8")
    assert "bundled simulator (synthetic data)" in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 12
    sessions = int(re.search(r"sessions\s+([\d,]+)", proc.stdout).group(1).replace(",", ""))
    assert sessions > 2000
    assert re.search(r"exports spent\s+1\b", proc.stdout)
    # the report's footer says it spent 0: the demo says so too, and why (issue 16)
    assert re.search(r"by the report\s+0\s+\(it read the days the fetch had just cached\)", proc.stdout)
    assert "exports spent for this report: 0" in html
    assert re.search(r"day-1 retention\s+\d+\.\d%", proc.stdout)
    print(f"demo --days 7 took {elapsed:.1f} s")
    assert elapsed < 120
