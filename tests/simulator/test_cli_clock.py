"""The ``leanplum-notebook simulator`` command (as a subprocess) and the SimClock."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
import requests

from leanplum_notebook.simulator import SimClock


def test_cli_prints_url_app_id_and_key_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "leanplum_notebook.cli", "simulator", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        text = "".join(lines)
        url = re.search(r"(http://127\.0\.0\.1:\d+/api)", lines[0])
        app_id = re.search(r"appId:\s+(app_[A-Za-z0-9_-]{43})\b", text)
        key = re.search(r"clientKey:\s+(exp_\S+)", text)
        assert url and app_id and key, text
        assert "curl" in text and key.group(1) in text
        args = {
            "appId": app_id.group(1),
            "clientKey": key.group(1),
            "apiVersion": "1.0.6",
            "action": "getExportResults",
            "jobId": "export_1_1",
        }
        response = requests.get(url.group(1), params=args, timeout=10)
        assert response.status_code == 404  # authenticated, job unknown
        args["clientKey"] = "exp_wrong"
        assert requests.get(url.group(1), params=args, timeout=10).status_code == 403
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0


def test_cli_refuses_bad_numbers() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "leanplum_notebook.cli", "simulator", "--days", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "--days" in out.stdout


def test_frozen_clock_moves_only_when_told() -> None:
    start = datetime(2026, 6, 15, 20, tzinfo=timezone.utc)
    clock = SimClock(start, frozen=True)
    assert clock.frozen
    assert clock.now() == start.timestamp()
    time.sleep(0.01)
    assert clock.now() == start.timestamp()
    clock.advance(90)
    assert clock.now() == start.timestamp() + 90
    clock.set(1_000_000.0)
    assert clock.now() == 1_000_000.0
    assert clock.now_datetime() == datetime.fromtimestamp(1_000_000, timezone.utc)
    naive = SimClock(datetime(2026, 1, 1), frozen=True)
    assert naive.now() == datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()


def test_running_clock_keeps_its_offset() -> None:
    clock = SimClock(1_000_000.0)
    first = clock.now()
    assert first == pytest.approx(1_000_000.0, abs=1)
    time.sleep(0.05)
    assert clock.now() > first
    clock.advance(3600)
    assert clock.now() == pytest.approx(1_003_600.05, abs=1)
    real = SimClock()
    assert real.now() == pytest.approx(time.time(), abs=1)


def test_importing_the_simulator_starts_nothing() -> None:
    code = (
        "import sys, threading, leanplum_notebook.simulator, leanplum_notebook.simulator.cli; "
        "print(threading.active_count(), 'boto3' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False", "False"]
