"""connect(): the real API when credentials are set, else the bundled simulator (over HTTP)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from leanplum_notebook.connect import Connection, connect, recent_days
from leanplum_notebook.errors import ConfigError
from leanplum_notebook.settings import Settings


def test_no_credentials_starts_one_simulator_per_process(tmp_path: Path) -> None:
    conn = connect(environ={}, dotenv=None)
    assert conn.simulated
    assert conn.settings.api_url.startswith("http://127.0.0.1:")
    assert conn.settings.cache_dir.is_dir()
    assert conn.settings.export_key not in repr(conn) and "simulator" in repr(conn)
    again = connect(environ={}, dotenv=None)
    assert again.settings == conn.settings  # same simulator, same temporary cache
    other = connect(environ={}, dotenv=None, seed=1)
    assert other.settings.app_id != conn.settings.app_id
    assert other.settings.cache_dir != conn.settings.cache_dir
    mine = connect(environ={}, dotenv=None, cache_dir=tmp_path)
    assert mine.settings.cache_dir == tmp_path and mine.settings.api_url == conn.settings.api_url

    # It is a real API: an export of one recent day over HTTP, then the same day from the cache.
    start, _ = conn.recent_days(1, lag=3)
    assert conn.plan(start).exports_needed == 1
    export = conn.fetch(start, progress=False)
    assert export.exports_spent == 1 and len(export.files) >= 1
    assert conn.fetch(start, progress=False).exports_spent == 0
    assert conn.quota().used == 1


def test_credentials_from_environment_mean_the_real_api(tmp_path: Path) -> None:
    env = {
        "LEANPLUM_APP_ID": "app_x",
        "LEANPLUM_EXPORT_KEY": "exp_secret_value_123",
        "LEANPLUM_CACHE_DIR": str(tmp_path),
    }
    conn = connect(environ=env, dotenv=None)
    assert not conn.simulated
    assert conn.settings == Settings("app_x", "exp_secret_value_123", cache_dir=tmp_path)
    assert conn.settings.api_url == "https://api.leanplum.com/api"
    assert "exp_secret_value_123" not in repr(conn) + str(conn)
    # ... unless the simulator is asked for explicitly.
    assert connect(environ=env, dotenv=None, simulate=True).simulated
    # a .env file counts as the environment
    dotenv = tmp_path / ".env"
    dotenv.write_text("LEANPLUM_APP_ID=app_y\nLEANPLUM_EXPORT_KEY=exp_z_123456\n")
    assert connect(environ={}, dotenv=str(dotenv)).settings.app_id == "app_y"


@pytest.mark.parametrize(
    "env",
    [
        {"LEANPLUM_APP_ID": "app_x"},
        {"LEANPLUM_EXPORT_KEY": "exp_secret_value_123"},
        {"LEANPLUM_API_URL": "http://127.0.0.1:1/api"},
    ],
)
def test_partial_credentials_are_an_error_not_the_simulator(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="missing Leanplum") as info:
        connect(environ=env, dotenv=None)
    assert "exp_secret_value_123" not in str(info.value)


def test_simulate_false_requires_credentials() -> None:
    with pytest.raises(ConfigError):
        connect(environ={}, dotenv=None, simulate=False)
    with pytest.raises(ConfigError):
        connect(app_id="app_only", environ={}, dotenv=None)


def test_recent_days_are_pacific_days() -> None:
    # 2026-06-15T05:00Z is still June 14 in California (PDT, UTC-7).
    clock = datetime(2026, 6, 15, 5, 0, tzinfo=timezone.utc).timestamp
    assert recent_days(28, clock=clock) == ("20260516", "20260612")
    assert recent_days(1, lag=0, clock=clock) == ("20260614", "20260614")
    conn = Connection(Settings("app_x", "k"), clock=clock)
    assert conn.recent_days(7) == ("20260606", "20260612")
    with pytest.raises(ValueError):
        recent_days(0)


def test_importing_starts_nothing() -> None:
    code = (
        "import threading, leanplum_notebook.connect, leanplum_notebook.widgets, "
        "leanplum_notebook.ui.report, leanplum_notebook.ui.demo; "
        "assert threading.active_count() == 1, threading.enumerate(); "
        "import leanplum_notebook.sources.connect as c; assert c._SIMULATORS == {}"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
